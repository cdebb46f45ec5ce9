"""The vector store port: what retrieval and ingest need from Qdrant, whichever engine runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SearchMode = Literal["hybrid", "dense", "sparse"]

# Payload fields with an index; filters use only these.
INDEXED_FIELDS = ("doc_id", "version", "vertical", "supplier", "language", "flagged")


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: str  # uuid string
    dense: Sequence[float]
    sparse: SparseVector
    payload: dict[str, Any]  # must hold every INDEXED_FIELDS key ("supplier" may be None)


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """All given conditions must hold; an empty tuple means "any"."""

    verticals: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    exclude_flagged: bool = True


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreHealth:
    mode: str
    version: str
    collections: int
    latency_ms: float


class VectorStore(Protocol):
    """One collection of chunks with a named dense vector ("dense", cosine) and a named sparse
    vector ("sparse", dot product on client-computed BM25 weights)."""

    @property
    def engine(self) -> str: ...

    async def ensure_collection(self, *, dense_dim: int) -> None:
        """Create the collection and payload indexes if missing; idempotent."""
        ...

    async def upsert(self, chunks: Sequence[StoredChunk]) -> None: ...

    async def delete_version(self, doc_id: str, version: int) -> None:
        """Delete every chunk of one document version."""
        ...

    async def delete_document(self, doc_id: str) -> None:
        """Delete every chunk of every version of a document."""
        ...

    async def search(
        self,
        *,
        dense: Sequence[float],
        sparse: SparseVector,
        filter: SearchFilter,
        limit: int,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """Top ``limit`` hits, best first. Hybrid fuses a dense and a sparse prefetch with
        reciprocal-rank fusion; its scores are RRF scores, dense scores are cosine."""
        ...

    async def count(self, filter: SearchFilter | None = None) -> int: ...

    async def optimize(self) -> None:
        """Build indexes after bulk writes (blocking work runs off the event loop)."""
        ...

    async def health(self) -> StoreHealth:
        """Engine, version and round-trip time; ``DependencyUnavailableError`` when down."""
        ...

    async def close(self) -> None: ...
