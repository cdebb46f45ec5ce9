"""The embedded vector engines side by side in one run: qdrant-client local mode and Qdrant Edge,
each behind Yatri's VectorStore adapter, on the same synthetic corpus of clustered, normalised
384-d vectors with ~20-term sparse vectors (30K vocabulary) and payloads (5 verticals, 20
suppliers, en/hi, 1% flagged).

Per size and engine: upsert throughput, optimize time, reopen time (open + first search), and
search latency p50/p99 for dense-only, hybrid, and hybrid with a vertical filter; plus how many of
each engine's dense top-10 agree with local mode's exact search.

    python bench/vector_engines.py [--sizes 10000,100000] [--queries 500]
        [--local-in-memory-from 50000]

Local mode keeps every point in Python and rewrites them to SQLite as they come; from
``--local-in-memory-from`` points on it runs on ``:memory:`` (its reopen is then not measured).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.edge import EdgeStore
from rag.qdrant import QdrantStore
from rag.store import SearchFilter, SearchMode, SparseVector, StoredChunk, VectorStore

DIM = 384
VOCAB = 30_000
TERMS = 20
CLUSTERS = 200
VERTICALS = ("flights", "hotels", "trains", "buses", "holidays")
SUPPLIERS = tuple(f"supplier-{i:02d}" for i in range(20))
BATCH = 1024
LIMIT = 10
WARMUP = 20
MIN_TIMED = 3


@dataclass(slots=True)
class Corpus:
    """Everything derived from one seed: vectors, terms, payload values, and the queries."""

    size: int
    vectors: np.ndarray
    clusters: np.ndarray
    topics: np.ndarray
    rng: np.random.Generator
    ids: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, size: int, *, seed: int = 7) -> Corpus:
        rng = np.random.default_rng(seed)
        centroids = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
        clusters = rng.integers(0, CLUSTERS, size)
        vectors = centroids[clusters] + 0.9 * rng.standard_normal((size, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        topics = rng.integers(0, VOCAB, (CLUSTERS, 60))  # each cluster's favourite terms
        ids = [str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i)) for i in range(size)]
        return cls(size, vectors, clusters, topics, rng, ids)

    def terms(self, cluster: int, count: int) -> SparseVector:
        topical = self.rng.choice(self.topics[cluster], count * 2 // 3, replace=False)
        common = self.rng.zipf(1.3, count) % VOCAB
        indices = np.unique(np.concatenate([topical, common]))[:count]
        weights = self.rng.uniform(0.3, 3.0, len(indices))
        return SparseVector(
            indices=tuple(int(i) for i in indices), values=tuple(float(w) for w in weights)
        )

    def batches(self) -> Iterator[list[StoredChunk]]:
        for start in range(0, self.size, BATCH):
            yield [self.chunk(i) for i in range(start, min(start + BATCH, self.size))]

    def chunk(self, i: int) -> StoredChunk:
        payload = {
            "doc_id": f"doc-{i // 40}",
            "version": 1,
            "vertical": VERTICALS[i % len(VERTICALS)],
            "supplier": SUPPLIERS[i % len(SUPPLIERS)],
            "language": "hi" if i % 4 == 0 else "en",
            "flagged": i % 100 == 0,
        }
        return StoredChunk(
            id=self.ids[i],
            dense=self.vectors[i].tolist(),
            sparse=self.terms(int(self.clusters[i]), TERMS),
            payload=payload,
        )

    def queries(self, count: int) -> list[tuple[list[float], SparseVector, str]]:
        picks = self.rng.integers(0, self.size, count)
        out = []
        for i in picks:
            noisy = self.vectors[i] + 0.05 * self.rng.standard_normal(DIM).astype(np.float32)
            noisy /= np.linalg.norm(noisy)
            vertical = VERTICALS[int(self.rng.integers(0, len(VERTICALS)))]
            out.append((noisy.tolist(), self.terms(int(self.clusters[i]), 5), vertical))
        return out


@dataclass(slots=True)
class Result:
    engine: str
    size: int
    upsert_pps: float = 0.0
    optimize_s: float | None = None
    reopen_s: float | None = None
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)
    timed: dict[str, int] = field(default_factory=dict)
    dense_top: dict[int, list[str]] = field(default_factory=dict)
    agreement: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    open: Callable[[Path], VectorStore]
    note: str = ""
    reopens: bool = True


def engines(size: int, local_in_memory_from: int) -> list[Engine]:
    in_memory = size >= local_in_memory_from
    return [
        Engine(
            "qdrant-local",
            lambda folder: QdrantStore.open(
                url=None, path=Path(":memory:") if in_memory else folder / "qdrant"
            ),
            note="in memory (:memory:), no reopen" if in_memory else "on disk",
            reopens=not in_memory,
        ),
        Engine("qdrant-edge", lambda folder: EdgeStore.open(folder / "edge"), note="on disk"),
    ]


async def latencies(
    store: VectorStore,
    queries: list[tuple[list[float], SparseVector, str]],
    *,
    mode: SearchMode,
    filtered: bool,
    budget_s: float,
) -> tuple[list[float], dict[int, list[str]]]:
    """Time each query after a warm-up; stop early once ``budget_s`` is spent (local mode takes
    seconds per query at 100K points), keeping at least ``MIN_TIMED`` timings. The top ids of
    every query, warm-up included, come back for the agreement check."""
    timings: list[float] = []
    tops: dict[int, list[str]] = {}
    began = time.perf_counter()
    warm = 0
    for n, (dense, sparse, vertical) in enumerate(queries):
        search_filter = SearchFilter(verticals=(vertical,)) if filtered else SearchFilter()
        started = time.perf_counter()
        hits = await store.search(
            dense=dense, sparse=sparse, filter=search_filter, limit=LIMIT, mode=mode
        )
        elapsed = time.perf_counter() - started
        spent = time.perf_counter() - began
        tops[n] = [hit.id for hit in hits]
        if warm < WARMUP and (not timings and spent < budget_s * 0.1):
            warm += 1
            continue
        timings.append(elapsed)
        if spent > budget_s and len(timings) >= MIN_TIMED:
            break
    return timings, tops


async def measure(
    engine: Engine,
    corpus: Corpus,
    queries: list[tuple[list[float], SparseVector, str]],
    *,
    budget_s: float,
) -> Result:
    result = Result(engine.name, corpus.size, note=engine.note)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{engine.name}-"))
    try:
        store = await asyncio.to_thread(engine.open, folder)
        await store.ensure_collection(dense_dim=DIM)
        upsert_s = 0.0
        for batch in corpus.batches():
            started = time.perf_counter()
            await store.upsert(batch)
            upsert_s += time.perf_counter() - started
        result.upsert_pps = corpus.size / upsert_s
        started = time.perf_counter()
        await store.optimize()
        result.optimize_s = time.perf_counter() - started
        runs: list[tuple[str, SearchMode, bool]] = [
            ("dense", "dense", False),
            ("hybrid", "hybrid", False),
            ("hybrid+vertical", "hybrid", True),
        ]
        for label, mode, filtered in runs:
            timings, tops = await latencies(
                store, queries, mode=mode, filtered=filtered, budget_s=budget_s
            )
            result.timed[label] = len(timings)
            result.latency[label] = (
                float(np.percentile(timings, 50)) * 1000,
                float(np.percentile(timings, 99)) * 1000,
            )
            if label == "dense":
                result.dense_top = tops
        await store.close()
        if engine.reopens:
            dense, sparse, _ = queries[0]
            started = time.perf_counter()
            store = await asyncio.to_thread(engine.open, folder)
            await store.search(dense=dense, sparse=sparse, filter=SearchFilter(), limit=LIMIT)
            result.reopen_s = time.perf_counter() - started
            await store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def table(results: list[Result]) -> str:
    head = (
        f"{'N':>7} {'engine':<13} {'upsert pt/s':>11} {'optimize s':>10} {'reopen s':>8} "
        f"{'dense p50/p99 ms':>17} {'hybrid p50/p99':>15} {'hyb+vert p50/p99':>17} "
        f"{'top10 agree':>11} {'queries':>7}  note"
    )
    lines = [head, "-" * len(head)]
    for r in results:

        def cell(label: str, r: Result = r) -> str:
            p50, p99 = r.latency[label]
            return f"{p50:.2f}/{p99:.2f}"

        lines.append(
            f"{r.size:>7} {r.engine:<13} {r.upsert_pps:>11,.0f} "
            f"{_num(r.optimize_s):>10} {_num(r.reopen_s):>8} {cell('dense'):>17} "
            f"{cell('hybrid'):>15} {cell('hybrid+vertical'):>17} "
            f"{_pct(r.agreement):>11} {min(r.timed.values()):>7}  {r.note}"
        )
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def agree(exact: Result, other: Result) -> float | None:
    """Share of the exact dense top-10 that ``other`` returned too, over the queries both timed."""
    common = exact.dense_top.keys() & other.dense_top.keys()
    if not common:
        return None
    shared = sum(len(set(exact.dense_top[n]) & set(other.dense_top[n])) for n in common)
    return shared / max(1, sum(len(exact.dense_top[n]) for n in common))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--local-in-memory-from", type=int, default=50_000)
    parser.add_argument(
        "--budget-s", type=float, default=20.0, help="time cap per engine and search mode"
    )
    args = parser.parse_args()
    results: list[Result] = []
    began = time.perf_counter()
    for size in (int(s) for s in args.sizes.split(",")):
        corpus = Corpus.make(size)
        queries = corpus.queries(args.queries + WARMUP)
        measured = []
        for engine in engines(size, args.local_in_memory_from):
            print(f"N={size} {engine.name}: measuring...", flush=True)
            measured.append(await measure(engine, corpus, queries, budget_s=args.budget_s))
        exact = measured[0]  # local mode searches exactly
        for result in measured:
            result.agreement = agree(exact, result)
        results.extend(measured)
    print()
    print(table(results))
    print(
        f"\nUp to {args.queries} timed queries per mode after up to {WARMUP} warm-up ones, "
        f"capped at {args.budget_s:.0f} s per mode ('queries': fewest timed in any mode); "
        f"limit {LIMIT}; default filter (flagged hidden) everywhere. Upsert times only the "
        f"store's upsert calls, in batches of {BATCH}. Reopen: open + first search. 'top10 "
        "agree': share of local mode's exact dense top-10 that the engine also returned, over "
        "the queries both ran. Local mode has nothing to optimize. "
        f"Total {time.perf_counter() - began:.0f} s."
    )


if __name__ == "__main__":
    asyncio.run(main())
