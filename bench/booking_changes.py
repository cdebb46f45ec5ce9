"""What quoting first costs a change or a cancellation, through a real `yatri serve`
(Temporal workflows, SQLite record, sandbox suppliers, fare cache), against the peer measured
in the same run: the same change sent in one call with the exact amount (`expected_*_paise`),
as a client that already knows the fee would. Both paths check the amount before money moves;
the quote adds one round trip that prices the change and keeps the quote in Redis.

    python bench/booking_changes.py [--bookings 40]

Each booking is changed once (modify to the next day) and then cancelled. Loopback only;
bounded request counts.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bookings import new_key, offers, order, pct, traveller_headers  # noqa: E402
from _serve import YatriProcess  # noqa: E402

TRAVELLER = "bench-changes"


async def timed(call: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await call
    return (time.perf_counter() - started) * 1000, response


async def change(client: httpx.AsyncClient, booking: dict[str, Any], *, quoted: bool) -> dict[str, float]:  # fmt: skip
    """Modify then cancel one booking; the milliseconds of each step."""
    path = f"/v1/bookings/{booking['booking_id']}"
    headers = traveller_headers(TRAVELLER)
    new_date = (dt.date.fromisoformat(booking["flight"]["date"]) + dt.timedelta(days=1)).isoformat()
    out: dict[str, float] = {}
    quote_ms, quote = await timed(client.post(path + "/modify/quote", json={"new_date": new_date},
                                              headers=headers))  # fmt: skip
    quote.raise_for_status()
    if quoted:
        out["modify quote"] = quote_ms
        body: dict[str, Any] = {"quote_id": quote.json()["quote_id"]}
    else:  # the peer knows the amount already: one call, no quote in its timing
        body = {"new_date": new_date, "expected_change_paise": quote.json()["amount_due_paise"]}
    out["modify"], moved = await timed(client.post(path + "/modify", json=body,
                                                   headers=headers | {"idempotency-key": new_key()}))  # fmt: skip
    if moved.json().get("status") != "confirmed":
        raise RuntimeError(f"modify did not confirm: {moved.text[:300]}")
    quote_ms, quote = await timed(client.post(path + "/cancel/quote", headers=headers))
    quote.raise_for_status()
    if quoted:
        out["cancel quote"] = quote_ms
        body = {"quote_id": quote.json()["quote_id"]}
    else:
        body = {"expected_refund_paise": quote.json()["refund_paise"]}
    out["cancel"], cancelled = await timed(client.post(path + "/cancel", json=body,
                                                       headers=headers | {"idempotency-key": new_key()}))  # fmt: skip
    if cancelled.json().get("status") != "cancelled":
        raise RuntimeError(f"cancel did not complete: {cancelled.text[:300]}")
    if quoted:
        out["modify, quote + change"] = out["modify quote"] + out["modify"]
        out["cancel, quote + cancel"] = out["cancel quote"] + out["cancel"]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=40)
    args = parser.parse_args()
    print(f"$ python bench/booking_changes.py --bookings {args.bookings}")
    server = YatriProcess(env={"YATRI_VOICE_ENABLED": "false"})
    server.start(timeout=180)
    results: dict[str, dict[str, list[float]]] = {"quoted": {}, "peer": {}}
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            pool = await offers(client, count=args.bookings)
            for i, offer in enumerate(pool):
                made = await client.post("/v1/bookings", json=order(offer),
                                         headers=traveller_headers(TRAVELLER, key=new_key()))  # fmt: skip
                booking = made.json()
                if booking.get("status") != "confirmed":
                    continue
                # Alternate the two paths so both see the same load and the same fares.
                quoted = i % 2 == 0
                for step, ms in (await change(client, booking, quoted=quoted)).items():
                    results["quoted" if quoted else "peer"].setdefault(step, []).append(ms)
    finally:
        server.stop()
    print("\n| path | step | n | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for path, steps in results.items():
        name = "quote first" if path == "quoted" else "peer: exact amount, one call"
        for step, values in steps.items():
            print(f"| {name} | {step} | {len(values)} | {pct(values, 50):.0f} | "
                  f"{pct(values, 99):.0f} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
