"""The Temporal worker: registers Yatri's workflows and activities on its task queue."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.worker import Worker

from bookings.activities import WorkerActivities
from bookings.workflows import WorkerProbeWorkflow

if TYPE_CHECKING:
    from bookings.temporal import TemporalClient


def build_worker(client: TemporalClient, *, task_queue: str) -> Worker:
    activities = WorkerActivities()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[WorkerProbeWorkflow],
        activities=[activities.probe],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
