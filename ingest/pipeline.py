"""Ingest: one file in, its chunks embedded, stored and made live in one step; or a clear
per-file failure with the previous version still serving. Parsing and chunking run on the
ingest lane (one thread: one document's parse at a time, whatever its requests' deadlines did),
embedding on the embedding pool's bulk lane, so neither queues ahead of a traveller's query."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import numpy as np

from core.errors import YatriError
from core.logging import get_logger
from core.telemetry import INGEST_FILES
from ingest.check import ChunkChanges, diff_chunks
from ingest.chunking import chunk_document
from ingest.limits import UploadLimits, check_size
from ingest.loaders import load_document
from ingest.models import Chunk, IngestError, MetadataWarning, ParsedDocument
from rag.catalog import DocumentCatalog, DocumentRecord, EmbeddingCache
from rag.embeddings import EmbeddingPool, Vectors
from rag.replica import IndexReplica
from rag.sparse import Bm25
from rag.store import SparseVector, StoredChunk, VectorStore

log = get_logger(__name__)

# Files of one upload ingested at once: while one file's chunks are on the model's two workers,
# the next is parsed, chunked and its neighbours' writes go to Redis and the vector store.
INGEST_CONCURRENCY = 3

_T = TypeVar("_T")

CACHE_EVERY = 256  # chunks embedded between writes to the vector cache


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FileResult:
    filename: str
    outcome: Outcome
    doc_id: str | None = None
    version: int | None = None
    chunks: int = 0
    flagged_chunks: int = 0
    reason: str | None = None
    detail: str | None = None
    warnings: tuple[MetadataWarning, ...] = ()
    changes: ChunkChanges | None = None  # set by a check: what ingesting would change


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str
    source_uri: str


class IngestService:
    def __init__(
        self,
        *,
        store: VectorStore,
        catalog: DocumentCatalog,
        embeddings: EmbeddingPool,
        cache: EmbeddingCache,
        bm25: Bm25 | None = None,
        limits: UploadLimits | None = None,
        retire_grace_s: float = 5.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        replica: IndexReplica | None = None,
    ) -> None:
        """``replica``: this process's embedded index follows a catalog other processes share;
        a revision's points are shared through it before the revision is published."""
        self.limits = limits or UploadLimits()
        self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self._store = store
        self._catalog = catalog
        self._embeddings = embeddings
        self._cache = cache
        self._bm25 = bm25 or Bm25()
        self._retire_grace_s = retire_grace_s
        self._clock = clock
        self._replica = replica
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: dict[asyncio.Task[None], tuple[str, int]] = {}

    async def ingest_many(
        self,
        files: Sequence[Upload],
        *,
        check: bool = False,
        concurrency: int = INGEST_CONCURRENCY,
    ) -> list[FileResult]:
        """Ingest (or, with ``check``, check) several files, a few at a time; results in the
        order given. Two versions of one document are still ingested one after the other."""
        gate = asyncio.Semaphore(max(1, concurrency))
        run = self.check if check else self.ingest

        async def one(upload: Upload) -> FileResult:
            async with gate:
                return await run(
                    upload.data, filename=upload.filename, source_uri=upload.source_uri
                )

        return list(await asyncio.gather(*(one(u) for u in files)))

    async def ingest(self, data: bytes, *, filename: str, source_uri: str) -> FileResult:
        """Ingest one file. Never raises for a bad file: the result says what went wrong."""
        result = await self._ingest(data, filename=filename, source_uri=source_uri)
        INGEST_FILES.labels(result.outcome.value, result.reason or "").inc()
        return result

    async def _ingest(self, data: bytes, *, filename: str, source_uri: str) -> FileResult:
        try:
            check_size(data, self.limits, filename)
            content_hash = hashlib.sha256(data).hexdigest()
            known = await self._catalog.doc_for_hash(content_hash)
            if known is not None:
                record = await self._catalog.get(known)
                if record is not None:
                    return FileResult(
                        filename, Outcome.UNCHANGED, doc_id=record.doc_id,
                        version=record.version, chunks=record.chunks,
                        flagged_chunks=record.flagged_chunks, warnings=tuple(record.warnings),
                    )  # fmt: skip
            doc = await self._on_lane(
                lambda: load_document(
                    data, filename=filename, source_uri=source_uri, limits=self.limits
                )
            )
            lock = self._locks.setdefault(doc.meta.doc_id, asyncio.Lock())
            async with lock:
                return await self._replace(doc, filename=filename)
        except IngestError as e:
            log.warning("ingest failed", filename=filename, reason=e.reason.value)
            return FileResult(filename, Outcome.FAILED, reason=e.reason.value, detail=e.detail)
        except YatriError as e:
            log.warning("ingest failed", filename=filename, reason=e.problem_type)
            return FileResult(filename, Outcome.FAILED, reason=e.problem_type, detail=e.detail)

    async def _replace(self, doc: ParsedDocument, *, filename: str) -> FileResult:
        previous = await self._catalog.get(doc.meta.doc_id)
        if previous is not None and previous.content_hash == doc.content_hash:
            return FileResult(filename, Outcome.UNCHANGED, doc_id=previous.doc_id,
                              version=previous.version, chunks=previous.chunks,
                              warnings=doc.warnings)  # fmt: skip
        chunks, sparse_vectors = await self._on_lane(lambda: self._prepare(doc))
        if not chunks:
            return FileResult(filename, Outcome.FAILED, doc_id=doc.meta.doc_id,
                              reason="empty", detail="no text to index")  # fmt: skip
        revision = await self._catalog.next_revision(doc.meta.doc_id)
        vectors = await self._vectors(chunks)
        stored, chunk_terms = [], []
        for chunk, vector, (sparse, distinct) in zip(chunks, vectors, sparse_vectors, strict=True):
            chunk_terms.append(sorted(distinct))
            stored.append(
                StoredChunk(
                    # A revision's points never overwrite another's: a reader still on the old
                    # revision keeps all of it until the switch.
                    id=str(uuid.uuid5(uuid.UUID(chunk.chunk_id), str(revision))),
                    dense=vector.tolist(),
                    sparse=sparse,
                    payload=_payload(doc, chunk, revision=revision),
                )  # fmt: skip
            )
        try:
            await self._store.upsert(stored)
            if self._replica is not None:
                await self._replica.share(doc.meta.doc_id, revision, stored)
        except BaseException:
            # Nothing was published: the previous version keeps serving. Drop what was written.
            with contextlib.suppress(Exception):
                await self._store.delete_version(doc.meta.doc_id, revision)
            raise
        flagged = sum(1 for c in chunks if c.flags)
        record = DocumentRecord(
            doc_id=doc.meta.doc_id, title=doc.meta.title, vertical=doc.meta.vertical.value,
            supplier=doc.meta.supplier, language=doc.meta.language, version=doc.meta.version,
            revision=revision, effective_date=doc.meta.effective_date,
            supersedes=doc.meta.supersedes, source_uri=doc.meta.source_uri,
            format=doc.meta.format, content_hash=doc.content_hash, chunks=len(chunks),
            flagged_chunks=flagged, ingested_at=self._clock(), notes=dict(doc.meta.notes),
            extra=dict(doc.meta.extra), warnings=list(doc.warnings),
        )  # fmt: skip
        await self._catalog.publish(record, previous=previous, chunk_terms=chunk_terms,
                                    chunk_hashes=[c.content_hash for c in chunks])  # fmt: skip
        if self._replica is not None:
            await self._replica.mark(record.doc_id, revision)
        if previous is not None:
            self._retire_later(previous.doc_id, previous.revision)
        log.info("document ingested", doc_id=record.doc_id, revision=revision,
                 chunks=len(chunks), flagged=flagged)  # fmt: skip
        return FileResult(
            filename, Outcome.UPDATED if previous else Outcome.ADDED, doc_id=record.doc_id,
            version=record.version, chunks=len(chunks), flagged_chunks=flagged,
            warnings=doc.warnings,
        )  # fmt: skip

    async def check(self, data: bytes, *, filename: str, source_uri: str) -> FileResult:
        """What ingesting the file would do, per chunk against the live version; nothing is
        embedded, stored or published. Never raises for a bad file."""
        try:
            check_size(data, self.limits, filename)
            doc = await self._on_lane(
                lambda: load_document(
                    data, filename=filename, source_uri=source_uri, limits=self.limits
                )
            )
            chunks = await self._on_lane(lambda: chunk_document(doc))
        except IngestError as e:
            return FileResult(filename, Outcome.FAILED, reason=e.reason.value, detail=e.detail)
        meta = doc.meta
        if not chunks:
            return FileResult(filename, Outcome.FAILED, doc_id=meta.doc_id, reason="empty",
                              detail="no text to index", warnings=doc.warnings)  # fmt: skip
        previous = await self._catalog.get(meta.doc_id)
        before = [] if previous is None else await self._catalog.chunk_hashes(meta.doc_id)
        outcome = (
            Outcome.ADDED if previous is None
            else Outcome.UNCHANGED if previous.content_hash == doc.content_hash
            else Outcome.UPDATED
        )  # fmt: skip
        changes = None if before is None else diff_chunks(before, [c.content_hash for c in chunks])
        return FileResult(
            filename, outcome, doc_id=meta.doc_id, version=meta.version, chunks=len(chunks),
            flagged_chunks=sum(1 for c in chunks if c.flags), warnings=doc.warnings,
            changes=changes, detail=None if changes else "the live version was ingested before "
            "its chunk hashes were kept: ingest it again to compare chunk by chunk",
        )  # fmt: skip

    async def _on_lane(self, work: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._lane, work)

    def close(self) -> None:
        """Stop the ingest lane; a parse already running finishes on its own."""
        self._lane.shutdown(wait=False, cancel_futures=True)

    def _prepare(
        self, doc: ParsedDocument
    ) -> tuple[list[Chunk], list[tuple[SparseVector, frozenset[str]]]]:
        """Chunks and their BM25 vectors: CPU work, run in a worker thread."""
        chunks = chunk_document(doc)
        return chunks, [self._bm25.document(c.embed_text) for c in chunks]

    async def delete(self, doc_id: str) -> bool:
        """Remove a document from retrieval at once; its chunks are deleted after the grace."""
        async with self._locks.setdefault(doc_id, asyncio.Lock()):
            record = await self._catalog.get(doc_id)
            if record is None:
                return False
            await self._catalog.remove(record)
            if self._replica is not None:
                await self._replica.mark(doc_id, None)
            self._retire_later(doc_id, record.revision)
            return True

    def _retire_later(self, doc_id: str, revision: int) -> None:
        # A query that read the live set just before the switch may still be searching; the
        # old chunks stay until it is done, so it never finds the document missing.
        async def retire() -> None:
            await asyncio.sleep(self._retire_grace_s)
            try:
                await self._store.delete_version(doc_id, revision)
                if self._replica is not None:
                    await self._replica.forget(doc_id, revision)
            except YatriError as e:
                # Left over, it would crowd live passages out of the candidate pool: try again.
                log.warning("retire failed", doc_id=doc_id, revision=revision, error=e.detail)
                self._retire_later(doc_id, revision)

        task = asyncio.create_task(retire(), name=f"retire-{doc_id}-{revision}")
        self._retiring[task] = (doc_id, revision)
        task.add_done_callback(lambda t: self._retiring.pop(t, None))

    async def drain(self) -> None:
        """Retire superseded chunks now instead of after the grace (shutdown, tests)."""
        pending = dict(self._retiring)
        for task in pending:
            task.cancel()
        for task, (doc_id, revision) in pending.items():
            with contextlib.suppress(asyncio.CancelledError):
                await task
            try:
                await self._store.delete_version(doc_id, revision)
                if self._replica is not None:
                    await self._replica.forget(doc_id, revision)
            except YatriError as e:
                log.warning("retire failed", doc_id=doc_id, revision=revision, error=e.detail)

    async def _vectors(self, chunks: list[Chunk]) -> Vectors:
        hashes = [c.content_hash for c in chunks]
        cached = await self._cache.get_many(hashes)
        missing = [i for i, v in enumerate(cached) if v is None]
        out = np.zeros((len(chunks), self._embeddings.embedder.dimension), dtype=np.float32)
        for i, v in enumerate(cached):
            if v is not None:
                out[i] = v
        # Cached as they come: an upload cut off by its deadline resumes here when sent again.
        for start in range(0, len(missing), CACHE_EVERY):
            part = missing[start : start + CACHE_EVERY]
            fresh = await self._embeddings.embed_bulk([chunks[i].embed_text for i in part])
            for row, i in enumerate(part):
                out[i] = fresh[row]
            await self._cache.put_many({hashes[i]: fresh[row] for row, i in enumerate(part)})
        return out


def _payload(doc: ParsedDocument, chunk: Chunk, *, revision: int) -> dict[str, object]:
    meta = doc.meta
    return {
        "doc_id": meta.doc_id,
        "version": revision,
        "doc_version": meta.version,
        "vertical": meta.vertical.value,
        "supplier": meta.supplier,
        "language": meta.language,
        "flagged": bool(chunk.flags),
        "title": meta.title,
        "section": list(chunk.section_path),
        "kind": chunk.kind,
        "text": chunk.text,
        "uri": meta.source_uri,
        "effective_date": meta.effective_date.isoformat() if meta.effective_date else None,
        "ordinal": chunk.ordinal,
        "content_hash": chunk.content_hash,
    }
