"""Two API processes' worth of apps on one Redis, each with its own embedded index (its own data
directory): a document uploaded to one is answered from by the other, an update moves both to
the new revision, a delete leaves both, and a restart pulls only what changed meanwhile — the
real embedded engine, the real model, the real Redis catalog."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.deps import Services
from core.embedded import EmbeddedTemporal, EmbeddedValkey, Endpoints
from core.settings import Settings
from rag.replica import STATE_FILE
from rag.store import SearchFilter

AUTH = {"authorization": "Bearer dev-content-key"}


def _doc(doc_id: str, version: int, kg: int) -> bytes:
    return (
        f"---\ndoc_id: {doc_id}\ntitle: Zephyr Air baggage\nvertical: flights\n"
        f"version: {version}\n---\n# Zephyr Air baggage\n\n## Cabin baggage\n\n"
        f"Each Zephyr Air passenger may carry one cabin bag of up to {kg} kg on domestic "
        "flights.\n\n## Checked baggage\n\nZephyr Air checked baggage allowance is 20 kg on "
        "every domestic fare.\n"
    ).encode()


@contextlib.asynccontextmanager
async def _process(settings: Settings, endpoints: Endpoints) -> AsyncIterator[FastAPI]:
    app = create_app(settings, endpoints=endpoints)
    async with app.router.lifespan_context(app):
        yield app


def _services(app: FastAPI) -> Services:
    result: Services = app.state.services
    return result


async def _until(check: Callable[[], object], timeout_s: float = 15.0) -> None:
    """Poll an async check until it holds (the follower runs every second)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if await check():  # type: ignore[misc]
            return
        assert asyncio.get_running_loop().time() < deadline, "the replica did not follow"
        await asyncio.sleep(0.2)


@pytest.fixture
def shared(
    redis_server: EmbeddedValkey, temporal_server: EmbeddedTemporal, tmp_path: Path
) -> Callable[[str], tuple[Settings, Endpoints]]:
    namespace = f"t{uuid.uuid4().hex[:8]}"

    def one(name: str) -> tuple[Settings, Endpoints]:
        data_dir = tmp_path / name
        settings = Settings(data_dir=data_dir, redis_namespace=namespace, retire_grace_s=0.3,
                            temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
                            voice_enabled=False, vector_replica="on")  # fmt: skip
        endpoints = Endpoints(redis_url=redis_server.url, temporal_address=temporal_server.address,
                              qdrant_url=None, qdrant_path=data_dir / "qdrant")  # fmt: skip
        return settings, endpoints

    return one


async def test_a_document_uploaded_to_one_process_is_answered_by_another(
    shared: Callable[[str], tuple[Settings, Endpoints]],
) -> None:
    doc_id = f"zephyr-{uuid.uuid4().hex[:6]}"
    only = SearchFilter(doc_ids=(doc_id,))
    question = {"question": "How heavy can my cabin bag be on Zephyr Air?"}
    async with _process(*shared("a")) as a, _process(*shared("b")) as b:
        ka, kb = _services(a).knowledge, _services(b).knowledge
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://a") as ca,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=b), base_url="http://b") as cb,
        ):
            r = await ca.post("/v1/documents", headers=AUTH,
                              files={"files": ("z.md", _doc(doc_id, 1, 7))})  # fmt: skip
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["outcome"] == "added", r.text
            assert kb.replica is not None

            async def b_holds(revision: int) -> bool:
                return kb.replica is not None and kb.replica.held.get(doc_id) == revision

            first = (await ka.catalog.get(doc_id)).revision  # type: ignore[union-attr]
            await _until(lambda: b_holds(first))
            # Process B answers from its own index, the same passage as A.
            answers = [(await c.post("/v1/answers", json=question)).json() for c in (ca, cb)]
            for body in answers:
                assert body["grounded"] is True, body
                assert "7 kg" in body["answer"]
                assert body["citations"][0]["document"] == doc_id
            assert await kb.store.count(only) == await ka.store.count(only) > 0
            # The same file sent to B is known: nothing is indexed twice anywhere.
            r = await cb.post("/v1/documents", headers=AUTH,
                              files={"files": ("z.md", _doc(doc_id, 1, 7))})  # fmt: skip
            assert r.json()["results"][0]["outcome"] == "unchanged", r.text

            # An update on B: A follows to the new revision, and each drops the old one.
            r = await cb.post("/v1/documents", headers=AUTH,
                              files={"files": ("z.md", _doc(doc_id, 2, 9))})  # fmt: skip
            assert r.json()["results"][0]["outcome"] == "updated", r.text
            second = (await kb.catalog.get(doc_id)).revision  # type: ignore[union-attr]
            assert second > first

            async def a_moved() -> bool:
                return ka.replica is not None and ka.replica.held.get(doc_id) == second

            await _until(a_moved)
            body = (await ca.post("/v1/answers", json=question)).json()
            assert "9 kg" in body["answer"] and "7 kg" not in body["answer"], body
            chunks = (await kb.catalog.get(doc_id)).chunks  # type: ignore[union-attr]

            async def old_gone() -> bool:
                await kb.ingest.drain()
                return await ka.store.count(only) == await kb.store.count(only) == chunks

            await _until(old_gone)

            # A delete on A: B stops answering from it and its index lets it go.
            assert (await ca.delete(f"/v1/documents/{doc_id}", headers=AUTH)).status_code == 204

            async def b_let_go() -> bool:
                return await kb.store.count(only) == 0

            await _until(b_let_go)
            body = (await cb.post("/v1/answers", json=question)).json()
            assert not any(c["document"] == doc_id for c in body.get("citations", []))


async def test_a_restart_pulls_only_what_changed_while_it_was_down(
    shared: Callable[[str], tuple[Settings, Endpoints]],
) -> None:
    kept, added = f"kept-{uuid.uuid4().hex[:6]}", f"added-{uuid.uuid4().hex[:6]}"
    b_settings, b_endpoints = shared("b")
    async with _process(*shared("a")) as a:
        ingest = _services(a).knowledge.ingest
        await ingest.ingest(_doc(kept, 1, 7), filename="k.md", source_uri="test://k")
        async with _process(b_settings, b_endpoints) as b:
            replica = _services(b).knowledge.replica
            assert replica is not None and kept in replica.held  # pulled before ready
        assert (b_settings.data_dir / STATE_FILE).exists()
        await ingest.ingest(_doc(added, 1, 8), filename="n.md", source_uri="test://n")
        async with _process(b_settings, b_endpoints) as b:
            knowledge = _services(b).knowledge
            assert knowledge.replica is not None
            assert set(knowledge.replica.held) == {kept, added}
            # Only the new document came over Redis at start; the kept one was already there.
            assert knowledge.replica.pulled == 1
            assert await knowledge.replica.sync() == 0
            for doc_id in (kept, added):
                assert await knowledge.store.count(SearchFilter(doc_ids=(doc_id,))) > 0


def test_the_replica_is_on_by_itself_only_for_an_embedded_index_on_a_shared_redis(
    tmp_path: Path,
) -> None:
    from api.knowledge_backends import follows_catalog

    def endpoints(qdrant_url: str | None) -> Endpoints:
        return Endpoints(redis_url="redis://127.0.0.1:1", temporal_address="127.0.0.1:2",
                         qdrant_url=qdrant_url, qdrant_path=tmp_path / "qdrant")  # fmt: skip

    shared_redis = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1")
    assert follows_catalog(shared_redis, endpoints(None))
    assert not follows_catalog(shared_redis, endpoints("http://127.0.0.1:6333"))
    assert not follows_catalog(Settings(data_dir=tmp_path), endpoints(None))  # embedded Redis
    off = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1", vector_replica="off")
    assert not follows_catalog(off, endpoints(None))
