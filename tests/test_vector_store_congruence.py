"""The same assertions against every VectorStore adapter: qdrant-client local mode, Qdrant Edge,
and a Qdrant server when YATRI_TEST_QDRANT_URL names one.

Five chunks in 8 dimensions, built so that every expected order is known by hand:

    name  dense (cos to e0)  sparse       vertical  supplier  lang  doc  ver  flagged
    a     1.0                {1: 1.0}     flights   indigo    en    d1   1
    b     0.8                {1: .5,2: 1} hotels    taj       hi    d1   2
    c    -0.0995             {2: 3.0}     flights   None      en    d2   1
    d     0.6                {3: 1.0}     trains    irctc     en    d3   1    yes
    e     0.05               {1: .8,3: .5} buses    redbus    hi    d3   2
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from core.errors import DependencyUnavailableError
from rag.edge import EdgeStore
from rag.qdrant import QdrantStore
from rag.store import (
    Hit,
    SearchFilter,
    SearchMode,
    SparseVector,
    StoredChunk,
    StoreHealth,
    VectorStore,
)

DIM = 8
SERVER_URL = os.environ.get("YATRI_TEST_QDRANT_URL")
EVERYTHING = SearchFilter(exclude_flagged=False)


class Store(VectorStore, Protocol):
    async def health(self) -> StoreHealth: ...


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    open: Callable[[], Store]
    drop: Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


@pytest.fixture(
    params=[
        "qdrant-local",
        "edge",
        pytest.param(
            "qdrant-server",
            marks=pytest.mark.skipif(
                not SERVER_URL,
                reason="set YATRI_TEST_QDRANT_URL=http://HOST:6333 (a running Qdrant server) to run "
                "against it",
            ),
        ),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "qdrant-local":
        return Engine(
            "qdrant-local",
            lambda: QdrantStore.open(url=None, path=tmp_path / "qdrant", collection="congruence"),
            _nothing,
        )
    if request.param == "edge":
        return Engine(
            "edge", lambda: EdgeStore.open(tmp_path / "edge", collection="congruence"), _nothing
        )
    collection = f"congruence-{uuid.uuid4().hex[:12]}"

    def open_server() -> Store:
        return QdrantStore.open(url=SERVER_URL, path=tmp_path, collection=collection)

    async def drop() -> None:
        store = QdrantStore.open(url=SERVER_URL, path=tmp_path, collection=collection)
        await store.client.delete_collection(collection)
        await store.close()

    return Engine("qdrant-server", open_server, drop)


@pytest.fixture
async def store(engine: Engine) -> AsyncIterator[Store]:
    opened = await asyncio.to_thread(engine.open)
    await opened.ensure_collection(dense_dim=DIM)
    try:
        yield opened
    finally:
        await opened.close()
        await engine.drop()


def point_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"yatri-congruence/{name}"))


def dense(*components: float) -> list[float]:
    vector = [*components, *[0.0] * (DIM - len(components))]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def sparse(weights: dict[int, float]) -> SparseVector:
    return SparseVector(indices=tuple(weights), values=tuple(weights.values()))


def chunk(
    name: str,
    *,
    vector: list[float],
    terms: dict[int, float],
    vertical: str,
    supplier: str | None,
    language: str,
    doc_id: str,
    version: int,
    flagged: bool = False,
) -> StoredChunk:
    payload: dict[str, Any] = {
        "name": name,
        "doc_id": doc_id,
        "version": version,
        "vertical": vertical,
        "supplier": supplier,
        "language": language,
        "flagged": flagged,
    }
    return StoredChunk(id=point_id(name), dense=vector, sparse=sparse(terms), payload=payload)


CHUNKS = [
    chunk(
        "a",
        vector=dense(1.0),
        terms={1: 1.0},
        vertical="flights",
        supplier="indigo",
        language="en",
        doc_id="d1",
        version=1,
    ),
    chunk(
        "b",
        vector=dense(0.8, 0.6),
        terms={1: 0.5, 2: 1.0},
        vertical="hotels",
        supplier="taj",
        language="hi",
        doc_id="d1",
        version=2,
    ),
    chunk(
        "c",
        vector=dense(-0.1, 1.0),
        terms={2: 3.0},
        vertical="flights",
        supplier=None,
        language="en",
        doc_id="d2",
        version=1,
    ),
    chunk(
        "d",
        vector=dense(0.6, 0.8),
        terms={3: 1.0},
        vertical="trains",
        supplier="irctc",
        language="en",
        doc_id="d3",
        version=1,
        flagged=True,
    ),
    chunk(
        "e",
        vector=dense(0.05, 0.0, 1.0),
        terms={1: 0.8, 3: 0.5},
        vertical="buses",
        supplier="redbus",
        language="hi",
        doc_id="d3",
        version=2,
    ),
]
QUERY_DENSE = dense(1.0)
QUERY_SPARSE = sparse({1: 1.0})


def names(hits: Sequence[Hit]) -> list[str]:
    return [str(hit.payload["name"]) for hit in hits]


async def search(
    store: Store,
    *,
    mode: SearchMode = "dense",
    filter: SearchFilter = EVERYTHING,
    limit: int = 10,
    vector: list[float] = QUERY_DENSE,
) -> list[Hit]:
    return await store.search(
        dense=vector, sparse=QUERY_SPARSE, filter=filter, limit=limit, mode=mode
    )


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.upsert(CHUNKS)
    return store


async def test_ensure_collection_is_idempotent(loaded: Store) -> None:
    await loaded.ensure_collection(dense_dim=DIM)
    await loaded.ensure_collection(dense_dim=DIM)
    assert await loaded.count() == 5


async def test_upsert_then_count(store: Store) -> None:
    assert await store.count() == 0
    await store.upsert(CHUNKS)
    assert await store.count() == 5
    assert await store.count(SearchFilter()) == 4  # the flagged chunk is left out by default


async def test_payload_round_trips(loaded: Store) -> None:
    hits = await search(loaded, limit=5)
    by_name = {hit.payload["name"]: hit for hit in hits}
    assert by_name["c"].payload == CHUNKS[2].payload  # a None supplier survives
    assert by_name["a"].id == point_id("a")


async def test_dense_ranks_nearest_first_with_cosine_scores(loaded: Store) -> None:
    hits = await search(loaded, mode="dense")
    assert names(hits) == ["a", "b", "d", "e", "c"]
    expected = [1.0, 0.8, 0.6, 0.05 / math.sqrt(1.0025), -0.1 / math.sqrt(1.01)]
    assert [hit.score for hit in hits] == pytest.approx(expected, abs=1e-5)


async def test_sparse_ranks_by_dot_product(loaded: Store) -> None:
    hits = await search(loaded, mode="sparse")
    assert names(hits) == ["a", "e", "b"]  # c and d share no term with the query
    assert [hit.score for hit in hits] == pytest.approx([1.0, 0.8, 0.5], abs=1e-6)


async def test_hybrid_fuses_the_union_with_rrf(loaded: Store) -> None:
    dense_hits = await search(loaded, mode="dense")
    sparse_hits = await search(loaded, mode="sparse")
    hits = await search(loaded, mode="hybrid")
    assert set(names(hits)) == set(names(dense_hits)) | set(names(sparse_hits))
    # RRF with k=2: 1/(2 + rank) summed over the lists that hold the point; "a" tops both lists.
    assert names(hits) == ["a", "b", "e", "d", "c"]
    expected = [1 / 2 + 1 / 2, 1 / 3 + 1 / 4, 1 / 5 + 1 / 3, 1 / 4, 1 / 6]
    assert [hit.score for hit in hits] == pytest.approx(expected, abs=1e-6)


async def test_hybrid_applies_the_filter_to_both_lists(loaded: Store) -> None:
    hits = await search(loaded, mode="hybrid", filter=SearchFilter(languages=("hi",)))
    # b and e tie on fused score inside the filter (each is one list's first), so order is free.
    assert sorted(names(hits)) == ["b", "e"]


@pytest.mark.parametrize(
    ("search_filter", "expected"),
    [
        pytest.param(
            SearchFilter(verticals=("flights",), exclude_flagged=False), {"a", "c"}, id="vertical"
        ),
        pytest.param(
            SearchFilter(verticals=("flights", "trains"), exclude_flagged=False),
            {"a", "c", "d"},
            id="verticals-any",
        ),
        pytest.param(
            SearchFilter(suppliers=("taj", "irctc"), exclude_flagged=False),
            {"b", "d"},
            id="suppliers",
        ),
        pytest.param(SearchFilter(suppliers=("taj", "irctc")), {"b"}, id="suppliers-unflagged"),
        pytest.param(SearchFilter(languages=("hi",)), {"b", "e"}, id="language"),
        pytest.param(
            SearchFilter(doc_ids=("d3",), exclude_flagged=False), {"d", "e"}, id="doc-ids"
        ),
        pytest.param(SearchFilter(doc_ids=("d3",)), {"e"}, id="doc-ids-unflagged"),
        pytest.param(SearchFilter(), {"a", "b", "c", "e"}, id="flagged-hidden"),
        pytest.param(
            SearchFilter(exclude_flagged=False), {"a", "b", "c", "d", "e"}, id="flagged-shown"
        ),
        pytest.param(
            SearchFilter(verticals=("flights", "hotels"), languages=("hi",)),
            {"b"},
            id="all-must-hold",
        ),
        pytest.param(SearchFilter(verticals=("ferries",)), set(), id="no-match"),
    ],
)
async def test_filters(loaded: Store, search_filter: SearchFilter, expected: set[str]) -> None:
    modes: tuple[SearchMode, ...] = ("dense", "hybrid")
    for mode in modes:
        assert set(names(await search(loaded, mode=mode, filter=search_filter))) == expected
    assert await loaded.count(search_filter) == len(expected)


async def test_limit_is_respected(loaded: Store) -> None:
    modes: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
    for mode in modes:
        assert len(await search(loaded, mode=mode, limit=2)) == 2


async def test_delete_version_removes_only_that_version(loaded: Store) -> None:
    await loaded.delete_version("d1", 1)
    assert await loaded.count(EVERYTHING) == 4
    assert set(names(await search(loaded))) == {"b", "c", "d", "e"}


async def test_delete_document_removes_every_version(loaded: Store) -> None:
    await loaded.delete_document("d3")
    assert await loaded.count(EVERYTHING) == 3
    assert set(names(await search(loaded))) == {"a", "b", "c"}
    await loaded.delete_document("no-such-document")
    assert await loaded.count(EVERYTHING) == 3


async def test_upsert_of_an_existing_id_replaces_it(loaded: Store) -> None:
    replacement = chunk(
        "a",
        vector=dense(0.0, 0.0, 0.0, 1.0),
        terms={7: 1.0},
        vertical="hotels",
        supplier="taj",
        language="en",
        doc_id="d1",
        version=1,
    )
    await loaded.upsert([replacement])
    assert await loaded.count(EVERYTHING) == 5
    top = (await search(loaded, vector=dense(0.0, 0.0, 0.0, 1.0), limit=1))[0]
    assert top.id == point_id("a")
    assert top.payload["vertical"] == "hotels"
    assert top.score == pytest.approx(1.0, abs=1e-6)
    assert "a" not in names(await search(loaded, mode="sparse"))  # its old terms are gone


async def test_reopen_after_close_keeps_data(engine: Engine, loaded: Store) -> None:
    await loaded.close()
    reopened = await asyncio.to_thread(engine.open)
    try:
        await reopened.ensure_collection(dense_dim=DIM)
        assert await reopened.count(EVERYTHING) == 5
        assert names(await search(reopened, mode="hybrid")) == ["a", "b", "e", "d", "c"]
    finally:
        await reopened.close()


async def test_health_reports_the_collection(loaded: Store) -> None:
    health = await loaded.health()
    assert health.collections >= 1
    assert health.latency_ms >= 0


async def add_deleted_filler(store: Store) -> None:
    """600 live and 600 deleted chunks: enough dead weight that the engine has real work to do
    in ``optimize`` (Qdrant Edge vacuums the segment). The filler lies in dimensions 3-7,
    orthogonal to the query, and shares no term with it, so the expected orders stand."""
    filler = [
        chunk(
            f"filler-{i}",
            vector=dense(0.0, 0.0, 0.0, *[((i * 7 + j * 3) % 11) - 5.0 for j in range(5)]),
            terms={100 + i % 50: 1.0},
            vertical="hotels",
            supplier=None,
            language="en",
            doc_id="filler",
            version=1 + i % 2,
        )
        for i in range(1200)
    ]
    await store.upsert(filler)
    await store.delete_version("filler", 1)


async def test_optimize_keeps_data_and_lets_reads_and_writes_run(
    engine: Engine, loaded: Store
) -> None:
    await add_deleted_filler(loaded)
    late = chunk(
        "late",
        vector=dense(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        terms={9: 1.0},
        vertical="flights",
        supplier="indigo",
        language="en",
        doc_id="d9",
        version=1,
    )

    optimizing = asyncio.create_task(loaded.optimize())
    await asyncio.sleep(0.05)
    await loaded.upsert([late])
    while not optimizing.done():
        assert names(await search(loaded, limit=3)) == ["a", "b", "d"]
        await asyncio.sleep(0.01)
    await optimizing

    assert await loaded.count(EVERYTHING) == 5 + 600 + 1
    assert names(await search(loaded, mode="hybrid", limit=3)) == ["a", "b", "e"]
    top = await search(loaded, vector=dense(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0), limit=1)
    assert names(top) == ["late"]

    await loaded.close()
    reopened = await asyncio.to_thread(engine.open)
    try:
        assert await reopened.count(EVERYTHING) == 606
    finally:
        await reopened.close()


async def test_close_during_optimize_keeps_data(engine: Engine, loaded: Store) -> None:
    await add_deleted_filler(loaded)
    optimizing = asyncio.create_task(loaded.optimize())
    await asyncio.sleep(0.05)
    await loaded.close()
    with contextlib.suppress(DependencyUnavailableError):
        await optimizing
    reopened = await asyncio.to_thread(engine.open)
    try:
        assert await reopened.count(EVERYTHING) == 605
        assert names(await search(reopened, mode="hybrid", limit=3)) == ["a", "b", "e"]
    finally:
        await reopened.close()
