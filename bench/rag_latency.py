"""Policy retrieval speed: ingest throughput of the sample corpus (first ingest, and re-ingest
of the unchanged corpus), and query latency (Hinglish normalisation, query embedding, BM25
weights, hybrid search, live-version filter) at 10K and 100K chunks. The embedded default
(qdrant-edge) and qdrant-client local mode run side by side in the same run.

The corpus holds ~540 chunks; the larger stores are filled with live filler documents whose
vectors are the corpus' real vectors perturbed with noise (and their real BM25 vectors), so
search works on realistic neighbourhoods without embedding 100K texts first.

Retrieval and its embedding and search stages are reported as p50 / p95 / p99; every query pays
its embedding (the recent-query cache is cleared before each).

    python bench/rag_latency.py [--sizes 10000 100000] [--queries 300] [--engines edge qdrant-local]
        [--embedding-engines onnx onnx-int8-weights]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
import uuid

import numpy as np
from _knowledge import CORPUS, ingest_corpus, knowledge_app

from api.content_cli import collect
from api.deps import Services
from ingest.chunking import chunk_document
from ingest.loaders import load_document
from rag.catalog import DocumentRecord
from rag.sparse import Bm25, terms
from rag.store import SearchFilter, StoredChunk

FILLER_DOC_CHUNKS = 200


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def fill(services: Services, *, target: int, rng: np.random.Generator) -> tuple[float, float]:
    """Add live filler documents until the store holds ``target`` chunks; seconds taken."""
    k = services.knowledge
    store = k.store
    texts = corpus_texts()
    vectors = await k.embeddings.embed(texts)
    bm25 = Bm25()
    sparse = [bm25.document(t) for t in texts]
    have = await store.count()
    started = time.perf_counter()
    doc_no = 0
    while have < target:
        doc_id = f"filler-{uuid.uuid4().hex[:10]}"
        n = min(FILLER_DOC_CHUNKS, target - have)
        picks = rng.integers(0, len(texts), n)
        noisy = vectors[picks] + rng.normal(0, 0.08, (n, vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        chunks = [
            StoredChunk(
                id=str(uuid.uuid4()),
                dense=noisy[i].tolist(),
                sparse=sparse[p][0],
                payload={
                    "doc_id": doc_id,
                    "version": 1,
                    "doc_version": 1,
                    "vertical": ["flights", "hotels", "buses", "trains", "general"][doc_no % 5],
                    "supplier": None,
                    "language": "en",
                    "flagged": False,
                    "title": f"Filler {doc_no}",
                    "section": ["Filler"],
                    "kind": "text",
                    "text": texts[p],
                    "uri": "bench://filler",
                    "effective_date": None,
                    "ordinal": i,
                    "content_hash": "-",
                },
            )  # fmt: skip
            for i, p in enumerate(picks)
        ]
        await store.upsert(chunks)
        record = DocumentRecord(
            doc_id=doc_id, title=f"Filler {doc_no}", vertical="general", supplier=None,
            language="en", version=1, revision=1, effective_date=None, supersedes=None,
            source_uri="bench://filler", format="text", content_hash=uuid.uuid4().hex,
            chunks=n, flagged_chunks=0, ingested_at=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        await k.catalog.publish(record, previous=None, chunk_terms=[sparse[p][1] for p in picks])
        have += n
        doc_no += 1
    elapsed = time.perf_counter() - started
    optimize_started = time.perf_counter()
    await store.optimize()
    return elapsed, time.perf_counter() - optimize_started


def corpus_texts() -> list[str]:
    return [
        chunk.embed_text
        for path in collect([CORPUS])
        for chunk in chunk_document(
            load_document(path.read_bytes(), filename=path.name, source_uri="bench://corpus")
        )
    ]


async def query_latency(services: Services, questions: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query: the whole retrieval, and two of its stages alone: the query
    embedding (past the recent-query cache, which would otherwise answer the repeats) and the
    hybrid search given the vectors."""
    k = services.knowledge
    embedder = k.embeddings.embedder
    for q in questions[:20]:  # warm caches and code paths
        await k.retriever.retrieve(q, k=5)
    out: dict[str, list[float]] = {"retrieval": [], "embedding": [], "search": []}
    recent = getattr(embedder, "_recent", None)
    for q in questions:
        if recent is not None:
            recent.clear()  # every query pays its embedding, as a new question does
        started = time.perf_counter()
        found = await k.retriever.retrieve(q, k=5)
        out["retrieval"].append((time.perf_counter() - started) * 1000)
        if recent is not None:
            recent.clear()
        started = time.perf_counter()
        await k.embeddings.embed([found.query])
        out["embedding"].append((time.perf_counter() - started) * 1000)
        df, n_docs = await k.catalog.document_frequencies(terms(found.query))
        sparse = Bm25().query(found.query, df=df, n_docs=max(n_docs, 1))
        started = time.perf_counter()
        await k.store.search(
            dense=found.question_vector.tolist(), sparse=sparse, filter=SearchFilter(), limit=20
        )
        out["search"].append((time.perf_counter() - started) * 1000)
    return out


def spread(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50):5.1f} / p95 {pct(values, 95):5.1f} / p99 {pct(values, 99):5.1f} ms"
    )


async def run(
    engine: str, sizes: list[int], questions: list[str], embedding_engine: str
) -> list[str]:
    rows = []
    rng = np.random.default_rng(7)
    async with knowledge_app(vector_engine=engine, embedding_engine=embedding_engine) as services:
        chunks, first = await ingest_corpus(services)
        _, again = await ingest_corpus(services)
        rows.append(f"{engine:<14}{'ingest corpus':<22}{chunks / first:>10.0f} chunks/s  "
                    f"({chunks} chunks, {first:.1f} s); re-ingest unchanged {again:.2f} s "
                    f"= {first / again:.0f}x faster")  # fmt: skip
        for size in sizes:
            fill_s, optimize_s = await fill(services, target=size, rng=rng)
            load = os.getloadavg()[0]
            times = await query_latency(services, questions)
            count = await services.knowledge.store.count()
            rows.append(f"{engine:<14}{f'query @ {count:,} chunks':<22}retrieval "
                        f"{spread(times['retrieval'])}; embedding {spread(times['embedding'])}; "
                        f"search {spread(times['search'])} ({len(questions)} queries; fill "
                        f"{fill_s:.0f} s, optimize {optimize_s:.0f} s; load {load:.1f}-"
                        f"{os.getloadavg()[0]:.1f}; {embedding_engine})")  # fmt: skip
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--engines", nargs="+", default=["edge", "qdrant-local"])
    # qdrant-client local mode scans every payload in Python (~0.2 s a query at 10K, seconds at
    # 100K, ~400 points/s to upsert on disk): it runs smaller, or the run would take hours.
    parser.add_argument("--local-sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--local-queries", type=int, default=30)
    # onnx-int8-weights: the embedding engine before dynamic quantisation, for comparison.
    parser.add_argument("--embedding-engines", nargs="+", default=["onnx"])
    args = parser.parse_args()
    questions = [
        json.loads(line)["question"]
        for line in (CORPUS / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    rows = []
    for engine in args.engines:
        local = engine == "qdrant-local"
        n = args.local_queries if local else args.queries
        picked = (questions * (n // len(questions) + 1))[:n]
        for embedding_engine in args.embedding_engines:
            sizes = args.local_sizes if local else args.sizes
            rows.extend(await run(engine, sizes, picked, embedding_engine))
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
