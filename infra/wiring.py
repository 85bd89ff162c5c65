"""The composition root: builds the application service from settings."""

from __future__ import annotations

from commands.application import ComplaintsApp
from infra.persistence import database_from_url
from infra.settings import Settings


def build_app(settings: Settings) -> ComplaintsApp:
    database = database_from_url(settings.database_url, settings)
    return ComplaintsApp(env=database.env, token_cache_seconds=settings.token_cache_seconds)
