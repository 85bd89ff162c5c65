"""All configuration, from the environment (prefix ``COMPLAINTS_``) or a ``.env`` file."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
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
    create_tables: bool = Field(
        default=True,
        description="Create missing tables on start. `serve --workers N` creates them once and"
        " sets this to false for its worker processes.",
    )
    workers: int = Field(
        default=1,
        description="HTTP worker processes of `serve`. More than 1 only with PostgreSQL: SQLite"
        " serialises writers anyway.",
    )
    report_tz: str = Field(
        default="UTC",
        description="IANA time zone in which analytics days are cut, e.g. Asia/Shanghai"
        " (changing it needs `complaints projections rebuild analytics`).",
    )
    projection_page_size: int = Field(
        default=1000, ge=1, le=100_000,
        description="Positions (events) read and applied per transaction while tailing.",
    )
    projection_bulk_page_size: int = Field(
        default=50_000, ge=1, le=200_000,
        description="Positions per read and transaction while a projection is more than a page"
        " behind (rebuilds, catch-up after downtime); about 0.45 GiB peak at 50,000.",
    )
    projection_poll_seconds: float = Field(
        default=0.1, gt=0, description="How often projections poll SQLite for new events."
    )
    projection_batch_delay_seconds: float = Field(
        default=0.02,
        ge=0,
        description="Pause after a wake-up before reading, so that under load one batch carries"
        " many events: less CPU per event for at most this much more lag.",
    )
    read_wait_seconds: float = Field(
        default=5.0, ge=0, description="How long a query with ?min_position=N waits for it."
    )

    @field_validator("report_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    # ---- the public event stream (issue 4) ----
    events_source: str = Field(
        default="urn:complaint-ledger:complaints",
        description="CloudEvents `source` attribute stamped on every public event.",
    )
    events_max_page: int = Field(default=1000, description="Largest `limit` of GET /events.")
    stream_page_size: int = Field(
        default=200, description="Events an SSE connection reads per query (bounds its memory)."
    )
    stream_heartbeat_seconds: float = Field(
        default=15.0, description="Idle SSE connections get a comment line this often."
    )
    stream_poll_seconds: float = Field(
        default=0.05,
        description="How often new events are looked for without LISTEN/NOTIFY (SQLite), and the"
        " safety-net re-check interval on PostgreSQL.",
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="Per delivery attempt.")
    webhook_retry_base_seconds: float = Field(
        default=2.0, description="First retry delay; doubles after each consecutive failure."
    )
    webhook_retry_max_seconds: float = Field(default=600.0, description="Retry delay ceiling.")
    webhook_max_failures: int = Field(
        default=10, description="Consecutive failures after which a subscription is paused."
    )
    webhook_concurrency: int = Field(
        default=4, description="Subscriptions delivered to at the same time by one worker."
    )
    webhooks_in_serve: bool = Field(
        default=True, description="`complaints serve` also runs the webhook delivery worker."
    )
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = Field(default="COMPLAINTS", description="JetStream stream name.")
    nats_subject_prefix: str = Field(
        default="complaints.events", description="Subjects are <prefix>.<event type>."
    )

    # ---- hardening: the read side (issue 7, items 1 and 6) ----
    read_wait_max_waiters: int = Field(
        default=200, ge=1,
        description="Requests per API process that may wait on ?min_position=N at once; past it,"
        " 429 with Retry-After.",
    )
    projection_retry_max_seconds: float = Field(
        default=60.0, gt=0,
        description="Longest pause before a projection retries a batch that failed for a reason"
        " other than its events (connection lost, lock timeout); the pause starts at 1 s and"
        " doubles.",
    )


def load_settings() -> Settings:
    return Settings()
