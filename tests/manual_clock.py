"""An injectable clock for SLA tests: the application's ``clock`` reads it, the test moves it."""

from __future__ import annotations

from datetime import datetime, timedelta

from commands.application import ComplaintsApp


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    @classmethod
    def installed(cls, app: ComplaintsApp, now: datetime) -> Clock:
        """A clock at ``now`` that ``app`` reads from now on."""
        app.clock = clock = cls(now)
        return clock
