"""Intent by retrieval: the example utterances are embedded (MiniLM, the engine retrieval uses)
and stored in a collection of their own through the `VectorStore` port, their source. Each
point's payload carries its vector as well, so the live version is read back from the store into
an in-process mirror, and a turn's nearest examples are found by an exact search in numpy (a few
hundred points: tens of microseconds, where a search through the store cost milliseconds and, on
Qdrant Edge, held the GIL). The nearest examples vote, weighted by similarity; the vote gives a
confidence and a margin."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import math
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import DependencyUnavailableError
from core.logging import get_logger
from intents.catalogue import Catalogue
from intents.models import Intent
from intents.text import read
from rag.embeddings import EmbeddingPool, Vectors
from rag.store import Hit, SearchFilter, SparseVector, StoredChunk, VectorStore

log = get_logger(__name__)

DOC_ID = "intent-examples"
_NO_SPARSE = SparseVector(indices=(), values=())
_NAMESPACE = uuid.UUID("8d0c3c52-6a43-4b9e-9a55-2f1f3f0e7a11")
# The payload field holding a point's vector (float32, little-endian, base64): the port returns
# payloads, not vectors, and the mirror is read from the store.
VECTOR_FIELD = "vector_f32"


@dataclass(frozen=True, slots=True)
class Vote:
    ranked: tuple[tuple[Intent, float], ...]  # intents by vote share, best first
    best_similarity: float  # cosine to the nearest example
    nearest: str  # the nearest example's text

    @property
    def intent(self) -> Intent:
        return self.ranked[0][0] if self.ranked else Intent.OUT_OF_SCOPE

    @property
    def share(self) -> float:
        return self.ranked[0][1] if self.ranked else 0.0

    @property
    def margin(self) -> float:
        if not self.ranked:
            return 0.0
        second = self.ranked[1][1] if len(self.ranked) > 1 else 0.0
        return self.ranked[0][1] - second


@dataclass(frozen=True, slots=True)
class _Mirror:
    """The live version's examples as read back from the store."""

    version: int
    vectors: npt.NDArray[np.float32]  # one unit-length row per example
    intents: tuple[Intent, ...]
    texts: tuple[str, ...]


class VectorCache(Protocol):
    """Vectors by content hash, shared across processes (rag.catalog.EmbeddingCache)."""

    async def get_many(self, hashes: list[str]) -> list[Vectors | None]: ...

    async def put_many(self, items: Mapping[str, Vectors]) -> None: ...


class ExampleIndex:
    """The examples' collection: indexed when their content hash changes; searched per turn."""

    def __init__(
        self,
        *,
        store: VectorStore,
        embeddings: EmbeddingPool,
        cache: VectorCache | None = None,
        k: int = 12,
        temperature: float = 0.05,
        cache_size: int = 4096,
    ) -> None:
        self._store = store
        self._embeddings = embeddings
        self._vectors = cache
        self._k = k
        self._temperature = temperature
        self._mirror: _Mirror | None = None
        self._lock = asyncio.Lock()
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size

    @property
    def version(self) -> int | None:
        return self._mirror.version if self._mirror is not None else None

    async def sync(self, catalogue: Catalogue) -> bool:
        """Index ``catalogue`` unless the collection already holds exactly this version (with
        its vectors in the payload); the previous version is deleted after the switch. Either
        way the mirror is (re)loaded from the store. True if it indexed."""
        async with self._lock:
            await self._store.ensure_collection(dense_dim=self._embeddings.embedder.dimension)
            stored = await self._stored()
            wanted = catalogue.version
            versions = {int(h.payload["version"]) for h in stored}
            live = [h for h in stored if int(h.payload["version"]) == wanted]
            if (
                versions == {wanted}
                and len(live) == len(catalogue.examples)
                and all(VECTOR_FIELD in h.payload for h in live)
            ):
                self._mirror = _mirror(wanted, live)
                return False
            texts = [read(e.text).text for e in catalogue.examples]
            vectors = await self._embed_all(texts)
            chunks = [
                StoredChunk(
                    id=str(uuid.uuid5(_NAMESPACE, f"{catalogue.digest}:{i}")),
                    dense=vector.tolist(),
                    sparse=_NO_SPARSE,
                    payload={
                        "doc_id": DOC_ID,
                        "version": wanted,
                        "vertical": "intents",
                        "supplier": None,
                        "language": "any",
                        "flagged": False,
                        "intent": example.intent.value,
                        "text": example.text,
                        VECTOR_FIELD: _pack(vector),
                    },
                )  # fmt: skip
                for i, (example, vector) in enumerate(zip(catalogue.examples, vectors, strict=True))
            ]
            await self._store.upsert(chunks)
            live = [h for h in await self._stored() if int(h.payload["version"]) == wanted]
            if len(live) != len(chunks):
                raise DependencyUnavailableError(
                    f"intent examples: {len(chunks)} written, {len(live)} read back"
                )
            self._mirror = _mirror(wanted, live)
            for old in versions - {wanted}:
                await self._store.delete_version(DOC_ID, old)
            log.info("intent examples indexed", examples=len(chunks), version=catalogue.digest[:12])
            return True

    async def _embed_all(self, texts: list[str]) -> list[Vectors]:
        """Vectors for `texts`, from the shared cache where another process (or an earlier
        data directory) already embedded them: a fresh index costs an upsert, not a model run."""
        if self._vectors is None:
            return list(await self._embeddings.embed(texts))
        hashes = [hashlib.sha256(f"intent-example:{t}".encode()).hexdigest() for t in texts]
        try:
            found = await self._vectors.get_many(hashes)
        except DependencyUnavailableError:
            # The cache only saves work: without it the examples are embedded here.
            log.warning("embedding cache unavailable; embedding the intent examples")
            return list(await self._embeddings.embed(texts))
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            fresh = await self._embeddings.embed([texts[i] for i in missing])
            with contextlib.suppress(DependencyUnavailableError):
                await self._vectors.put_many(
                    {hashes[i]: v for i, v in zip(missing, fresh, strict=True)}
                )
            for i, vector in zip(missing, fresh, strict=True):
                found[i] = vector
        return [v for v in found if v is not None]

    async def _stored(self) -> list[Hit]:
        """Every stored example point, of every version, with its payload."""
        total = await self._store.count(SearchFilter(doc_ids=(DOC_ID,)))
        if total == 0:
            return []
        probe = [0.0] * self._embeddings.embedder.dimension
        probe[0] = 1.0
        # A collection this small is searched exhaustively, so `limit=total` returns them all.
        return await self._store.search(
            dense=probe, sparse=_NO_SPARSE, filter=SearchFilter(doc_ids=(DOC_ID,)),
            limit=total, mode="dense",
        )  # fmt: skip

    async def embed(self, text: str) -> Vectors:
        """The reading form's vector, from a small LRU cache when the text was seen."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector: Vectors = (await self._embeddings.embed([text]))[0]
        self._cache[text] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vector

    async def vote(self, text: str) -> Vote:
        """The nearest examples' vote on the intent of ``text`` (the reading form)."""
        return self.vote_for(await self.embed(text))

    def vote_for(self, vector: Vectors) -> Vote:
        """The vote of the examples nearest ``vector``: exact cosine over the mirror."""
        mirror = self._mirror
        if mirror is None or not mirror.texts:
            return Vote((), 0.0, "")
        # einsum's own loop, not BLAS: OpenBLAS would split this product over threads that
        # then spin, on cores the embedding of the next turn needs.
        scores = np.einsum("ij,j->i", mirror.vectors, vector.astype(np.float32, copy=False))
        k = min(self._k, len(scores))
        nearest = np.argpartition(-scores, k - 1)[:k]
        nearest = nearest[np.argsort(-scores[nearest], kind="stable")]
        top = float(scores[nearest[0]])
        weights: dict[Intent, float] = defaultdict(float)
        for i in nearest:
            weights[mirror.intents[i]] += math.exp((float(scores[i]) - top) / self._temperature)
        total = sum(weights.values())
        ranked = sorted(((i, w / total) for i, w in weights.items()), key=lambda x: -x[1])
        return Vote(tuple(ranked), top, mirror.texts[nearest[0]])


def _pack(vector: Vectors) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def _mirror(version: int, hits: list[Hit]) -> _Mirror:
    """The mirror of one version's points, in a stable order (by point id)."""
    hits = sorted(hits, key=lambda h: h.id)
    payloads: list[dict[str, Any]] = [h.payload for h in hits]
    vectors = np.stack(
        [np.frombuffer(base64.b64decode(p[VECTOR_FIELD]), dtype="<f4") for p in payloads]
    ) if payloads else np.zeros((0, 0), dtype=np.float32)  # fmt: skip
    return _Mirror(
        version=version,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        intents=tuple(Intent(p["intent"]) for p in payloads),
        texts=tuple(str(p.get("text", "")) for p in payloads),
    )
