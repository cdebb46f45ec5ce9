"""The document catalog in Redis: which version of each document is live, and the document
frequencies BM25 needs. A version becomes live in one transaction, so a reader sees either the
old version or the new one, never a mix and never neither."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import orjson
from pydantic import BaseModel
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError
from core.redis_conn import RedisClient
from ingest.models import MetadataWarning
from rag.embeddings import DIMENSION, Vectors


class DocumentRecord(BaseModel):
    doc_id: str
    title: str
    vertical: str
    supplier: str | None
    language: str
    version: int  # the document's own version number
    revision: int  # Yatri's: increases on every change of content, keys the stored chunks
    effective_date: dt.date | None
    supersedes: str | None
    source_uri: str
    format: str
    content_hash: str
    chunks: int
    flagged_chunks: int
    ingested_at: dt.datetime
    notes: dict[str, str] = {}  # free text beside a parsed metadata value
    extra: dict[str, str] = {}  # metadata fields Yatri does not use, or could not read, as text
    warnings: list[MetadataWarning] = []  # how the metadata was read, as the ingest reported it


@dataclass(frozen=True, slots=True)
class LiveSet:
    """What retrieval may use: live (doc_id, revision) pairs at one catalog generation."""

    generation: int
    today: dt.date
    revisions: Mapping[str, int]
    records: Mapping[str, DocumentRecord]

    def allows(self, doc_id: str, revision: int) -> bool:
        return self.revisions.get(doc_id) == revision


class DocumentCatalog:
    def __init__(self, redis: RedisClient, *, namespace: str = "yatri") -> None:
        self._redis = redis
        self._live: LiveSet | None = None
        # One hash tag, so that the catalog's keys share a cluster slot and transactions work.
        base = f"{namespace}:{{rag}}:"
        self.docs_key = base + "docs"
        self.hashes_key = base + "hashes"
        self.generation_key = base + "generation"
        self.df_key = base + "df"
        self.n_key = base + "chunks"
        self.terms_key = base + "terms"  # doc_id -> the distinct terms of each live chunk
        self.revisions_key = base + "revisions"  # doc_id -> last revision ever given out
        self.chunk_hashes_key = base + "chunk_hashes"  # doc_id -> live chunks' hashes, in order

    async def get(self, doc_id: str) -> DocumentRecord | None:
        raw = await self._call(self._redis.hget(self.docs_key, doc_id))
        return None if raw is None else DocumentRecord.model_validate_json(raw)

    async def all(self) -> list[DocumentRecord]:
        raw: dict[bytes, bytes] = await self._call(self._redis.hgetall(self.docs_key))
        records = [DocumentRecord.model_validate_json(v) for v in raw.values()]
        return sorted(records, key=lambda r: r.doc_id)

    async def doc_for_hash(self, content_hash: str) -> str | None:
        raw = await self._call(self._redis.hget(self.hashes_key, content_hash))
        return raw.decode() if isinstance(raw, bytes) else None

    async def next_revision(self, doc_id: str) -> int:
        """A revision number never given out before for ``doc_id``, even after a delete, so a
        new upload's chunks can never be mistaken for (or retired as) an old revision's."""
        return int(await self._call(self._redis.hincrby(self.revisions_key, doc_id, 1)))

    async def chunk_hashes(self, doc_id: str) -> list[str] | None:
        """The live version's chunk content hashes in document order; None when it has none
        recorded (not live, or published before they were kept)."""
        raw = await self._call(self._redis.hget(self.chunk_hashes_key, doc_id))
        return None if raw is None else [str(h) for h in orjson.loads(raw)]

    async def _terms(self, doc_id: str) -> list[list[str]]:
        raw = await self._call(self._redis.hget(self.terms_key, doc_id))
        return [] if raw is None else list(orjson.loads(raw))

    async def publish(
        self,
        record: DocumentRecord,
        *,
        previous: DocumentRecord | None,
        chunk_terms: Sequence[Iterable[str]],
        chunk_hashes: Sequence[str] | None = None,
    ) -> None:
        """Make ``record`` the live version (replacing ``previous``) in one transaction."""
        delta: dict[str, int] = {}
        new_terms = [sorted(set(t)) for t in chunk_terms]
        for terms in new_terms:
            for term in terms:
                delta[term] = delta.get(term, 0) + 1
        for terms in await self._terms(record.doc_id) if previous else []:
            for term in terms:
                delta[term] = delta.get(term, 0) - 1
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self.docs_key, record.doc_id, record.model_dump_json())
        pipe.hset(self.terms_key, record.doc_id, orjson.dumps(new_terms))
        if chunk_hashes is None:
            pipe.hdel(self.chunk_hashes_key, record.doc_id)
        else:
            pipe.hset(self.chunk_hashes_key, record.doc_id, orjson.dumps(list(chunk_hashes)))
        if previous is not None:
            pipe.hdel(self.hashes_key, previous.content_hash)
        pipe.hset(self.hashes_key, record.content_hash, record.doc_id)
        for term, change in delta.items():
            if change:
                pipe.hincrby(self.df_key, term, change)
        pipe.incrby(self.n_key, record.chunks - (previous.chunks if previous else 0))
        pipe.incr(self.generation_key)
        await self._call(pipe.execute())

    async def remove(self, record: DocumentRecord) -> None:
        """Take a document out of the live set in one transaction."""
        old_terms = await self._terms(record.doc_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(self.docs_key, record.doc_id)
        pipe.hdel(self.hashes_key, record.content_hash)
        pipe.hdel(self.terms_key, record.doc_id)
        pipe.hdel(self.chunk_hashes_key, record.doc_id)
        for terms in old_terms:
            for term in terms:
                pipe.hincrby(self.df_key, term, -1)
        pipe.incrby(self.n_key, -record.chunks)
        pipe.incr(self.generation_key)
        await self._call(pipe.execute())

    async def live(self, *, today: dt.date) -> LiveSet:
        """Live documents: in the catalog, in effect by ``today`` and not superseded.
        Cached per catalog generation, so a query costs one GET when nothing changed."""
        generation = int(await self._call(self._redis.get(self.generation_key)) or 0)
        cached = self._live
        # Effective dates make the live set change with the day, not only with the catalog.
        if cached is not None and (cached.generation, cached.today) == (generation, today):
            return cached
        records = {r.doc_id: r for r in await self.all()}
        superseded = {
            r.supersedes
            for r in records.values()
            if r.supersedes and (r.effective_date is None or r.effective_date <= today)
        }
        live = {
            doc_id: r
            for doc_id, r in records.items()
            if doc_id not in superseded and (r.effective_date is None or r.effective_date <= today)
        }
        self._live = LiveSet(
            generation=generation,
            today=today,
            revisions={doc_id: r.revision for doc_id, r in live.items()},
            records=live,
        )
        return self._live

    async def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        wanted = sorted(set(terms))
        pipe = self._redis.pipeline(transaction=False)
        if wanted:
            pipe.hmget(self.df_key, wanted)
        pipe.get(self.n_key)
        results = await self._call(pipe.execute())
        counts = results[0] if wanted else []
        df = {t: int(c) for t, c in zip(wanted, counts, strict=True) if c is not None}
        return df, int(results[-1] or 0)

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as e:
            raise DependencyUnavailableError("document catalog (Redis) is unavailable") from e


class EmbeddingCache:
    """Vectors by content hash, shared by every process: unchanged text is never re-embedded."""

    def __init__(self, redis: RedisClient, *, model_id: str, ttl_s: int = 90 * 86_400) -> None:
        self._redis = redis
        self._prefix = f"yatri:emb:{model_id}:"
        self._ttl_s = ttl_s

    async def get_many(self, hashes: list[str]) -> list[Vectors | None]:
        if not hashes:
            return []
        try:
            raw = await self._redis.mget([self._prefix + h for h in hashes])
        except RedisError as e:
            raise DependencyUnavailableError("embedding cache (Redis) is unavailable") from e
        return [
            None
            if r is None
            else np.frombuffer(cast(bytes, r), dtype=np.float32).reshape(DIMENSION)
            for r in raw
        ]

    async def put_many(self, items: Mapping[str, Vectors]) -> None:
        if not items:
            return
        pipe = self._redis.pipeline(transaction=False)
        for content_hash, vector in items.items():
            pipe.set(
                self._prefix + content_hash,
                np.asarray(vector, np.float32).tobytes(),
                ex=self._ttl_s,
            )
        try:
            await pipe.execute()
        except RedisError as e:
            raise DependencyUnavailableError("embedding cache (Redis) is unavailable") from e
