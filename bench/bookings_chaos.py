"""Chaos: bookings through a real `yatri serve` whose workflows run in a separate `yatri worker`
process, with the sandbox suppliers failing a share of all calls at random (transient errors,
answers lost after the operation happened, timeouts) and the worker SIGKILLed at random
moments and restarted. Counted at the end from the suppliers' own ledger and the booking
records: bookings lost (no final status), double-charged (more than one capture, or a charge
without a ticket), and orphaned holds (held, never ticketed or released).

    python bench/bookings_chaos.py [--bookings 200] [--failure-rate 0.2] [--kills 2] [--seed 7]

The seed fixes when the worker is killed; the faults themselves fall as the calls interleave.

Loopback only; bounded: it stops after --deadline-s even if bookings are still running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bookings import new_key, offers, order, traveller_headers  # noqa: E402
from _serve import YatriProcess  # noqa: E402

from api.booking_backends import SANDBOX_DB  # noqa: E402
from bookings.suppliers.sandbox import SandboxLedger  # noqa: E402
from bookings.suppliers.sandbox_ledger import OPS  # noqa: E402
from core.embedded import read_runtime  # noqa: E402

TERMINAL = {"confirmed", "failed", "price_changed"}


def start_worker(server: YatriProcess, address: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YATRI_")}
    env |= {"YATRI_TEMPORAL_ADDRESS": address, "YATRI_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "api", "worker", "--data-dir", str(server.data_dir)],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--failure-rate", type=float, default=0.2)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--deadline-s", type=float, default=420.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"$ python bench/bookings_chaos.py --bookings {args.bookings} "
          f"--failure-rate {args.failure_rate} --kills {args.kills} --seed {args.seed} "
          f"--clients {args.clients} --deadline-s {args.deadline_s:g}")  # fmt: skip
    rng = random.Random(args.seed)
    server = YatriProcess(env={"YATRI_VOICE_ENABLED": "false", "YATRI_RUN_WORKER": "false",
                               "YATRI_BOOKING_WAIT_S": "0.2"})  # fmt: skip
    server.start(timeout=180)
    address = str((read_runtime(server.data_dir) or {})["temporal_address"])
    worker_log = server.data_dir.parent / f"{server.data_dir.name}-worker.log"
    worker = start_worker(server, address, worker_log)
    ledger = await SandboxLedger.open(server.data_dir / SANDBOX_DB)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            pool = await offers(client, count=args.bookings)
            for op in OPS:
                await ledger.set_fault(op, error_rate=args.failure_rate)
            sem = asyncio.Semaphore(args.clients)
            ids: dict[str, str] = {}
            answers: dict[int, int] = {}  # POST /v1/bookings answers by HTTP status
            errors: dict[str, int] = {}  # 5xx answers by problem detail

            async def submit(i: int) -> None:
                traveller = f"chaos-{i % 25}"
                key = new_key()  # an HTTP-level retry reuses it
                async with sem:
                    for _ in range(5):
                        response = await client.post("/v1/bookings", json=order(pool[i]),
                                                     headers=traveller_headers(traveller, key=key))  # fmt: skip
                        answers[response.status_code] = answers.get(response.status_code, 0) + 1
                        if response.status_code >= 500:
                            detail = str(response.json().get("detail", ""))[:80]
                            errors[detail] = errors.get(detail, 0) + 1
                        if response.status_code in (201, 202):
                            ids[response.json()["booking_id"]] = traveller
                            return
                        await asyncio.sleep(0.2)

            kill_at = sorted(rng.uniform(3, 25) for _ in range(args.kills))
            submitting = asyncio.gather(*(submit(i) for i in range(args.bookings)))
            kills = 0
            for at in kill_at:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                kills += 1
                print(
                    f"worker killed at {time.monotonic() - started:.1f} s; restarting", flush=True
                )
                worker = start_worker(server, address, worker_log)
            await submitting
            print(f"{len(ids)} bookings accepted; waiting for final statuses", flush=True)
            statuses: dict[str, str] = {}
            while time.monotonic() - started < args.deadline_s:
                for booking_id, traveller in ids.items():
                    if statuses.get(booking_id) in TERMINAL:
                        continue
                    got = await client.get(f"/v1/bookings/{booking_id}",
                                           headers=traveller_headers(traveller))  # fmt: skip
                    statuses[booking_id] = got.json()["status"]
                if all(s in TERMINAL for s in statuses.values()):
                    break
                await asyncio.sleep(1.0)
        await ledger.clear_faults()
        totals = await ledger.totals()
        lost = [b for b in ids if statuses.get(b) not in TERMINAL] + [
            str(i) for i in range(args.bookings - len(ids))
        ]
        double = {b: n for b, n in totals.captures_by_booking.items() if n > 1}
        charged_unconfirmed = []
        for booking_id in ids:
            summary = await ledger.summary(booking_id)
            if statuses.get(booking_id) != "confirmed" and summary.net_charged_paise:
                charged_unconfirmed.append(booking_id)
            if statuses.get(booking_id) == "confirmed" and (
                summary.captures != 1 or summary.tickets_issued != 1
            ):
                charged_unconfirmed.append(booking_id)
        orphaned = [h for h in totals.open_holds if h.key.split(":")[0] in ids]
        by_status: dict[str, int] = {}
        for status in statuses.values():
            by_status[status] = by_status.get(status, 0) + 1
    finally:
        await ledger.close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        server.stop()
    print(f"\nworker kills: {kills}; supplier failure rate {args.failure_rate:.0%} on every call")
    print(f"final statuses: {by_status}; took {time.monotonic() - started:.0f} s")
    print(f"POST /v1/bookings answers by status: {dict(sorted(answers.items()))}")
    for detail, n in sorted(errors.items(), key=lambda kv: -kv[1]):
        print(f"  {n} x 5xx: {detail}")
    print("\n| bookings | seed | lost | double-charged or charged without ticket | orphaned holds "
          "| POST 5xx |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(f"| {args.bookings} | {args.seed} | {len(lost)} "
          f"| {len(double) + len(charged_unconfirmed)} | {len(orphaned)} "
          f"| {sum(n for code, n in answers.items() if code >= 500)} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
