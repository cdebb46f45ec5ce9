"""Background work beside a server's requests: tasks started together, and on the way out told
to stop, cancelled and awaited, so none outlives the clients it uses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def background(
    jobs: Iterable[tuple[str, Coroutine[Any, Any, Any]]], *, stop: asyncio.Event
) -> AsyncIterator[None]:
    """Run each (name, coroutine) as a task for the block; on the way out set ``stop``, cancel
    what is still running and wait for all of it (a job's own failure is not re-raised)."""
    tasks = [asyncio.create_task(job, name=name) for name, job in jobs]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
