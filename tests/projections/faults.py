"""Faults injected into projections by tests: a process killed mid-way, events a handler refuses.

A killed process is a ``BaseException`` here: code cannot catch its own death, so the runner must
not treat it as an event's fault (it quarantines nothing and leaves the transaction undone).
"""

from __future__ import annotations


class Killed(BaseException):
    """Stands for the process dying (SIGKILL, power loss) at the point where it is raised."""
