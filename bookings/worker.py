"""The Temporal worker: registers Yatri's workflows and activities on its task queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.worker import Worker

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
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
