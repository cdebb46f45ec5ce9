"""Readiness and answer latency while the instance works: a real `yatri serve` (loopback), the
sample corpus ingested, then

1. one large document ingested while `/readyz` is polled and policy questions are asked;
2. waves of concurrent policy answers while `/readyz` is polled.

Prints the readiness failures (with the failing checks' details), the answers' latency
percentiles and status codes, and the longest answer.

    python bench/readiness_load.py [--doc-kb 900] [--concurrency 200] [--waves 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from _serve import YatriProcess  # noqa: E402

from api.content_cli import collect  # noqa: E402

CORPUS = Path(__file__).parent.parent / "examples" / "policies"
AUTH = {"authorization": "Bearer dev-content-key"}
OPS = {"authorization": "Bearer dev-ops-key"}  # readiness detail (the development default)
QUESTIONS = [
    "how much baggage can I carry on SkyIndia?",
    "what is the refund if I cancel a bus ticket 12 hours before departure?",
    "can I take my pet on the train?",
    "when do I get my refund for a cancelled hotel?",
    "what is the tatkal booking time?",
    "is there a fee for changing the date of my IndiGlide flight?",
]
WORDS = ("refund", "cancellation", "fare", "baggage", "passenger", "ticket", "booking",
         "airline", "departure", "hours", "charge", "policy", "traveller", "infant", "seat",
         "hotel", "night", "guest", "payment")  # fmt: skip


def big_markdown(kb: int, *, seed: int = 7) -> bytes:
    """A policy-like Markdown document of about ``kb`` KiB: sections of prose paragraphs."""
    rnd = random.Random(seed)
    parts = ["---\ndoc_id: bench-big-policy\nvertical: general\n---\n", "# Big policy\n"]
    size = 0
    section = 0
    while size < kb * 1024:
        if len(parts) % 30 == 0:
            section += 1
            parts.append(f"## Section {section}\n")
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 60))) + "."
        parts.append(text + "\n")
        size += len(text) + 2
    return "\n".join(parts).encode()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Poller:
    """Polls /readyz until stopped; keeps each failure's failing checks."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.polls = 0
        self.failures: list[tuple[float, dict[str, str]]] = []
        self.slowest_s = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        started = time.perf_counter()
        while not self._stop.is_set():
            t = time.perf_counter()
            try:
                r = await self.client.get("/readyz", headers=OPS, timeout=10)
                status, body = r.status_code, r.json()
            except (httpx.HTTPError, ValueError) as e:
                status, body = 0, {"checks": {"http": {"status": "fail", "detail": repr(e)}}}
            self.slowest_s = max(self.slowest_s, time.perf_counter() - t)
            self.polls += 1
            if status != 200:
                failed = {
                    name: str(check.get("detail", check))
                    for name, check in body.get("checks", {}).items()
                    if check.get("status") != "ok"
                }
                self.failures.append((round(t - started, 1), failed))
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()

    def report(self, label: str) -> dict[str, object]:
        details = Counter(f"{n}: {d}" for _, fails in self.failures for n, d in fails.items())
        span = (
            (self.failures[0][0], self.failures[-1][0]) if self.failures else None
        )  # fmt: skip
        return {
            "phase": label, "readyz_polls": self.polls, "readyz_failures": len(self.failures),
            "failure_window_s": span, "failing_checks": dict(details),
            "slowest_readyz_s": round(self.slowest_s, 2),
        }  # fmt: skip


PROBLEMS: Counter[str] = Counter()


async def answer(client: httpx.AsyncClient, question: str) -> tuple[int, float]:
    t = time.perf_counter()
    try:
        r = await client.post("/v1/answers", json={"question": question}, timeout=120)
        status = r.status_code
        if status != 200:
            PROBLEMS[f"{status} {r.json().get('detail')}"] += 1
    except httpx.HTTPError as e:
        status = 0
        PROBLEMS[f"client {type(e).__name__}"] += 1
    return status, time.perf_counter() - t


async def phase_ingest(base: str, kb: int) -> dict[str, object]:
    data = big_markdown(kb)
    async with httpx.AsyncClient(base_url=base) as client:
        poller = Poller(client)
        poll = asyncio.create_task(poller.run())
        t = time.perf_counter()
        upload = asyncio.create_task(
            client.post("/v1/documents", headers=AUTH, timeout=600,
                        files={"files": ("bench-big-policy.md", data)})
        )  # fmt: skip
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        while not upload.done():
            status, seconds = await answer(client, random.choice(QUESTIONS))
            statuses[status] += 1
            latencies.append(seconds)
        r = await upload
        ingest_s = time.perf_counter() - t
        poller.stop()
        await poll
    result = r.json()
    return poller.report("ingest") | {
        "document_kb": len(data) // 1024, "upload_status": r.status_code,
        "upload_result": result.get("results", result), "ingest_s": round(ingest_s, 1),
        "answers": sum(statuses.values()), "answer_statuses": dict(statuses),
        "answer_max_s": round(max(latencies), 2) if latencies else None,
        "answer_p50_s": round(statistics.median(latencies), 2) if latencies else None,
    }  # fmt: skip


async def phase_answers(base: str, concurrency: int, waves: int) -> dict[str, object]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits) as client:
        poller = Poller(client)
        poll = asyncio.create_task(poller.run())
        results: list[tuple[int, float]] = []
        for _ in range(waves):
            results += await asyncio.gather(
                *(answer(client, QUESTIONS[i % len(QUESTIONS)]) for i in range(concurrency))
            )
        poller.stop()
        await poll
    seconds = [s for _, s in results]
    return poller.report("answers") | {
        "concurrency": concurrency, "answers": len(results),
        "answer_statuses": dict(Counter(status for status, _ in results)),
        "p50_s": round(pct(seconds, 50), 2), "p95_s": round(pct(seconds, 95), 2),
        "max_s": round(max(seconds), 2),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--doc-kb", type=int, default=900)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    server = YatriProcess(env={"YATRI_VOICE_ENABLED": "false", "YATRI_RATE_LIMIT_ENABLED": "false"})
    started = server.start()
    try:
        with httpx.Client(base_url=server.base, timeout=120) as client:
            for path in collect([CORPUS]):
                client.post("/v1/documents", headers=AUTH,
                            files={"files": (path.name, path.read_bytes())}).raise_for_status()  # fmt: skip
        print(json.dumps({"ready_s": round(started, 1)}))
        if not args.skip_ingest:
            print(json.dumps(asyncio.run(phase_ingest(server.base, args.doc_kb))))
        print(json.dumps(asyncio.run(phase_answers(server.base, args.concurrency, args.waves))))
        print(json.dumps({"answer_problems": dict(PROBLEMS)}))
        rss, _ = server.tree_rss_mb()
        print(json.dumps({"tree_rss_mb": round(rss)}))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
