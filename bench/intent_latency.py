"""Latency of `POST /v1/intents/parse` against a real `yatri serve`, from this separate process
on loopback, one request at a time, every utterance of the labelled set once (so no query
embedding is served from the parser's cache). Peers in the same run: `GET /livez` (the same
server's HTTP floor) and the old rule-based reader `intents.nlu.understand`, called in this
process on the same utterances.

    python bench/intent_latency.py [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path

import aiohttp
from _serve import YatriProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.airports import load_airports  # noqa: E402
from intents.nlu import understand  # noqa: E402

DATA = Path(__file__).with_name("data") / "dialogue_utterances.jsonl"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name: str, ms: list[float]) -> str:
    return (
        f"| {name} | {len(ms)} | {pct(ms, 50):.2f} | {pct(ms, 95):.2f} | {pct(ms, 99):.2f} "
        f"| {max(ms):.2f} |"
    )


async def http(base: str, texts: list[str], rounds: int) -> tuple[list[float], list[float]]:
    parse_ms: list[float] = []
    floor_ms: list[float] = []
    async with aiohttp.ClientSession() as client:
        for _ in range(20):  # warm the connection and the route
            async with client.post(base + "/v1/intents/parse", json={"text": "hello"}) as r:
                await r.read()
        for round_ in range(rounds):
            for i, text in enumerate(texts):
                # A round after the first changes each text, so nothing comes from a cache.
                body = {"text": text if round_ == 0 else f"{text} {round_}"}
                started = time.perf_counter()
                async with client.post(base + "/v1/intents/parse", json=body) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{r.status}: {await r.text()}")
                parse_ms.append((time.perf_counter() - started) * 1000)
                if i % 2 == 0:
                    started = time.perf_counter()
                    async with client.get(base + "/livez") as r:
                        await r.read()
                    floor_ms.append((time.perf_counter() - started) * 1000)
    return parse_ms, floor_ms


def rules(texts: list[str], rounds: int) -> list[float]:
    airports = load_airports()
    today = dt.date.today()
    ms: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            understand(text, today=today, airports=airports)
            ms.append((time.perf_counter() - started) * 1000)
    return ms


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--rounds", type=int, default=1)
    options = args.parse_args()
    texts = [json.loads(line)["text"] for line in DATA.read_text().splitlines() if line.strip()]
    server = YatriProcess()
    ready_s = server.start()
    try:
        parse_ms, floor_ms = asyncio.run(http(server.base, texts, options.rounds))
    finally:
        server.stop()
    print(f"yatri serve ready in {ready_s:.1f} s; {len(texts)} utterances x {options.rounds}")
    print("| what | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(row("`POST /v1/intents/parse` (HTTP, loopback)", parse_ms))
    print(row("`GET /livez` (HTTP floor, same server)", floor_ms))
    print(row("`intents.nlu.understand` (rules, in process)", rules(texts, options.rounds)))


if __name__ == "__main__":
    main()
