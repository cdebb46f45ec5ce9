"""Latency of `POST /v1/intents/parse` against a real `yatri serve`, from this separate process
on loopback, one request at a time, every utterance of the labelled set once (so no query
embedding is served from the parser's cache). Peers in the same run: `GET /livez` (the same
server's HTTP floor) and the old rule-based reader `intents.nlu.understand`, called in this
process on the same utterances. The load average is printed before and after: the 2 cores are
often shared, and a figure means little without it.

With `--in-process`, the parser is also timed in this process after the server has stopped
(no HTTP, no policy probe), with where its time goes: the query embedding, the example vote and
the rest, and how many turns the rules decided without an embedding.

    python bench/intent_latency.py [--rounds 1] [--in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _serve import YatriProcess  # noqa: E402

from core.airports import load_airports  # noqa: E402
from intents.classifier import ExampleIndex  # noqa: E402
from intents.nlu import understand  # noqa: E402
from intents.parser import RetrievalIntentParser  # noqa: E402
from intents.places import common_words  # noqa: E402
from intents.text import read  # noqa: E402
from rag.edge import EdgeStore  # noqa: E402
from rag.embeddings import Embedder, EmbeddingPool, OnnxMiniLM, Vectors  # noqa: E402

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


class TimedEmbedder:
    """The real embedder, timed: how long each model call took, and how many there were."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.ms: list[float] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        started = time.perf_counter()
        vectors = self.inner.embed(texts)
        self.ms.append((time.perf_counter() - started) * 1000)
        return vectors


async def in_process(texts: list[str], rounds: int) -> list[str]:
    """The parser in this process: whole parses, the embeddings inside them, the vote."""
    embedder = TimedEmbedder(OnnxMiniLM.load())
    pool = EmbeddingPool(embedder)
    store = EdgeStore.open(Path(tempfile.mkdtemp(prefix="yatri-intents-")), collection="intents")
    today = dt.date.today()
    try:
        index = ExampleIndex(store=store, embeddings=pool)
        parser = await RetrievalIntentParser.start(
            index=index, airports=load_airports(), common_words=common_words()
        )
        for text in texts[:20]:
            await parser.parse(f"{text} warm", today=today)
        embedder.ms.clear()
        parse_ms: list[float] = []
        for round_ in range(rounds):
            for text in texts:
                started = time.perf_counter()
                await parser.parse(text if round_ == 0 else f"{text} {round_}", today=today)
                parse_ms.append((time.perf_counter() - started) * 1000)
        embed_ms = list(embedder.ms)
        vote_ms: list[float] = []
        for text in texts:
            await index.embed(read(text).text)  # remembered: the vote below embeds nothing
            started = time.perf_counter()
            await index.vote(read(text).text)
            vote_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
        pool.close()
    skipped = len(parse_ms) - len(embed_ms)
    return [
        row("`RetrievalIntentParser.parse` (in process, no HTTP, no policy probe)", parse_ms),
        row("  of which the query embedding (turns that needed one)", embed_ms),
        row("  of which the example vote (its embedding remembered)", vote_ms),
        f"turns decided by rules without an embedding: {skipped} of {len(parse_ms)}",
    ]


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--rounds", type=int, default=1)
    args.add_argument("--in-process", action="store_true", help="also time the parser in process")
    options = args.parse_args()
    texts = [json.loads(line)["text"] for line in DATA.read_text().splitlines() if line.strip()]
    print(f"before: {load()}")
    # One address sends here far more than the per-address rate limit lets a traveller send.
    server = YatriProcess(env={"YATRI_RATE_LIMIT_ENABLED": "false"})
    ready_s = server.start()
    try:
        parse_ms, floor_ms = asyncio.run(http(server.base, texts, options.rounds))
    finally:
        server.stop()
    print(f"after the HTTP runs: {load()}")
    print(f"yatri serve ready in {ready_s:.1f} s; {len(texts)} utterances x {options.rounds}")
    print("| what | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(row("`POST /v1/intents/parse` (HTTP, loopback)", parse_ms))
    print(row("`GET /livez` (HTTP floor, same server)", floor_ms))
    print(row("`intents.nlu.understand` (rules, in process)", rules(texts, options.rounds)))
    if options.in_process:
        for line in asyncio.run(in_process(texts, options.rounds)):
            print(line)
        print(f"after: {load()}")


if __name__ == "__main__":
    main()
