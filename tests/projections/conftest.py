"""Projection fixtures: a runner over all registered projections on the parametrised store, and
a store per module and database for histories that every test of a module only reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commands.application import ComplaintsApp
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from projections.registry import build
from projections.runner import Runner
from tests.conftest import store_of_its_own, store_settings


def with_report_tz(settings: Settings) -> Settings:
    return settings.model_copy(update={"report_tz": "Asia/Shanghai"})


@pytest.fixture
def report_settings(settings: Settings) -> Settings:
    return with_report_tz(settings)


@pytest.fixture
def runner(app: ComplaintsApp, report_settings: Settings) -> Runner:
    return Runner(app, build(report_tz=report_settings.report_tz), page_size=1000)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_services(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """A store bootstrapped once for the module's tests on each database, as ``services``
    bootstraps one per test: for a generated history that takes longer to write than the
    tests take to read it."""
    where = tmp_path_factory.mktemp("module-store")
    with store_of_its_own(request, where) as url, bootstrap(store_settings(url, where)) as built:
        yield built


@pytest.fixture(scope="module")
def module_report_settings(module_services: Services) -> Settings:
    return with_report_tz(module_services.settings)
