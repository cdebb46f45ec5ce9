"""What tracing costs a chat turn: two real `yatri serve` processes on loopback, one with
tracing off (the default) and one exporting every span over OTLP/HTTP to a collector stand-in
in this process (it reads and counts each export request, as a collector would receive it),
driven with the same sequential chat sessions (a search, then follow-ups in context), rounds
alternating between them so both see the same machine load.

    python bench/tracing_overhead.py [--rounds 4] [--turns 40] [--aa]

Latency on a shared machine moves by tens of milliseconds between two identical processes
(`--aa` runs both with tracing off to show it), so the API process's own CPU time per turn is
printed beside it: the steadier measure of what tracing costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import psutil
from _serve import YatriProcess
from chat_turn import FOLLOW_UPS, ROUTES, pct

from core.embedded import free_port


class Collector(BaseHTTPRequestHandler):
    exports = 0
    bytes = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        size = int(self.headers.get("content-length", 0))
        self.rfile.read(size)
        type(self).exports += 1
        type(self).bytes += size
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def turns(base: str, count: int, offset: int) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        for n in range(count):
            session_turn = n % (1 + len(FOLLOW_UPS))
            if session_turn == 0:
                origin, destination = ROUTES[(offset + n) % len(ROUTES)]
                text = f"flights from {origin} to {destination} on {1 + n % 27} March"
            else:
                text = FOLLOW_UPS[session_turn - 1]
            session_id = f"trace-bench-{offset}-{n // (1 + len(FOLLOW_UPS))}"
            started = time.perf_counter()
            async with client.post(
                base + "/v1/chat", json={"session_id": session_id, "text": text}
            ) as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument(
        "--aa",
        action="store_true",
        help="both servers with tracing off: the difference two processes show "
        "with no tracing at all (the noise floor of this comparison)",
    )
    args = parser.parse_args()
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The process's background work (hotel sync and churn, route warming) off in both, so its
    # CPU time is the turns' own.
    common = {"YATRI_SUPPLIER_LATENCY_MS": "0", "YATRI_VOICE_ENABLED": "false",
              "YATRI_HOTELS_ENABLED": "false", "YATRI_FARE_WARM_DAYS": "0"}  # fmt: skip
    off = YatriProcess(env=common)
    tracing_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    on = YatriProcess(env=common if args.aa else common | tracing_env)
    results: dict[str, list[float]] = {"off": [], "on": []}
    cpu_s: dict[str, float] = {"off": 0.0, "on": 0.0}
    try:
        for process in (off, on):
            process.start()
        for round_no in range(args.rounds):
            order = [("off", off), ("on", on)]
            for name, process in order if round_no % 2 == 0 else reversed(order):
                # The server's own CPU time for the round (its engines are other processes):
                # far steadier than latency on a shared machine, and what tracing adds to it.
                assert process.process is not None
                api = psutil.Process(process.process.pid)
                before = sum(api.cpu_times()[:2])
                results[name] += asyncio.run(turns(process.base, args.turns, round_no * 7))
                cpu_s[name] += sum(api.cpu_times()[:2]) - before
        time.sleep(1.0)  # the last batch of spans
    finally:
        for process in (off, on):
            process.stop()
        server.shutdown()
    print(f"chat turns, sequential, {args.rounds} rounds x {args.turns} turns each; "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, values in results.items():
        print(f"tracing {name:<3}: p50 {statistics.median(values):6.1f} ms  p95 "
              f"{pct(values, 95):6.1f} ms  mean {statistics.fmean(values):6.1f} ms  ({len(values)} turns)")  # fmt: skip
    for name in results:
        print(
            f"tracing {name:<3}: server CPU {cpu_s[name] * 1000 / len(results[name]):5.2f} ms "
            "per turn (user + system, the API process alone)"
        )
    delta = statistics.median(results["on"]) - statistics.median(results["off"])
    print(f"median cost of tracing a turn: {delta:+.1f} ms; the collector received "
          f"{Collector.exports} exports, {Collector.bytes / 1024:.0f} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
