"""Load shedding under overload: real `yatri serve` processes (sample corpus ingested, rate
limits off), one per in-flight cap (`YATRI_MAX_IN_FLIGHT`; 0 = no shedding), are offered more
policy questions (`POST /v1/answers`) than they can answer, as Poisson arrivals from this
separate process on loopback. The servers run side by side and take turns, round after round,
so that the machine's other load falls on each alike. Per cap: latency percentiles of the
answered requests, the share shed (503 with Retry-After), and what was answered within the
request deadline.

    python bench/load_shedding.py [--duration 10] [--rounds 3] [--load 3] [--caps 0 32]

The capacity is measured first (closed loop, `--calibrate-concurrency` clients, 5 s, on the
first cap's server); the offered rate is `--load` times it. Every question is new (a request
number in it), so no cache answers for the model. Bounded: at most rate x duration requests a
round, each with a 30 s client timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from _serve import YatriProcess

CORPUS = Path(__file__).parent.parent / "examples" / "policies"
CONTENT_KEY = "dev-content-key"  # the development default; the bench's server runs on it
CLIENT_TIMEOUT_S = 30.0
DEADLINE_S = 10.0  # YATRI_REQUEST_TIMEOUT_S's default: what a caller waits for at most

QUESTIONS = [
    json.loads(line)["question"]
    for line in (CORPUS / "questions.jsonl").read_text().splitlines()
    if line.strip()
]
CHAT_TEXTS = [
    "flights from Delhi to Mumbai tomorrow", "what is the baggage allowance on IndiGlide",
    "can I cancel my train ticket", "BLR to GOI next friday", "I want a refund",
]  # fmt: skip


@dataclass(slots=True)
class Outcomes:
    ok_ms: list[float] = field(default_factory=list)  # 200s
    shed_ms: list[float] = field(default_factory=list)  # 503s
    all_ms: list[float] = field(default_factory=list)  # every answer or timeout
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, ms: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.all_ms.append(ms)
        if status == "200":
            self.ok_ms.append(ms)
        elif status == "503":
            self.shed_ms.append(ms)

    def merge(self, other: Outcomes) -> None:
        self.ok_ms += other.ok_ms
        self.shed_ms += other.shed_ms
        self.all_ms += other.all_ms
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def request_for(route: str, n: int) -> tuple[str, dict[str, object]]:
    # Each text is new (a request number in it), so no cache answers for the model.
    if route == "chat":
        return "/v1/chat", {"text": f"{CHAT_TEXTS[n % len(CHAT_TEXTS)]} ({n})"}
    return "/v1/answers", {"question": f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"}


async def one(client: aiohttp.ClientSession, base: str, route: str, n: int, out: Outcomes) -> None:
    path, body = request_for(route, n)
    started = time.perf_counter()
    try:
        async with client.post(base + path, json=body) as r:
            await r.read()
            status = str(r.status)
    except TimeoutError:
        status = "timeout"
    except aiohttp.ClientError as e:
        status = type(e).__name__
    out.add(status, (time.perf_counter() - started) * 1000)


async def calibrate(
    base: str, route: str, concurrency: int, *, seconds: float = 5.0, first: int = 0
) -> float:
    """Answers per second the server sustains in a closed loop (request numbers from
    `first`, so that no text repeats one sent before)."""
    out = Outcomes()
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def loop(worker: int) -> None:
            n = first + worker
            while time.perf_counter() < deadline:
                await one(client, base, route, n, out)
                n += concurrency

        await asyncio.gather(*(loop(w) for w in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(out.ok_ms) / elapsed


async def offer(
    base: str, route: str, rate: float, duration: float, *, seed: int, first: int
) -> Outcomes:
    """Poisson arrivals at `rate` per second for `duration` seconds, each sent at its time
    whatever is still in progress (an open loop: the clients do not slow down)."""
    rng = random.Random(seed)
    out = Outcomes()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        at, n = 0.0, first
        while at < duration:
            delay = started + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, base, route, n, out)))
            at += rng.expovariate(rate)
            n += 1
        await asyncio.gather(*tasks)
    return out


def ingest(base: str) -> int:
    """The sample corpus through the document API, a file a request; files ingested."""
    done = 0
    headers = {"authorization": f"Bearer {CONTENT_KEY}"}
    with httpx.Client(timeout=300) as client:
        for path in sorted(CORPUS.iterdir()):
            if not path.is_file() or path.name.startswith(("_", ".")) or path.suffix == ".jsonl":
                continue
            r = client.post(
                base + "/v1/documents", headers=headers,
                files={"files": (path.name, path.read_bytes())},
            )  # fmt: skip
            if r.status_code == 200 and r.json()["results"][0]["outcome"] != "failed":
                done += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=float, default=3.0, help="offered rate / capacity")
    parser.add_argument("--caps", type=int, nargs="+", default=[0, 32])
    parser.add_argument("--route", choices=["answers", "chat"], default="answers")
    parser.add_argument("--calibrate-concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    env = {"YATRI_RATE_LIMIT_ENABLED": "false", "YATRI_VOICE_ENABLED": "false",
           "YATRI_SUPPLIER_LATENCY_MS": "0"}  # fmt: skip
    servers = {cap: YatriProcess(env={**env, "YATRI_MAX_IN_FLIGHT": str(cap)}) for cap in args.caps}
    results = {cap: Outcomes() for cap in args.caps}
    try:
        for server in servers.values():
            server.start(timeout=300)
            if args.route == "answers":
                ingest(server.base)
            asyncio.run(calibrate(server.base, args.route, 4, seconds=2, first=10**6))  # warm
        first = servers[args.caps[0]]
        capacity = asyncio.run(
            calibrate(first.base, args.route, args.calibrate_concurrency, first=2 * 10**6)
        )
        rate = capacity * args.load
        print(f"capacity {capacity:.1f}/s (closed loop, {args.calibrate_concurrency} clients, "
              f"cap {args.caps[0] or 'none'}); offered {rate:.1f}/s, {args.rounds} rounds of "
              f"{args.duration:.0f} s per cap, the caps taking turns")  # fmt: skip
        # The servers run side by side, idle but for the one under load, and take turns, so
        # that a change in the machine's other load falls on every cap alike.
        for r in range(args.rounds):
            for cap, server in servers.items():
                out = asyncio.run(offer(server.base, args.route, rate, args.duration,
                                        seed=args.seed + r, first=(r + 1) * 10**5))  # fmt: skip
                results[cap].merge(out)
    finally:
        for server in servers.values():
            server.stop()
            shutil.rmtree(server.data_dir, ignore_errors=True)
    report(args, results)


def report(args: argparse.Namespace, results: dict[int, Outcomes]) -> None:
    print(f"\nPOST /v1/{args.route}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"{'max in flight':>14}{'sent':>7}{'200':>7}{'shed':>8}{'other':>7}{'p50 ms':>9}"
          f"{'p95 ms':>9}{'p99 ms':>9}{'shed p50':>10}{'in 10 s':>9}{'goodput/s':>11}")  # fmt: skip
    for cap, out in results.items():
        sent = len(out.all_ms)
        shed = out.statuses.get("503", 0)
        other = sent - shed - len(out.ok_ms)
        in_deadline = sum(1 for ms in out.ok_ms if ms <= DEADLINE_S * 1000)
        print(
            f"{cap or 'none':>14}{sent:>7}{len(out.ok_ms):>7}{shed / sent:>8.1%}{other:>7}"
            f"{pct(out.ok_ms, 50):>9.0f}{pct(out.ok_ms, 95):>9.0f}{pct(out.ok_ms, 99):>9.0f}"
            f"{pct(out.shed_ms, 50):>10.0f}{in_deadline / sent:>9.1%}"
            f"{in_deadline / (args.duration * args.rounds):>11.1f}"
        )
        odd = {k: v for k, v in out.statuses.items() if k not in ("200", "503")}
        if odd:
            print(f"{'':>14}other outcomes: {odd}")
    print("p50/p95/p99: answered (200) requests, from sending to the last byte; shed p50: a "
          "503's; in 10 s: answered within the request deadline, of all sent; goodput: those "
          "a second")  # fmt: skip


if __name__ == "__main__":
    main()
