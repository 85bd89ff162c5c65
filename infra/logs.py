"""How every process logs: one configuration for uvicorn's loggers and ours, text or JSON lines.

``COMPLAINTS_LOG_FORMAT=json`` writes one JSON object per line (for a log shipper), ``text`` (the
default) one readable line. Both add what the current HTTP request is (``RequestFields``, set by
``api/request_log.py``): request id, correlation id, principal (token id and name, never the
token), route template, status and duration, so every line a request causes can be joined up.

What never reaches a log: query strings (uvicorn's own access log, which prints them, is off; ours
names the route template), bodies, header values other than the two ids, and tokens. Log calls
elsewhere name ids and counts, not customers' data; tests/api/test_logs.py checks it on a full
scenario.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

# Loggers that get their own handlers from uvicorn's default configuration; here they propagate
# to the root instead, so one handler formats every line.
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
# httpx logs every request at INFO with its full URL: a webhook target's query string may hold
# the receiver's own credentials. Its warnings still come through.
_QUIETER = ("httpx", "httpcore")


@dataclass
class RequestFields:
    """What a log line says about the request it was written during. Mutable: the route, the
    principal and the status become known as the request goes on."""

    request_id: str
    correlation_id: str
    method: str
    route: str | None = None
    principal: str | None = None
    token_id: str | None = None
    status: int | None = None
    duration_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


current_request: ContextVar[RequestFields | None] = ContextVar("current_request", default=None)


class JsonLines(logging.Formatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, the
    request's fields, and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None) or current_request.get()
        if request is not None:
            line.update(request.as_dict())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextLines(logging.Formatter):
    """``time level logger: message [request fields]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request = getattr(record, "request", None) or current_request.get()
        if request is None:
            return text
        fields = " ".join(f"{k}={v}" for k, v in request.as_dict().items())
        first, newline, rest = text.partition("\n")
        return f"{first} [{fields}]{newline}{rest}"


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure_logging`` installs, told apart from anyone else's. It writes to
    whatever ``sys.stderr`` is when a record comes (as ``logging.lastResort`` does), not to the
    one it was made with, which a test runner may have closed since."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(log_format: LogFormat, level: str) -> None:
    """Sends every logger's records to one handler on standard error, formatted as asked.
    Called once per process (the CLI, and each worker process of ``serve --workers N``); uvicorn
    is then started with ``log_config=None`` so that it keeps this."""
    handler = _OurHandler()
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)  # configured again (tests); others' handlers (pytest's) stay
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for name in _QUIETER:
        logging.getLogger(name).setLevel(logging.WARNING)
