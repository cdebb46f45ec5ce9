"""An embedded index that follows the shared catalog, so many API processes on one Redis answer
policy questions alike without a Qdrant server.

The embedded engines (qdrant-edge, qdrant-client local mode) live in one process's data
directory, while the document catalog — which revision of each document is live — is in Redis,
shared by every process. Without more, a document uploaded to one process would be live for
all and searchable on one: the others, finding its content hash in the catalog, would call a
second upload "unchanged" and never index it. So the process that ingests a revision also puts
its points (ids, vectors, payloads: what it upserted) in Redis before publishing it, and every
process pulls the revisions its own index lacks whenever the catalog's generation moves, and
deletes what the catalog no longer holds after the retire grace. What this process's index holds
is kept beside it (`index-replica.json`), so a restart pulls only what changed meanwhile.

Redis then holds each live revision's points too (about 2.5 KB a chunk): right for one machine
or a few; at scale point every process at a Qdrant server or cluster (`YATRI_QDRANT_URL`), which
needs none of this.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError, YatriError
from core.logging import get_logger
from core.redis_conn import RedisClient
from rag.catalog import DocumentCatalog
from rag.store import SparseVector, StoredChunk, VectorStore

log = get_logger(__name__)

STATE_FILE = "index-replica.json"


def encode_points(chunks: Sequence[StoredChunk]) -> bytes:
    return orjson.dumps([
        {"id": c.id, "dense": base64.b64encode(np.asarray(c.dense, dtype=np.float32).tobytes()).decode(),
         "si": list(c.sparse.indices), "sv": list(c.sparse.values), "payload": c.payload}
        for c in chunks
    ])  # fmt: skip


def decode_points(blob: bytes) -> list[StoredChunk]:
    return [
        StoredChunk(
            id=p["id"],
            dense=np.frombuffer(base64.b64decode(p["dense"]), dtype=np.float32).tolist(),
            sparse=SparseVector(tuple(p["si"]), tuple(p["sv"])),
            payload=p["payload"],
        )
        for p in orjson.loads(blob)
    ]


class IndexReplica:
    def __init__(
        self,
        redis: RedisClient,
        *,
        catalog: DocumentCatalog,
        store: VectorStore,
        state_dir: Path,
        namespace: str = "yatri",
        retire_grace_s: float = 5.0,
    ) -> None:
        self._redis = redis
        self._catalog = catalog
        self._store = store
        self._state = state_dir / STATE_FILE
        self._prefix = f"{namespace}:{{rag}}:points:"
        self._grace_s = retire_grace_s
        self._held: dict[str, int] = self._load()
        self._retiring: list[tuple[float, str, int]] = []  # (due, doc_id, revision)
        self._seen: bytes | None = None  # the catalog generation last followed
        self.pulled = 0  # revisions pulled from Redis since start
        self._lock = asyncio.Lock()

    @property
    def held(self) -> dict[str, int]:
        """The revision of each document this process's index holds."""
        return dict(self._held)

    def _key(self, doc_id: str, revision: int) -> str:
        return f"{self._prefix}{doc_id}:{revision}"

    async def share(self, doc_id: str, revision: int, chunks: Sequence[StoredChunk]) -> None:
        """Before publishing: the revision's points, for the other processes to pull."""
        blob = await asyncio.to_thread(encode_points, chunks)
        await self._call(self._redis.set(self._key(doc_id, revision), blob))

    async def mark(self, doc_id: str, revision: int | None) -> None:
        """This process's index now holds ``revision`` of the document (None: none of it) —
        its own ingest wrote or deleted it, and retires the old revision itself."""
        async with self._lock:
            if revision is None:
                self._held.pop(doc_id, None)
            else:
                self._held[doc_id] = revision
            await asyncio.to_thread(self._save)

    async def forget(self, doc_id: str, revision: int) -> None:
        """A retired revision's points leave Redis (every index has moved past it)."""
        await self._call(self._redis.delete(self._key(doc_id, revision)))

    async def sync(self) -> int:
        """Pull what the catalog holds and this index does not; the revisions pulled. Cheap when
        nothing changed: one GET of the catalog's generation."""
        async with self._lock:
            generation = await self._call(self._redis.get(self._catalog.generation_key))
            if generation is not None and generation == self._seen:
                return 0
            wanted = {r.doc_id: r.revision for r in await self._catalog.all()}
            pulled, complete = 0, True
            for doc_id, revision in wanted.items():
                if self._held.get(doc_id) == revision:
                    continue
                blob = await self._call(self._redis.get(self._key(doc_id, revision)))
                if blob is None:  # ingested where nothing was shared (replication off then)
                    log.warning("index replica: points not shared", doc_id=doc_id,
                                revision=revision)  # fmt: skip
                    complete = False
                    continue
                await self._store.upsert(await asyncio.to_thread(decode_points, blob))
                self._retire(doc_id, self._held.get(doc_id))
                self._held[doc_id] = revision
                pulled += 1
                self.pulled += 1
            for doc_id in set(self._held) - set(wanted):
                self._retire(doc_id, self._held.pop(doc_id))
            if complete:
                self._seen = generation
            if pulled or len(self._held) != len(wanted):
                await asyncio.to_thread(self._save)
        if pulled:
            log.info("index replica pulled revisions", revisions=pulled)
        return pulled

    def _retire(self, doc_id: str, revision: int | None) -> None:
        # A query that read the live set just before the switch may still be searching.
        if revision is not None:
            self._retiring.append((time.monotonic() + self._grace_s, doc_id, revision))

    async def retire_due(self, *, all_now: bool = False) -> None:
        now = time.monotonic()
        due = [r for r in self._retiring if all_now or r[0] <= now]
        for entry in due:
            self._retiring.remove(entry)
            _, doc_id, revision = entry
            try:
                await self._store.delete_version(doc_id, revision)
            except YatriError as e:
                log.warning("index replica: retire failed", doc_id=doc_id, error=e.detail)
                self._retiring.append(entry)

    async def run(self, stop: asyncio.Event, *, interval_s: float = 1.0) -> None:
        """Follow the catalog until ``stop``; a failed pass is tried again at the next."""
        while not stop.is_set():
            try:
                await self.sync()
                await self.retire_due()
            except YatriError as e:
                log.warning("index replica: sync failed", error=e.detail)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
        with contextlib.suppress(YatriError):
            await self.retire_due(all_now=True)

    def _load(self) -> dict[str, int]:
        try:
            data: Any = orjson.loads(self._state.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}  # none yet, or unreadable: pull everything again (upserts are idempotent)
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self) -> None:
        self._state.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(self._held))
        os.replace(temporary, self._state)

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as e:
            raise DependencyUnavailableError("document catalog (Redis) is unavailable") from e
