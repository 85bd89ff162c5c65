"""Projection fixtures: a runner over all registered projections on the parametrised store."""

from __future__ import annotations

import pytest

from commands.application import ComplaintsApp
from infra.settings import Settings
from projections.registry import build
from projections.runner import Runner


@pytest.fixture
def report_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"report_tz": "Asia/Shanghai"})


@pytest.fixture
def runner(app: ComplaintsApp, report_settings: Settings) -> Runner:
    return Runner(app, build(report_tz=report_settings.report_tz), page_size=1000)
