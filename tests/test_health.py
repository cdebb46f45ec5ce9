"""Liveness, readiness against the real dependencies, and metrics: liveness and readiness status
open, metrics and readiness detail behind the operations key."""

from __future__ import annotations

import httpx

from api.app import create_app
from bookings.temporal import connect_temporal, probe_worker
from core.embedded import Endpoints, free_port
from core.settings import DEFAULT_OPS_KEY, Settings

OPS = {"authorization": f"Bearer {DEFAULT_OPS_KEY}"}


async def test_readyz_checks_every_real_dependency(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz", headers=OPS)
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert set(checks) == {"redis", "qdrant", "temporal", "models"}
    assert all(c["status"] == "ok" for c in checks.values())
    assert checks["redis"]["version"].startswith("valkey ")
    assert checks["temporal"]["version"].startswith("server ")
    assert "146 airports" in checks["models"]["detail"]


async def test_readyz_is_503_when_redis_is_down(settings: Settings, endpoints: Endpoints) -> None:
    dead = Endpoints(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        temporal_address=endpoints.temporal_address,
        qdrant_url=None,
        qdrant_path=endpoints.qdrant_path,
    )
    app = create_app(settings, endpoints=dead)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/readyz")
            chat = await c.post("/v1/chat", json={"text": "hi"})
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "fail"
    assert body["checks"]["redis"]["status"] == "fail"
    assert body["checks"]["temporal"]["status"] == "ok"
    assert chat.status_code == 503
    assert chat.json()["type"] == "/problems/dependency-unavailable"


async def test_in_process_worker_serves_its_task_queue(
    client: httpx.AsyncClient, settings: Settings, endpoints: Endpoints
) -> None:
    temporal = await connect_temporal(endpoints.temporal_address, namespace="default")
    ms = await probe_worker(temporal, task_queue=settings.temporal_task_queue)
    assert ms > 0


async def test_readyz_without_the_ops_key_says_only_each_status(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "status": "ok",
        "checks": {name: {"status": "ok"} for name in ("redis", "qdrant", "temporal", "models")},
    }
    for wrong in ("Bearer dev-content-key", f"Basic {DEFAULT_OPS_KEY}", DEFAULT_OPS_KEY):
        detail = (await client.get("/readyz", headers={"authorization": wrong})).json()
        assert "version" not in detail["checks"]["redis"], wrong


async def test_metrics_need_the_ops_key(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"authorization": "Bearer dev-content-key"}, {"authorization": "Bearer x"}):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/unauthorized"
        assert "yatri_" not in r.text


async def test_livez_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    await client.post("/v1/chat", json={"text": "hello"})
    text = (await client.get("/metrics", headers=OPS)).text
    assert 'yatri_http_requests_total{method="POST",route="/v1/chat",status="200"}' in text
    assert 'yatri_turns_total{channel="chat",intent="greet"}' in text
