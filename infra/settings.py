"""All configuration, from the environment (prefix ``COMPLAINTS_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as readable text, or one JSON object per line (infra/logs.py).",
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long `serve` waits for requests in flight before cancelling"
        " them (it accepts no new ones meanwhile).",
    )
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
    # ---- operations (issue 14): metrics and probes, docs/operations.md ----
    metrics_enabled: bool = Field(
        default=True,
        description="Count requests, commands, batches and deliveries and answer GET /metrics;"
        " false: nothing is counted and /metrics is 404 (for the metrics on/off benchmark).",
    )
    metrics_multiproc_dir: str | None = Field(
        default=None,
        description="Where `serve --workers N` keeps each process's metric files (emptied at"
        " start); default: a temporary directory removed on exit.",
    )
    metrics_cache_seconds: float = Field(
        default=1.0, ge=0, le=60,
        description="How long the figures read from the database at scrape time (head,"
        " projection lag, webhooks, relay, SLA) are reused.",
    )
    ready_max_lag_events: int = Field(
        default=10000, ge=0,
        description="GET /health/ready answers 503 (`projection-lag`) while any projection is"
        " more events behind the head than this.",
    )
    report_tz: str = Field(
        default="UTC",
        description="IANA time zone in which analytics days are cut, e.g. Asia/Shanghai"
        " (changing it needs `complaints projections rebuild analytics`).",
    )
    analytics_as_of_cache_size: int = Field(
        default=4, ge=1, le=64,
        description="Past analytics views (`/analytics/summary?as_of=`) kept, each a temporary"
        " SQLite file rebuilt from the events up to its position; least recently used dropped.",
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
    projection_batch_interval_seconds: float = Field(
        default=0.05,
        ge=0,
        description="Least time from the start of one tail batch to the start of the next while"
        " events keep arriving (after a quiet spell only the batch delay applies): under load a"
        " batch carries what arrived meanwhile, for less CPU per event and at most this much"
        " more lag.",
    )
    group_commit_enabled: bool = Field(
        default=True,
        description="Write the saves of concurrent commands of one process in one transaction"
        " (each is answered after its transaction commits); false: one transaction per command.",
    )
    group_commit_window_seconds: float = Field(
        default=0.0, ge=0, le=0.05,
        description="How long the writer waits for more commands once none are queued (0: a"
        " batch is what queued while the previous one was being written).",
    )
    group_commit_max_commands: int = Field(
        default=64, ge=1, le=1000, description="Most commands written in one transaction."
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
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0,
        description="Deadline of one delivery attempt, from resolving the host to the last byte"
        " read of the answer.",
    )
    webhook_retry_base_seconds: float = Field(
        default=2.0, description="First retry delay; doubles after each consecutive failure."
    )
    webhook_retry_max_seconds: float = Field(default=600.0, description="Retry delay ceiling.")
    webhook_max_failures: int = Field(
        default=10, description="Consecutive failures after which a subscription is paused."
    )
    webhook_concurrency: int = Field(
        default=64, ge=1, le=10_000,
        description="Deliveries in flight at once in one worker (async: a slow receiver costs a"
        " socket, not a thread).",
    )
    webhooks_in_serve: bool = Field(
        default=True, description="`complaints serve` also runs the webhook delivery worker."
    )
    sla_watcher_in_serve: bool = Field(
        default=True,
        description="`complaints serve` also runs the SLA deadline watcher (one works per store;"
        " others stand by).",
    )
    sla_watcher_max_sleep_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="Longest the SLA deadline watcher sleeps between looks at the `sla` view (it"
        " wakes earlier for the next due or at-risk instant, and when the view advances in its"
        " process).",
    )
    automation: bool = Field(
        default=True,
        description="Run the automation rules (docs/automation.md) on every complaint save;"
        " off: no rule acts (the rules can still be read, changed and dry-run).",
    )
    automation_cache_seconds: float = Field(
        default=1.0, ge=0, le=300,
        description="How long a process reuses the automation rules it read; a change made in"
        " another process is seen within this time (at once in the process that made it).",
    )
    automation_disabled_rules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated automation rule ids this process does not run, whatever the"
        " rule book says (a switch in the configuration, e.g. repeat-customer while importing"
        " old complaints); GET /automation/rules shows them as disabled_by_setting.",
    )
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = Field(default="COMPLAINTS", description="JetStream stream name.")
    nats_subject_prefix: str = Field(
        default="complaints.events", description="Subjects are <prefix>.<event type>."
    )
    nats_personal_data: bool = Field(
        default=False,
        description="The NATS relay publishes events with their personal fields in clear;"
        " masked by default (docs/events.md).",
    )

    # ---- outbound webhooks and secrets at rest (issue 7, hardening) ----
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDR networks webhooks may reach although they are"
        " loopback, private, link-local, etc. (refused by default), e.g."
        " 127.0.0.1/32,10.0.0.0/8.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Base64 AES key (16, 24 or 32 bytes) sealing stored secrets; wins over"
        " secret_key_file.",
    )
    secret_key_file: str | None = Field(
        default=None,
        description="Key file, created (0600) on first use when missing; default secret.key"
        " beside the SQLite database, or var/secret.key.",
    )
    previous_secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated base64 keys that were the secret key before a rotation:"
        " still accepted to open what they wrapped or sealed until `complaints keys rotate`"
        " re-wrapped it (docs/personal-data.md).",
    )
    encrypt_personal_data: bool = Field(
        default=True,
        description="Seal personal event fields with per-customer data keys. Off: new events"
        " are stored plain, and erasure reaches them only through the erasure events.",
    )
    data_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long an unwrapped data key is remembered; so also how long an erasure"
        " made by another process can go unseen here.",
    )

    @field_validator("automation_disabled_rules", mode="before")
    @classmethod
    def _rule_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for network in value:
                try:
                    ipaddress.ip_network(str(network), strict=False)
                except ValueError:
                    raise ValueError(f"not a CIDR network: {network!r}") from None
        return value

    # ---- hardening: authentication, streams, request size, first start (issue 7, engineer D) ----
    token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a token check is remembered; so also how long a revocation made by"
        " another process (`complaints tokens revoke`) can go unseen by ordinary requests.",
    )
    stream_max_lifetime_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="An SSE connection is ended after this long; clients reconnect with"
        " Last-Event-ID and authenticate again.",
    )
    stream_max_connections: int = Field(
        default=500, ge=1, description="Open SSE connections per server process; 429 past it."
    )
    stream_max_connections_per_token: int = Field(
        default=5, ge=1, description="Open SSE connections per token and process; 429 past it."
    )
    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest request body, counted as received (also chunked); 413 past it.",
    )
    import_max_bytes: int = Field(
        default=100_000_000,
        ge=1024,
        description="Largest file POST /imports takes (CSV or XLSX), counted as received; 413 "
        "past it. Larger files: `complaints import` on the host.",
    )
    admin_token_file: str | None = Field(
        default=None,
        description="Where the first start writes the admin token (mode 0600) when standard"
        " output is not a terminal; default admin-token beside the SQLite database, or"
        " var/admin-token.",
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

    # ---- tamper evidence (issue 11): docs/audit.md ----
    audit_key: SecretStr | None = Field(
        default=None,
        description="Base64 key (16+ bytes) signing audit checkpoints (HMAC-SHA256); default: a"
        " key derived from the secret key.",
    )
    audit_checkpoint_seconds: float = Field(
        default=3600.0, ge=0,
        description="`complaints serve` records a signed checkpoint of the hash chain this often"
        " (skipped while nothing new is stored); 0: never (`complaints audit checkpoint` still"
        " does).",
    )

    # ---- routing (issue 12): docs/routing.md ----
    routing: bool = Field(
        default=True,
        description="Route new complaints (and reopened ones whose owner is gone) by the routing"
        " rules; false: owners are assigned by hand only.",
    )
    directory_cache_seconds: float = Field(
        default=5.0, ge=0, le=300,
        description="How long routing reuses the directory and routing rules it read; so how long"
        " a change made by another process can go unseen by routing.",
    )
    # ---- the closed loop with the customer (issue 12): docs/closed-loop.md ----
    track_max_failures: int = Field(
        default=5, ge=1,
        description="Wrong access codes (or unknown references) allowed per reference and per"
        " client address within `track_failure_window_seconds`; past it, 429 with Retry-After"
        " (per API process).",
    )
    track_failure_window_seconds: float = Field(
        default=900.0, gt=0, description="The window the tracking page counts failures in."
    )
    survey_valid_days: int = Field(
        default=30, ge=1, le=365,
        description="How long the satisfaction survey a close issues may be answered.",
    )
    # ---- repeat complaints (issue 12): docs/customers.md ----
    repeat_complaints_enabled: bool = Field(
        default=True,
        description="A new complaint is linked to the open or recently closed complaints of the"
        " same customer or order (rule repeat-complaints@v1).",
    )
    repeat_complaints_window_days: int = Field(
        default=30, ge=0, le=3650,
        description="How recently closed a complaint still gets a repeat linked to it, in days.",
    )
    repeat_complaints_max_links: int = Field(
        default=10, ge=1, le=100,
        description="At most this many links per new complaint (the newest earlier complaints).",
    )
