"""All configuration, from the environment (prefix ``COMPLAINTS_``) or a ``.env`` file."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/complaints.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///relative/or/absolute/path.db or postgresql://user:pass@host:port/db"
        " (optional ?schema=NAME).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = Field(default=10, description="PostgreSQL connections kept open.")
    pool_max_overflow: int = Field(default=10, description="Extra PostgreSQL connections.")
    lock_timeout_seconds: int = Field(
        default=5, description="How long a writer waits for the event table lock."
    )
    log_level: str = "info"
    workers_threads: int = Field(
        default=40, description="Worker threads serving blocking requests in `serve`."
    )


def load_settings() -> Settings:
    return Settings()
