"""The Temporal adapter: the only module that imports ``temporalio.client``."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, Interceptor, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from bookings.models import BookInput, CancelInput, ModifyInput, Outcome
from bookings.workflows import (
    BOOK_WORKFLOW,
    CANCEL_WORKFLOW,
    MODIFY_WORKFLOW,
    WorkerProbeWorkflow,
)
from core import tracing
from core.errors import DependencyUnavailableError

# Other modules name the client through this alias, so that only this module imports the SDK's
# client package.
TemporalClient = Client


@dataclass(frozen=True, slots=True)
class TemporalHealth:
    server_version: str
    latency_ms: float


def _interceptors() -> list[Interceptor]:
    """With tracing on, workflow starts carry the request's trace to the worker, whose workflow
    and activity spans join it (the client's interceptors apply to workers built on it)."""
    if not tracing.enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


async def connect_temporal(address: str, *, namespace: str, timeout_s: float = 20.0) -> Client:
    """Connect, retrying while a just-started dev server finishes booting."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await Client.connect(
                address,
                namespace=namespace,
                data_converter=pydantic_data_converter,
                interceptors=_interceptors(),
            )
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


async def run_trip_workflow(
    client: Client,
    inp: BookInput | ModifyInput | CancelInput,
    *,
    workflow_id: str,
    task_queue: str,
    wait_s: float | None,
) -> Outcome | None:
    """Start the workflow for `inp` under `workflow_id`, or attach to the one already running or
    finished under that id (a retried request never starts a second booking), and wait up to
    `wait_s` for its outcome; None when it is still running (or `wait_s` is None)."""
    workflow = (
        BOOK_WORKFLOW
        if isinstance(inp, BookInput)
        else MODIFY_WORKFLOW
        if isinstance(inp, ModifyInput)
        else CANCEL_WORKFLOW
    )
    try:
        handle = await client.start_workflow(
            workflow,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            result_type=Outcome,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            execution_timeout=timedelta(days=1),
        )
    except WorkflowAlreadyStartedError:
        # It ran to its end before: its outcome is the answer to this retry.
        handle = client.get_workflow_handle(workflow_id, result_type=Outcome)
    except RPCError as e:
        raise DependencyUnavailableError("Temporal refused to start the workflow") from e
    if wait_s is None:
        return None
    try:
        return await asyncio.wait_for(handle.result(), timeout=wait_s)
    except TimeoutError:
        return None
    except WorkflowFailureError as e:
        raise DependencyUnavailableError(f"workflow {workflow_id} failed: {e.cause}") from e
