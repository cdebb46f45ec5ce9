"""Temporal activities. A class whose constructor takes the clients its activities use."""

from __future__ import annotations

import os
import socket

from temporalio import activity

PROBE_ACTIVITY = "worker_probe"


class WorkerActivities:
    def __init__(self, *, identity: str | None = None) -> None:
        self._identity = identity or f"yatri@{socket.gethostname()}:{os.getpid()}"

    @activity.defn(name=PROBE_ACTIVITY)
    async def probe(self, nonce: str) -> str:
        """Answer a probe so `yatri doctor` can time a full round trip through a live worker."""
        return f"{nonce}:{self._identity}"
