"""Temporal workflows. Deterministic: no I/O, no clocks, no randomness outside the SDK's own."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bookings.activities import PROBE_ACTIVITY


@workflow.defn(name="WorkerProbe")
class WorkerProbeWorkflow:
    """One activity hop through a live worker: proves the task queue is being served."""

    @workflow.run
    async def run(self, nonce: str) -> str:
        result: str = await workflow.execute_activity(
            PROBE_ACTIVITY, nonce, start_to_close_timeout=timedelta(seconds=10)
        )
        return result
