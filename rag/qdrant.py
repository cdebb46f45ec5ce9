"""The Qdrant adapter: the only module that imports ``qdrant_client``. One code path serves the
embedded on-disk store (local mode) and a Qdrant server or cluster (a URL)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.errors import DependencyUnavailableError, StartupError
from rag.store import Hit, SearchFilter, SearchMode, SparseVector, StoredChunk, StoreHealth

T = TypeVar("T")

DENSE = "dense"
SPARSE = "sparse"
UPSERT_BATCH = 256
# Library errors that mean "Qdrant could not do it": transport failures, server answers, and the
# ValueError local mode raises for a missing collection or a wrong vector size.
_QDRANT_ERRORS = (ResponseHandlingException, UnexpectedResponse, OSError, ValueError, TimeoutError)
_PAYLOAD_INDEXES = {
    "doc_id": models.PayloadSchemaType.KEYWORD,
    "version": models.PayloadSchemaType.INTEGER,
    "vertical": models.PayloadSchemaType.KEYWORD,
    "supplier": models.PayloadSchemaType.KEYWORD,
    "language": models.PayloadSchemaType.KEYWORD,
    "flagged": models.PayloadSchemaType.BOOL,
}


class _PrivateLoop:
    """Runs coroutines one at a time on an event loop of its own, in one worker thread.

    qdrant-client's local mode does all its work inside ``async def`` methods that never await,
    so awaiting them on the app's loop would stall every other request for the whole search."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="qdrant-local", daemon=True
        )
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class QdrantStore:
    """A ``VectorStore`` on one Qdrant collection, through qdrant-client (server or local mode)."""

    def __init__(
        self,
        client: AsyncQdrantClient,
        *,
        mode: str,
        collection: str = "policies",
        shared_with: QdrantStore | None = None,
    ) -> None:
        self.client = client
        self.mode = mode
        self.collection = collection
        self._owner = shared_with is None  # a sibling leaves the shared client open
        self._private_loop: _PrivateLoop | None
        if shared_with is not None:
            self._private_loop = shared_with._private_loop
        else:
            self._private_loop = _PrivateLoop() if mode == "embedded" else None

    def sibling(self, collection: str) -> QdrantStore:
        """Another collection through the same client (local mode allows one client a folder);
        closing the sibling leaves the client to this store."""
        return QdrantStore(self.client, mode=self.mode, collection=collection, shared_with=self)

    @classmethod
    def open(
        cls,
        *,
        url: str | None,
        path: Path,
        api_key: str | None = None,
        collection: str = "policies",
    ) -> QdrantStore:
        if url:
            client = AsyncQdrantClient(url=url, api_key=api_key, timeout=5)
            return cls(client, mode="server", collection=collection)
        if str(path) != ":memory:":  # ":memory:" keeps local mode in memory (benchmarks)
            path.mkdir(parents=True, exist_ok=True)
        try:
            client = AsyncQdrantClient(path=str(path))
        except RuntimeError as e:  # local mode refuses a folder another process holds
            raise StartupError(f"embedded Qdrant at {path} is in use: {e}") from e
        return cls(client, mode="embedded", collection=collection)

    @property
    def engine(self) -> str:
        return "qdrant-server" if self.mode == "server" else "qdrant-local"

    async def health(self) -> StoreHealth:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(3):
                collections = await self.client.get_collections()
                server_version = (
                    (await self.client.info()).version
                    if self.mode == "server"
                    else f"local (qdrant-client {version('qdrant-client')})"
                )
        except (TimeoutError, ResponseHandlingException, UnexpectedResponse, OSError) as e:
            raise DependencyUnavailableError("Qdrant is not answering") from e
        return StoreHealth(
            mode=self.mode,
            version=server_version,
            collections=len(collections.collections),
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def ensure_collection(self, *, dense_dim: int) -> None:
        """Create the collection (named dense cosine vector, named sparse dot-product vector)
        and its payload indexes if missing; an existing collection is left as it is."""
        if await self._call(self.client.collection_exists(self.collection)):
            return
        await self._call(
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=dense_dim, distance=models.Distance.COSINE)
                },
                # No IDF modifier: the sparse weights arrive as finished BM25 weights.
                sparse_vectors_config={SPARSE: models.SparseVectorParams()},
            )
        )
        if self.mode == "embedded":  # local mode has no payload indexes and warns when asked
            return
        for field_name, schema in _PAYLOAD_INDEXES.items():
            await self._call(
                self.client.create_payload_index(
                    self.collection, field_name=field_name, field_schema=schema, wait=True
                )
            )

    async def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert or replace the chunks by id, in batches of ``UPSERT_BATCH``."""
        for start in range(0, len(chunks), UPSERT_BATCH):
            points = [_point(chunk) for chunk in chunks[start : start + UPSERT_BATCH]]
            await self._call(self.client.upsert(self.collection, points=points, wait=True))

    async def delete_version(self, doc_id: str, version: int) -> None:
        """Delete every chunk of one document version."""
        await self._delete(
            [_match("doc_id", doc_id), models.FieldCondition(key="version", match=_value(version))]
        )

    async def delete_document(self, doc_id: str) -> None:
        """Delete every chunk of every version of a document."""
        await self._delete([_match("doc_id", doc_id)])

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
        scores (the server's k=2) for hybrid, whose two prefetches both apply the filter."""
        query_filter = _filter(filter)
        dense_query = list(dense)
        sparse_query = models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))
        if mode == "dense":
            request = self.client.query_points(
                self.collection,
                query=dense_query,
                using=DENSE,
                query_filter=query_filter,
                limit=limit,
                with_payload=True,
            )
        elif mode == "sparse":
            request = self.client.query_points(
                self.collection,
                query=sparse_query,
                using=SPARSE,
                query_filter=query_filter,
                limit=limit,
                with_payload=True,
            )
        else:
            depth = max(limit * 4, 20)
            request = self.client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(
                        query=dense_query, using=DENSE, filter=query_filter, limit=depth
                    ),
                    models.Prefetch(
                        query=sparse_query, using=SPARSE, filter=query_filter, limit=depth
                    ),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=limit,
                with_payload=True,
            )
        response = await self._call(request)
        return [
            Hit(id=str(point.id), score=point.score, payload=dict(point.payload or {}))
            for point in response.points
        ]

    async def count(self, filter: SearchFilter | None = None) -> int:
        """Exact number of chunks; with a filter, of those it lets through."""
        result = await self._call(
            self.client.count(
                self.collection,
                count_filter=_filter(filter) if filter is not None else None,
                exact=True,
            )
        )
        return result.count

    async def optimize(self) -> None:
        """Nothing to do: a server indexes in the background and local mode searches exactly."""

    async def close(self) -> None:
        if not self._owner:
            return
        await self.client.close()
        if self._private_loop is not None:
            self._private_loop.stop()

    async def _delete(self, must: list[models.Condition]) -> None:
        await self._call(
            self.client.delete(
                self.collection,
                points_selector=models.FilterSelector(filter=models.Filter(must=must)),
                wait=True,
            )
        )

    async def _call(self, request: Coroutine[Any, Any, T]) -> T:
        """Await one client call, off the app's loop in local mode; library errors become
        ``DependencyUnavailableError``."""
        try:
            if self._private_loop is not None:
                return await self._private_loop.run(request)
            return await request
        except _QDRANT_ERRORS as e:
            raise DependencyUnavailableError(
                f"Qdrant failed on collection {self.collection!r}: {e}"
            ) from e


def _point(chunk: StoredChunk) -> models.PointStruct:
    return models.PointStruct(
        id=chunk.id,
        vector={
            DENSE: list(chunk.dense),
            SPARSE: models.SparseVector(
                indices=list(chunk.sparse.indices), values=list(chunk.sparse.values)
            ),
        },
        payload=chunk.payload,
    )


def _value(value: str | int | bool) -> models.MatchValue:
    return models.MatchValue(value=value)


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=_value(value))


def _filter(search_filter: SearchFilter) -> models.Filter | None:
    """Every non-empty tuple becomes a MatchAny that must hold; ``exclude_flagged`` a must-not."""
    wanted = (
        ("vertical", search_filter.verticals),
        ("supplier", search_filter.suppliers),
        ("language", search_filter.languages),
        ("doc_id", search_filter.doc_ids),
    )
    must: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))
        for key, values in wanted
        if values
    ]
    must_not: list[models.Condition] = (
        [models.FieldCondition(key="flagged", match=_value(True))]
        if search_filter.exclude_flagged
        else []
    )
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)
