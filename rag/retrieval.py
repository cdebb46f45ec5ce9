"""Retrieval: hybrid dense + BM25 search over the live versions of policy documents."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ingest.injection import injection_flags
from rag.catalog import DocumentCatalog, EmbeddingCache, LiveSet
from rag.embeddings import EmbeddingPool, Vectors
from rag.hinglish import normalise_query
from rag.sparse import Bm25, terms
from rag.store import SearchFilter, SearchMode, VectorStore

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@dataclass(frozen=True, slots=True)
class Passage:
    chunk_id: str
    doc_id: str
    doc_version: int
    title: str
    section: tuple[str, ...]
    kind: str
    text: str
    uri: str
    vertical: str
    supplier: str | None
    score: float  # the engine's score: RRF for hybrid, cosine for dense
    similarity: float  # cosine of question and passage, comparable across modes


@dataclass(frozen=True, slots=True)
class Retrieval:
    query: str  # the question as searched (Hinglish normalised)
    question_vector: Vectors
    passages: list[Passage]
    unseen_terms: tuple[str, ...]  # query terms no live chunk contains
    unseen_share: float  # their share of the query's IDF mass: high when asked about the unknown
    term_weights: Mapping[str, float] = field(default_factory=dict)  # query term -> its IDF


class Retriever:
    def __init__(
        self,
        *,
        store: VectorStore,
        catalog: DocumentCatalog,
        embeddings: EmbeddingPool,
        cache: EmbeddingCache,
        bm25: Bm25 | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._embeddings = embeddings
        self._cache = cache
        self._bm25 = bm25 or Bm25()
        self._clock = clock

    async def live(self) -> LiveSet:
        return await self._catalog.live(today=self._clock().astimezone(IST).date())

    async def unseen(self, search_terms: Iterable[str]) -> set[str]:
        """Those of ``search_terms`` (as `rag.sparse.terms` gives them) that no live chunk has."""
        wanted = sorted(set(search_terms))
        df, _ = await self._catalog.document_frequencies(wanted)
        return {t for t in wanted if df.get(t, 0) == 0}

    async def retrieve(
        self,
        question: str,
        *,
        filter: SearchFilter | None = None,
        k: int = 5,
        mode: SearchMode = "hybrid",
    ) -> Retrieval:
        """The ``k`` best passages of live documents for ``question``, best first."""
        # The live set is read before searching: a version switch during the search is then
        # invisible, since superseded chunks outlive the switch by a grace period.
        filter = filter or SearchFilter()
        query = normalise_query(question)
        live, vectors, (df, n_docs) = await asyncio.gather(
            self.live(),
            self._embeddings.embed([query]),
            self._catalog.document_frequencies(terms(query)),
        )
        vector = vectors[0]
        sparse = self._bm25.query(query, df=df, n_docs=max(n_docs, 1))
        hits = await self._store.search(
            dense=vector.tolist(), sparse=sparse, filter=filter, limit=k * 3 + 5, mode=mode
        )
        hits = [
            h
            for h in hits
            if live.allows(h.payload["doc_id"], int(h.payload["version"]))
            and not (filter.exclude_flagged and _reads_as_instructions(h.payload))
        ][:k]
        cached = await self._cache.get_many([str(h.payload["content_hash"]) for h in hits])
        missing = [i for i, v in enumerate(cached) if v is None]
        if missing:
            # An evicted or expired cache entry: embed the passage again rather than score 0.
            fresh = await self._embeddings.embed([_embed_text(hits[i].payload) for i in missing])
            for row, i in enumerate(missing):
                cached[i] = fresh[row]
            await self._cache.put_many(
                {str(hits[i].payload["content_hash"]): fresh[row] for row, i in enumerate(missing)}
            )
        passages = []
        for hit, chunk_vector in zip(hits, cached, strict=True):
            p = hit.payload
            similarity = float(np.dot(vector, chunk_vector)) if chunk_vector is not None else 0.0
            passages.append(
                Passage(
                    chunk_id=hit.id,
                    doc_id=p["doc_id"],
                    doc_version=int(p["doc_version"]),
                    title=p["title"],
                    section=tuple(p["section"]),
                    kind=p["kind"],
                    text=p["text"],
                    uri=p["uri"],
                    vertical=p["vertical"],
                    supplier=p.get("supplier"),
                    score=hit.score,
                    similarity=similarity,
                )  # fmt: skip
            )
        query_terms = set(terms(query))
        idf = {t: self._bm25.idf(df.get(t, 0), n_docs=max(n_docs, 1)) for t in query_terms}
        unseen = tuple(sorted(t for t in query_terms if df.get(t, 0) == 0))
        return Retrieval(
            query=query,
            question_vector=vector,
            passages=passages,
            unseen_terms=unseen,
            unseen_share=sum(idf[t] for t in unseen) / sum(idf.values()) if idf else 0.0,
            term_weights=idf,
        )


def _reads_as_instructions(payload: dict[str, Any]) -> bool:
    """The injection filter again, at read time, on all a passage shows: chunks stored before
    the filter learnt a rule carry `flagged: false` until their document is ingested again."""
    texts = (payload["text"], payload["title"], payload.get("supplier") or "", *payload["section"])
    return bool(injection_flags(*texts))


def _embed_text(payload: dict[str, Any]) -> str:
    """The text a chunk was embedded as (see ``ingest.chunking``)."""
    section = " > ".join(payload.get("section") or [])
    head = f"{payload['title']} > {section}" if section else payload["title"]
    return f"{head}\n{payload['text']}"
