"""Readiness and answers hold while the instance works: ingest, travellers' queries and the
readiness probe run the embedding model on separate lanes, so none waits behind another; an
answer that cannot be given within the request deadline is a 504 problem, not a long wait.

The model is held with a gate: the real embedder behind an honest wrapper that, for texts
carrying a marker, waits until the test opens the gate (never longer than a bound)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.checks import check_models, check_temporal, run_check
from api.deps import Services
from api.knowledge_backends import build_knowledge
from bookings.temporal import connect_temporal
from core.airports import AirportDirectory, load_airports
from core.embedded import ChildProcess, free_port, temporal_binary
from core.settings import Settings
from rag.embeddings import Embedder, EmbeddingPool, OnnxMiniLM, Vectors

HOLD = "HOLD-THE-LANE"
AUTH = {"authorization": "Bearer dev-content-key"}
GATE_BOUND_S = 60  # a gate never held longer, should a test fail
ROTATION_TEST_S = 20.0  # about 20 connection rotations
PROBERS = 10


class GatedEmbedder:
    """``inner``, except that a call with a text containing ``HOLD`` waits for the gate."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.gate = threading.Event()
        self.holding = threading.Event()

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        if any(HOLD in text for text in texts):
            self.holding.set()
            self.gate.wait(GATE_BOUND_S)
        return self._inner.embed(texts)


@pytest.fixture(scope="module")
def airports() -> AirportDirectory:
    return load_airports()


@pytest.fixture(scope="module")
def model() -> Embedder:
    return OnnxMiniLM.load()


@pytest.fixture
def gated(model: Embedder) -> Iterator[GatedEmbedder]:
    embedder = GatedEmbedder(model)
    yield embedder
    embedder.gate.set()


@asynccontextmanager
async def holding(embedder: GatedEmbedder, work: asyncio.Future[Any]) -> AsyncIterator[None]:
    """While ``work`` is held at the gate; the gate opens and ``work`` ends afterwards."""
    await asyncio.to_thread(embedder.holding.wait, GATE_BOUND_S)
    assert embedder.holding.is_set() and not work.done()
    try:
        yield
    finally:
        embedder.gate.set()
        await work


async def test_readiness_does_not_wait_behind_ingest(
    gated: GatedEmbedder, airports: AirportDirectory
) -> None:
    pool = EmbeddingPool(gated)
    ingest = asyncio.ensure_future(pool.embed_bulk([f"{HOLD} chunk {i}" for i in range(40)]))
    async with holding(gated, ingest):
        name, check = await run_check("models", lambda: check_models(airports, pool))
        assert check.status == "ok", check.detail
        assert "bulk 1" in (check.detail or "")
        # A traveller's query does not wait either.
        vectors = await pool.embed(["can I get a refund on a cancelled flight?"])
        assert vectors.shape == (1, gated.dimension)
    assert ingest.result().shape == (40, gated.dimension)
    pool.close()


async def test_readiness_does_not_wait_behind_queries(
    gated: GatedEmbedder, airports: AirportDirectory
) -> None:
    pool = EmbeddingPool(gated)
    query = asyncio.ensure_future(pool.embed([f"{HOLD} what is the baggage allowance?"]))
    async with holding(gated, query):
        _, check = await run_check("models", lambda: check_models(airports, pool))
        assert check.status == "ok", check.detail
    pool.close()


async def test_bulk_embedding_is_the_same_as_one_call(model: Embedder) -> None:
    pool = EmbeddingPool(model, bulk_batch=3)
    texts = [f"Refund rule {i}: cancellations made {i} hours before departure." for i in range(8)]
    bulk = await pool.embed_bulk(texts)
    assert bulk.shape == (8, model.dimension)
    assert abs(bulk - model.embed(texts)).max() < 1e-5
    assert (await pool.embed_bulk([])).shape == (0, model.dimension)
    pool.close()


# --------------------------------------------------------------------------- through the API


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "rate_limit_enabled": False, "redis_namespace": f"r{uuid.uuid4().hex[:8]}",
        "request_timeout_s": 1.5,
    })  # fmt: skip


def _gate_the_knowledge(app: FastAPI, model: Embedder) -> GatedEmbedder:
    """The app's policy knowledge rebuilt on a gated pool (what start-up builds, composed again)."""
    services: Services = app.state.services
    gated = GatedEmbedder(model)
    services.knowledge = build_knowledge(
        settings=services.settings,
        store=services.knowledge.store,
        redis=services.redis,
        embeddings=EmbeddingPool(gated),
    )
    return gated


async def test_readyz_and_answers_hold_during_an_ingest(
    app: FastAPI, client: httpx.AsyncClient, model: Embedder
) -> None:
    gated = _gate_the_knowledge(app, model)
    document = (
        f"---\ndoc_id: lounge-rules\n---\n# Lounge rules\n\n{HOLD}: business class passengers "
        "may use the lounge for three hours before departure.\n"
    ).encode()
    upload = asyncio.ensure_future(
        client.post("/v1/documents", headers=AUTH, files={"files": ("lounge.md", document)})
    )
    async with holding(gated, upload):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        answer = await client.post("/v1/answers", json={"question": "can I use the lounge?"})
        assert answer.status_code == 200, answer.text
    assert upload.result().json()["results"][0]["outcome"] == "added"


async def test_an_answer_past_the_deadline_is_a_504_problem(
    app: FastAPI, client: httpx.AsyncClient, model: Embedder
) -> None:
    gated = _gate_the_knowledge(app, model)
    try:
        async with asyncio.timeout(GATE_BOUND_S):
            r = await client.post("/v1/answers", json={"question": f"{HOLD} lounge access?"})
    finally:
        gated.gate.set()
    assert r.status_code == 504, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/deadline-exceeded"


# --------------------------------------------------------------------------- Temporal


@pytest.fixture(scope="module")
def rotating_temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Temporal dev server that closes each client connection after one second (what every
    server does after 5 minutes by default), on loopback."""
    data_dir = tmp_path_factory.mktemp("rotating-temporal")
    port = free_port()
    argv = [
        str(temporal_binary()), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
        "--port", str(port), "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--db-filename", str(data_dir / "temporal.db"), "--log-level", "error",
        "--dynamic-config-value", 'frontend.keepAliveMaxConnectionAge="1s"',
        "--dynamic-config-value", 'frontend.keepAliveMaxConnectionAgeGrace="1s"',
        # Many calls in flight at each rotation; the frontend's rate limit would refuse them.
        "--dynamic-config-value", "frontend.rps=100000",
    ]  # fmt: skip
    server = ChildProcess("temporal", argv, data_dir, data_dir / "temporal.log")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


async def test_readiness_rides_over_temporal_connection_rotation(rotating_temporal: str) -> None:
    # Under load, "Temporal is not answering" came once every few minutes: the readiness call
    # that raced the server's connection rotation was cancelled. Many rotations, many calls.
    client = await connect_temporal(rotating_temporal, namespace="default")
    failures: list[str | None] = []

    async def prober(until: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            _, check = await run_check(
                "temporal", lambda: check_temporal(client, worker_task=None, in_process=False)
            )
            if check.status != "ok":
                failures.append(check.detail)
            await asyncio.sleep(0.001)

    until = asyncio.get_running_loop().time() + ROTATION_TEST_S
    await asyncio.gather(*(prober(until) for _ in range(PROBERS)))
    assert failures == []
