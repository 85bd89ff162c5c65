"""Blocking calls (store reads) from ``async def`` routes.

FastAPI runs a ``def`` route in Starlette's thread pool (``run_in_threadpool``: anyio's capacity
limiter, a cancel scope and its context per call). On a hot read that hop cost more than the read
itself; asyncio's own executor hands the call to a thread for about 10-20% less CPU per request
(``bench/request_cpu.py``, docs/performance-reads.md). The event loop never blocks on the store.
Its threads are few (``min(32, cores + 4)``), which bounds the reads in flight per process below
the connection pool's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: call(*args, **kwargs))
