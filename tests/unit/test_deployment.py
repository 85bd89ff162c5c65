"""The deployment files run what they say: containers cannot run on the build machine, so these
check that every command compose.yaml and the Dockerfile give our image exists in the CLI with
the options it passes, and that every variable they and docs/deployment.md set is a real
setting."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from api.cli import cli
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
OUR_SERVICES = {
    name: service for name, service in COMPOSE["services"].items() if "build" in service
}
SETTINGS = {f"COMPLAINTS_{name.upper()}" for name in Settings.model_fields}
VARIABLE = re.compile(r"\bCOMPLAINTS_[A-Z0-9_]*[A-Z0-9]\b")


def resolves(args: list[str]) -> bool:
    """Whether the CLI knows the command ``args`` name and accepts its options: the CLI is
    asked for that command's help with them (parsing fails first on an unknown command or
    option)."""
    answer = CliRunner().invoke(cli, [*args, "--help"])
    return answer.exit_code == 0 and "Usage:" in answer.output


def dockerfile_instruction(name: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(lines) == 1, f"one {name} in the Dockerfile"
    value: list[str] = json.loads(lines[0][len(name) + 1:])
    return value


def test_the_compose_file_runs_our_image_as_api_and_every_worker() -> None:
    commands = {tuple(s["command"][:2]) for s in OUR_SERVICES.values()}
    assert {("serve", "--no-projections"), ("projections", "run"), ("webhooks", "run"),
            ("relay", "nats"), ("sla", "run"), ("migrate",)} <= commands
    assert {"postgres", "nats"} <= COMPOSE["services"].keys()


@pytest.mark.parametrize("service", sorted(OUR_SERVICES))
def test_each_service_command_exists_in_the_cli(service: str) -> None:
    assert resolves(OUR_SERVICES[service]["command"])


def test_a_command_that_does_not_exist_is_caught() -> None:
    assert resolves(["projections", "run"])
    assert not resolves(["projections", "sprint"])
    assert not resolves(["serve", "--no-such-option"])


def test_the_dockerfile_entrypoint_is_the_cli_and_its_default_command_exists() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert dockerfile_instruction("ENTRYPOINT") == ["complaints"]
    assert scripts["project"]["scripts"]["complaints"] == "api.cli:main"
    assert resolves(dockerfile_instruction("CMD"))


def environment_names(service: dict[str, Any]) -> set[str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    used = set(VARIABLE.findall(dockerfile)) | set(VARIABLE.findall(docs))
    for service in OUR_SERVICES.values():
        used |= {n for n in environment_names(service) if n.startswith("COMPLAINTS_")}
    assert used and used <= SETTINGS, sorted(used - SETTINGS)
