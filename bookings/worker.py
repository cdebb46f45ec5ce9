"""The Temporal worker: registers Yatri's workflows and activities on its task queue."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bookings import workflows as workflow_code
from bookings.activities import BookingActivities, WorkerActivities
from bookings.workflows import BOOKING_WORKFLOWS, WorkerProbeWorkflow

if TYPE_CHECKING:
    from bookings.temporal import TemporalClient


def build_worker(
    client: TemporalClient, *, task_queue: str, bookings: BookingActivities | None = None
) -> Worker:
    """A worker for the probe and, given their activities, the booking workflows."""
    activities: list[Callable[..., Any]] = [WorkerActivities().probe]
    workflows: list[type[object]] = [WorkerProbeWorkflow]
    if bookings is not None:
        activities += bookings.all()
        workflows += BOOKING_WORKFLOWS
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        # The sandbox still checks the workflow code's determinism (no clocks, I/O, randomness),
        # but re-imports no module: its per-thread import hook raced imports that other threads
        # of the app (model loading, uvicorn) were making at start-up.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
        graceful_shutdown_timeout=timedelta(seconds=10),
        build_id=build_id(),
    )


@cache
def build_id() -> str:
    """The worker's build id from the workflow code alone. The SDK's default hashes every
    loaded module (about a second at each start); only the workflows decide replay safety."""
    source = inspect.getsource(workflow_code).encode()
    return "yatri-" + hashlib.sha256(source).hexdigest()[:16]
