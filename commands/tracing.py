"""Where a command's trace span comes from: nowhere by default.

``ComplaintsApp.tracer`` opens one span around each command it runs (deciding and saving). The
default opens none and costs a ``nullcontext``; the composition root hands in an OpenTelemetry
one when tracing is configured (``infra/tracing.py``), so nothing below ``infra/`` imports
OpenTelemetry.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from commands.context import CommandContext


class CommandTracer(Protocol):
    def command_span(
        self, command: object, ctx: CommandContext
    ) -> AbstractContextManager[object]:
        """A span around one command, named for its type, with the context's ids."""


class NoTracing:
    def command_span(
        self, command: object, ctx: CommandContext
    ) -> AbstractContextManager[object]:
        return nullcontext()


NO_TRACING = NoTracing()
