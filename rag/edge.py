"""The Qdrant Edge adapter: the only module that imports ``qdrant_edge``, Qdrant's engine embedded
in this process. One edge shard holds one collection.

qdrant-edge-py 0.9 keeps the GIL for the whole of every call, so a call in a worker thread still
stalls the event loop while it runs. Searches and batched writes are short enough for that;
building HNSW is not (one to two minutes at 100K points on two cores), so ``optimize`` builds it
in a child process on a copy of the shard and then switches to the copy.

On disk, ``<path>/<collection>/CURRENT`` names the live generation directory (``gen-000001``...);
each generation is a complete shard.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    MatchAny,
    MatchValue,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    ScoredPoint,
    UpdateOperation,
)
from qdrant_edge import SparseVector as EdgeSparseVector

from core.errors import DependencyUnavailableError, StartupError
from rag.store import Hit, SearchFilter, SearchMode, SparseVector, StoredChunk, StoreHealth

if TYPE_CHECKING:  # a stub-only alias
    from qdrant_edge import ConditionType

T = TypeVar("T")

DENSE = "dense"
SPARSE = "sparse"
UPSERT_BATCH = 256
# Qdrant server's default RRF constant, so hybrid scores match the qdrant-client adapter's.
RRF_K = 2
_CURRENT = "CURRENT"
_PAYLOAD_INDEXES = {
    "doc_id": PayloadSchemaType.Keyword,
    "version": PayloadSchemaType.Integer,
    "vertical": PayloadSchemaType.Keyword,
    "supplier": PayloadSchemaType.Keyword,
    "language": PayloadSchemaType.Keyword,
    "flagged": PayloadSchemaType.Bool,
}
# The binding converts a Python ``True`` to the integer 1 (it tries int before bool), which
# matches no boolean payload; numpy's bool converts only as a bool.
_TRUE = cast(bool, np.True_)
_OPTIMIZE_SCRIPT = """\
import sys
from qdrant_edge import EdgeShard
shard = EdgeShard.load(sys.argv[1])
print(shard.optimize())
shard.close()
"""


@dataclass(slots=True)
class _Generation:
    """One shard directory and the searches now running on it."""

    directory: Path
    shard: EdgeShard
    readers: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


class EdgeStore:
    """A ``VectorStore`` on an edge shard persisted under ``<path>/<collection>``."""

    def __init__(self, root: Path, generation: _Generation | None) -> None:
        self._root = root
        self._gen = generation
        self._write_lock = asyncio.Lock()  # keeps writes in the order they are replayed
        self._optimize_lock = asyncio.Lock()
        self._replay: list[UpdateOperation] | None = None  # writes made while optimize runs
        self._child: asyncio.subprocess.Process | None = None

    @classmethod
    def open(cls, path: Path, *, collection: str = "policies") -> EdgeStore:
        """Load the collection's live shard if it exists (blocking); ``ensure_collection``
        creates it otherwise. Leftovers of an interrupted ``optimize`` are removed."""
        root = path / collection
        root.mkdir(parents=True, exist_ok=True)
        current = root / _CURRENT
        generation = None
        if current.exists():
            directory = root / current.read_text().strip()
            try:
                shard = EdgeShard.load(str(directory))
            except Exception as e:  # qdrant_edge raises plain Exception; WouldBlock: in use
                raise StartupError(f"embedded Qdrant Edge at {directory} cannot open: {e}") from e
            generation = _Generation(directory, shard)
        for stale in root.glob("gen-*"):
            if generation is None or stale != generation.directory:
                shutil.rmtree(stale, ignore_errors=True)
        return cls(root, generation)

    @property
    def engine(self) -> str:
        return "qdrant-edge"

    async def health(self) -> StoreHealth:
        """Answers while ``optimize`` runs (that work is in another process)."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(3):
                if self._gen is not None:
                    await self._read(lambda shard: shard.info())
        except TimeoutError as e:
            raise DependencyUnavailableError("Qdrant Edge is not answering") from e
        return StoreHealth(
            mode="embedded-edge",
            version=f"qdrant-edge-py {version('qdrant-edge-py')}",
            collections=0 if self._gen is None else 1,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def ensure_collection(self, *, dense_dim: int) -> None:
        """Create the shard (named dense cosine vector, named sparse dot-product vector) if
        missing, and any payload index it lacks; an existing shard keeps its vectors."""
        async with self._write_lock:
            if self._gen is None:
                directory = self._root / "gen-000001"
                config = EdgeConfig(
                    vectors={DENSE: EdgeVectorParams(size=dense_dim, distance=Distance.Cosine)},
                    # No IDF modifier: the sparse weights arrive as finished BM25 weights.
                    sparse_vectors={SPARSE: EdgeSparseVectorParams()},
                )
                shard = await asyncio.to_thread(_engine, EdgeShard.create, str(directory), config)
                await asyncio.to_thread(_point_current_at, self._root, directory)
                self._gen = _Generation(directory, shard)
        indexed = (await self._read(lambda shard: shard.info())).payload_schema
        for field_name, schema in _PAYLOAD_INDEXES.items():
            if field_name not in indexed:
                await self._write(UpdateOperation.create_field_index(field_name, schema))

    async def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert or replace the chunks by id, in batches of ``UPSERT_BATCH`` so that searches
        get the loop between batches."""
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = [_point(chunk) for chunk in chunks[start : start + UPSERT_BATCH]]
            await self._write(UpdateOperation.upsert_points(points))

    async def delete_version(self, doc_id: str, version: int) -> None:
        """Delete every chunk of one document version."""
        conditions: list[ConditionType] = [_equals("doc_id", doc_id), _equals("version", version)]
        await self._write(UpdateOperation.delete_points_by_filter(Filter(must=conditions)))

    async def delete_document(self, doc_id: str) -> None:
        """Delete every chunk of every version of a document."""
        conditions: list[ConditionType] = [_equals("doc_id", doc_id)]
        await self._write(UpdateOperation.delete_points_by_filter(Filter(must=conditions)))

    async def search(
        self,
        *,
        dense: Sequence[float],
        sparse: SparseVector,
        filter: SearchFilter,
        limit: int,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """Top ``limit`` hits, best first: cosine scores for dense, dot products for sparse, RRF
        scores (k=2) for hybrid, whose two prefetches both apply the filter."""
        query_filter = _filter(filter)
        dense_query = Query.Nearest(list(dense), using=DENSE)
        sparse_query = Query.Nearest(
            EdgeSparseVector(list(sparse.indices), list(sparse.values)), using=SPARSE
        )
        if mode == "hybrid":
            depth = max(limit * 4, 20)
            request = QueryRequest(
                limit=limit,
                prefetches=[
                    Prefetch(limit=depth, query=dense_query, filter=query_filter),
                    Prefetch(limit=depth, query=sparse_query, filter=query_filter),
                ],
                query=Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stubs omit Rrf
                with_payload=True,
            )
        else:
            request = QueryRequest(
                limit=limit,
                query=dense_query if mode == "dense" else sparse_query,
                filter=query_filter,
                with_payload=True,
            )
        points = await self._read(lambda shard: shard.query(request))
        return [_hit(point) for point in points]

    async def count(self, filter: SearchFilter | None = None) -> int:
        """Exact number of chunks; with a filter, of those it lets through."""
        request = CountRequest(exact=True, filter=_filter(filter) if filter is not None else None)
        return await self._read(lambda shard: shard.count(request))

    async def optimize(self) -> None:
        """Build HNSW indexes in a child process on a copy of the shard, then switch to the copy.

        Searches and writes go on against the live shard meanwhile; writes made during the build
        are replayed onto the copy before the switch. The copy and the switch hold writes back
        briefly; loading the optimized shard stalls the loop for about as long as ``open``."""
        async with self._optimize_lock:
            if self._gen is None:
                return
            async with self._write_lock:
                old = self._current()
                fresh = self._root / _next_generation(old.directory.name)
                await asyncio.to_thread(_engine, old.shard.flush)
                await asyncio.to_thread(shutil.copytree, old.directory, fresh)
                self._replay = []
            switched = False
            try:
                switched = await self._optimize_copy(fresh) and await self._switch(old, fresh)
            finally:
                self._replay = None
                if not switched:
                    await asyncio.to_thread(shutil.rmtree, fresh, ignore_errors=True)
        if switched:
            await self._retire(old)

    async def close(self) -> None:
        """Stop a running ``optimize`` build, wait for running searches, close the shard."""
        if self._child is not None and self._child.returncode is None:
            self._child.kill()  # optimize() then finds the store closed and drops its copy
        async with self._write_lock:
            generation, self._gen = self._gen, None
            if generation is not None:
                await generation.idle.wait()
                await asyncio.to_thread(_engine, generation.shard.close)

    def _current(self) -> _Generation:
        if self._gen is None:
            raise DependencyUnavailableError(
                f"Qdrant Edge collection {self._root.name!r} is closed or not created yet"
            )
        return self._gen

    async def _read(self, call: Callable[[EdgeShard], T]) -> T:
        generation = self._current()
        generation.readers += 1
        generation.idle.clear()
        try:
            return await asyncio.to_thread(_engine, call, generation.shard)
        finally:
            generation.readers -= 1
            if generation.readers == 0:
                generation.idle.set()

    async def _write(self, operation: UpdateOperation) -> None:
        async with self._write_lock:
            await asyncio.to_thread(_engine, self._current().shard.update, operation)
            if self._replay is not None:
                self._replay.append(operation)

    async def _optimize_copy(self, directory: Path) -> bool:
        """Run the engine's optimizer on ``directory`` in a child process; True if it changed
        anything, False if ``close`` stopped it. The child is killed if this is cancelled."""
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _OPTIMIZE_SCRIPT,
            str(directory),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await self._child.communicate()
        except BaseException:
            if self._child.returncode is None:
                self._child.kill()
                await self._child.wait()
            raise
        finally:
            returncode, self._child = self._child.returncode, None
        if returncode != 0:
            if self._gen is None:
                return False
            raise DependencyUnavailableError(
                f"Qdrant Edge optimize failed: {err.decode(errors='replace')[-500:]}"
            )
        return out.strip() == b"True"

    async def _switch(self, old: _Generation, fresh: Path) -> bool:
        """Make ``fresh`` live once the writes made since the copy are replayed onto it; False
        if the store was closed meanwhile."""
        async with self._write_lock:
            if self._gen is not old:
                return False
            shard = await asyncio.to_thread(_load_and_replay, fresh, self._replay or [])
            await asyncio.to_thread(_point_current_at, self._root, fresh)
            self._gen = _Generation(fresh, shard)
            return True

    async def _retire(self, generation: _Generation) -> None:
        await generation.idle.wait()
        await asyncio.to_thread(_engine, generation.shard.close)
        await asyncio.to_thread(shutil.rmtree, generation.directory, ignore_errors=True)


def _engine(call: Callable[..., T], *args: Any) -> T:
    """One blocking engine call; its errors become ``DependencyUnavailableError``."""
    try:
        return call(*args)
    except Exception as e:  # qdrant_edge raises plain Exception (ValueError for bad input)
        raise DependencyUnavailableError(f"Qdrant Edge failed: {e}") from e


def _load_and_replay(directory: Path, operations: Sequence[UpdateOperation]) -> EdgeShard:
    shard = _engine(EdgeShard.load, str(directory))
    try:
        for operation in operations:
            _engine(shard.update, operation)
    except DependencyUnavailableError:
        shard.close()
        raise
    return shard


def _point_current_at(root: Path, directory: Path) -> None:
    """Switch ``CURRENT`` atomically, so a crash leaves either generation whole."""
    staged = root / f"{_CURRENT}.tmp"
    staged.write_text(directory.name)
    os.replace(staged, root / _CURRENT)


def _next_generation(name: str) -> str:
    return f"gen-{int(name.removeprefix('gen-')) + 1:06d}"


def _point(chunk: StoredChunk) -> Point:
    vectors: dict[str, Any] = {
        DENSE: list(chunk.dense),
        SPARSE: EdgeSparseVector(list(chunk.sparse.indices), list(chunk.sparse.values)),
    }
    return Point(chunk.id, vectors, chunk.payload)


def _hit(point: ScoredPoint) -> Hit:
    return Hit(id=str(point.id), score=point.score, payload=dict(point.payload or {}))


def _equals(key: str, value: str | int) -> FieldCondition:
    return FieldCondition(key, match=MatchValue(value))


def _filter(search_filter: SearchFilter) -> Filter | None:
    """Every non-empty tuple becomes a MatchAny that must hold; ``exclude_flagged`` a must-not."""
    wanted = (
        ("vertical", search_filter.verticals),
        ("supplier", search_filter.suppliers),
        ("language", search_filter.languages),
        ("doc_id", search_filter.doc_ids),
    )
    must: list[ConditionType] = [
        FieldCondition(key, match=MatchAny(list(values))) for key, values in wanted if values
    ]
    must_not: list[ConditionType] = (
        [FieldCondition("flagged", match=MatchValue(_TRUE))]
        if search_filter.exclude_flagged
        else []
    )
    if not must and not must_not:
        return None
    return Filter(must=must or None, must_not=must_not or None)
