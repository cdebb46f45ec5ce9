"""Mixed-traffic load test of one `yatri serve` on loopback (locust, bounded): chat sessions,
policy questions, fare searches and bookings in the proportions of `bench/locust_mixed.py`,
at a rising number of simulated travellers, each step for a fixed time. For every step and
journey: requests, failures, p50 / p99 and rate, against the SLO thresholds of `docs/slo.md`
(chat turn and policy answer answered within 2.5 s without a 5xx at 99.5 %; a booking that
ends confirmed or price-changed at 99 %), and the highest step that holds all of them — the
sustainable rate of this machine. The load generator shares the machine's cores with the
server, as the README says of every bench here.

    python bench/load_mixed.py [--users 4 8 16 32] [--step-s 40] [--supplier-latency-ms 120]
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt
from _serve import YatriProcess

from api.content_cli import collect

CORPUS = Path(__file__).parent.parent / "examples" / "policies"
LOCUSTFILE = Path(__file__).parent / "locust_mixed.py"
# journey -> (p99 threshold in ms, largest share of failures), from docs/slo.md
SLO = {
    "chat turn": (2500.0, 0.005),
    "policy answer": (2500.0, 0.005),
    "fare search": (2500.0, 0.005),
    "booking": (30000.0, 0.01),
}


def ingest(base: str, secret: str) -> int:
    claims = {"sub": "load-content", "scope": "content:write", "exp": int(time.time()) + 600}
    headers = {"authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}
    files = [("files", (p.name, p.read_bytes())) for p in collect([CORPUS])]
    with httpx.Client(timeout=300) as client:
        r = client.post(base + "/v1/documents", files=files, headers=headers)
    r.raise_for_status()
    return sum(int(x["chunks"]) for x in r.json()["results"])


def step(
    base: str, users: int, seconds: int, secret: str, out: Path
) -> dict[str, dict[str, float]]:
    prefix = out / f"u{users}"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
         "-r", str(users), "--run-time", f"{seconds}s", "--host", base, "--csv", str(prefix),
         "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10"],
        check=False, env={**os.environ, "YATRI_BENCH_SECRET": secret},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 120,
    )  # fmt: skip
    rows: dict[str, dict[str, float]] = {}
    with (out / f"u{users}_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated" or int(row["Request Count"]) == 0:
                continue
            rows[row["Name"]] = {
                "count": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "p50": float(row["50%"]),
                "p99": float(row["99%"]),
                "rps": float(row["Requests/s"]),
            }
    return rows


def holds(rows: dict[str, dict[str, float]]) -> bool:
    return all(
        name in rows
        and rows[name]["p99"] <= threshold
        and rows[name]["failures"] / rows[name]["count"] <= max_failed
        for name, (threshold, max_failed) in SLO.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--step-s", type=int, default=40)
    parser.add_argument("--supplier-latency-ms", type=float, default=120.0)
    args = parser.parse_args()
    secret = secrets.token_hex(32)
    server = YatriProcess(
        env={
            "YATRI_SECRET_KEY": secret,
            "YATRI_SUPPLIER_LATENCY_MS": str(args.supplier_latency_ms),
            "YATRI_VOICE_ENABLED": "false",
            "YATRI_RATE_LIMIT_ENABLED": "false",
        }
    )
    out = Path(tempfile.mkdtemp(prefix="yatri-load-"))
    results: dict[int, dict[str, dict[str, float]]] = {}
    try:
        server.start()
        chunks = ingest(server.base, secret)
        print(f"policy corpus: {chunks} chunks; sandbox airline {args.supplier_latency_ms:g} ms; "
              f"steps of {args.step_s} s", flush=True)  # fmt: skip
        for users in args.users:
            load = os.getloadavg()[0]
            results[users] = step(server.base, users, args.step_s, secret, out)
            print(f"\n{users} travellers (load {load:.1f} before the step): "
                  f"{'SLOs held' if holds(results[users]) else 'SLOs missed'}")  # fmt: skip
            print(f"  {'journey':<14} {'requests':>8} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'per s':>7}  p99 SLO")  # fmt: skip
            for name, r in sorted(results[users].items()):
                threshold = SLO.get(name, (float("nan"), 0))[0]
                print(f"  {name:<14} {r['count']:>8.0f} {r['failures']:>6.0f} {r['p50']:>8.0f} "
                      f"{r['p99']:>8.0f} {r['rps']:>7.1f}  {threshold:,.0f}")  # fmt: skip
    finally:
        server.stop()
    passing = [u for u in args.users if holds(results.get(u, {}))]
    if passing:
        best = max(passing)
        total = sum(r["rps"] for r in results[best].values())
        mix = ", ".join(f"{n} {r['rps']:.1f}/s" for n, r in sorted(results[best].items()))
        print(f"\nhighest step holding every SLO: {best} travellers, {total:.1f} requests/s "
              f"({mix})")  # fmt: skip
    else:
        print("\nno step held every SLO")


if __name__ == "__main__":
    main()
