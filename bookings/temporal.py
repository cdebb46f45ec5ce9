"""The Temporal adapter: the only module that imports ``temporalio.client``."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError

from bookings.workflows import WorkerProbeWorkflow
from core.errors import DependencyUnavailableError

# Other modules name the client through this alias, so that only this module imports the SDK's
# client package.
TemporalClient = Client


@dataclass(frozen=True, slots=True)
class TemporalHealth:
    server_version: str
    latency_ms: float


async def connect_temporal(address: str, *, namespace: str, timeout_s: float = 20.0) -> Client:
    """Connect, retrying while a just-started dev server finishes booting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError as e:
            if time.monotonic() > deadline:
                raise DependencyUnavailableError(f"Temporal at {address} is unreachable") from e
            await asyncio.sleep(0.2)


async def temporal_health(client: Client) -> TemporalHealth:
    started = time.perf_counter()
    try:
        info = await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=2)
        )
    except RPCError as e:
        raise DependencyUnavailableError("Temporal is not answering") from e
    return TemporalHealth(
        server_version=info.server_version or "unknown",
        latency_ms=(time.perf_counter() - started) * 1000,
    )


async def probe_worker(client: Client, *, task_queue: str, timeout_s: float = 10.0) -> float:
    """Run the probe workflow; the milliseconds a full round trip through a worker took."""
    started = time.perf_counter()
    nonce = uuid.uuid4().hex
    try:
        result = await client.execute_workflow(
            WorkerProbeWorkflow.run,
            nonce,
            id=f"probe-{nonce}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=timeout_s),
        )
    except Exception as e:  # the SDK raises several unrelated types for one failed round trip
        raise DependencyUnavailableError(f"no worker answered on {task_queue}") from e
    if not result.startswith(nonce):
        raise DependencyUnavailableError("the probe came back with someone else's answer")
    return (time.perf_counter() - started) * 1000
