"""Every bad request gets an RFC 9457 problem with a stable type and a request id; none a 500."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

PROBLEM = "application/problem+json"


def _assert_problem(r: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, object] = r.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/chat", content=b'{"text": "hi"', headers={"content-type": "application/json"}
    )
    _assert_problem(r, 400, "malformed-json")


async def test_missing_field(client: httpx.AsyncClient) -> None:
    body = _assert_problem(await client.post("/v1/chat", json={}), 422, "validation-error")
    assert body["errors"] == [{"loc": ["body", "text"], "msg": "Field required", "type": "missing"}]


async def test_unknown_field_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"text": "hi", "sesion_id": "typo"})
    _assert_problem(r, 422, "validation-error")


async def test_two_megabyte_body(client: httpx.AsyncClient) -> None:
    payload = json.dumps({"text": "a" * 2_000_000}).encode()
    r = await client.post("/v1/chat", content=payload, headers={"content-type": "application/json"})
    body = _assert_problem(r, 413, "payload-too-large")
    assert body["max_bytes"] == 1_048_576


async def test_oversized_chunked_body_without_length(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65_536

    r = await client.post(
        "/v1/chat", content=chunks(), headers={"content-type": "application/json"}
    )
    _assert_problem(r, 413, "payload-too-large")


async def test_unknown_route(client: httpx.AsyncClient) -> None:
    body = _assert_problem(await client.get("/v1/nowhere"), 404, "not-found")
    assert "/v1/nowhere" in str(body["detail"])


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    _assert_problem(await client.delete("/v1/chat"), 405, "method-not-allowed")


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/v1/documents/some-doc", "PATCH", "GET, DELETE"),
        ("/v1/documents", "DELETE", "GET, POST"),
        ("/v1/travellers/me", "POST", "GET, PUT"),
        ("/v1/chat", "GET", "POST"),
    ],
)
async def test_wrong_method_allows_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, method: str, allowed: str
) -> None:
    r = await client.request(method, path)
    _assert_problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == allowed


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than the parser recurses
        b"[" * 100_000 + b"]" * 100_000,
        b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
    ],
    ids=["nested-field", "nested-body", "not-utf8"],
)
async def test_a_body_the_parser_cannot_read_is_malformed_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    r = await client.post("/v1/chat", content=body, headers={"content-type": "application/json"})
    problem = _assert_problem(r, 400, "malformed-json")
    assert "not valid JSON" in str(problem["detail"])


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("multipart/form-data", b"no boundary"), ("multipart/form-data; boundary=xyz", b"garbage")],
)
async def test_a_broken_multipart_form_is_a_malformed_body(
    client: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    r = await client.post(
        "/v1/documents", content=body,
        headers={"content-type": content_type, "authorization": "Bearer dev-content-key"},
    )  # fmt: skip
    _assert_problem(r, 400, "malformed-body")


async def test_wrong_media_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", content=b"hello", headers={"content-type": "text/plain"})
    _assert_problem(r, 415, "unsupported-media-type")


async def test_unexpected_exception_is_a_problem_without_internals(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: db password hunter2")

    with caplog.at_level(logging.ERROR):
        r = await client.get("/boom")
    body = _assert_problem(r, 500, "internal-error")
    assert "hunter2" not in r.text and "Traceback" not in r.text
    assert "RuntimeError" not in str(body)
    assert any("unhandled error" in rec.getMessage() for rec in caplog.records)


async def test_problem_types_resolve(client: httpx.AsyncClient) -> None:
    r = await client.get("/problems/payload-too-large")
    assert r.status_code == 200
    assert r.json()["status"] == 413
    _assert_problem(await client.get("/problems/no-such-type"), 404, "not-found")


async def test_every_error_class_has_its_own_problem_type(client: httpx.AsyncClient) -> None:
    """Problem types come from the error classes too: an open breaker's 503 is reported as
    `supplier-unavailable`, never as the generic type."""
    import bookings.service  # noqa: F401 (its error classes)
    from api.problems import problem_body
    from core.errors import CircuitOpenError, YatriError

    body = problem_body(slug=CircuitOpenError.problem_type, detail="open", status=503)
    assert body["type"] == "/problems/supplier-unavailable" and body["title"] != "HTTP error"
    stack: list[type[YatriError]] = [YatriError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        r = await client.get(f"/problems/{cls.problem_type}")
        assert r.status_code == 200, cls
        assert r.json()["slug"] == cls.problem_type and r.json()["title"]


async def test_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    r = await client.get("/livez", headers={"x-request-id": "trace-abc-123"})
    assert r.headers["x-request-id"] == "trace-abc-123"
    r = await client.get("/livez", headers={"x-request-id": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    chat = spec["paths"]["/v1/chat"]["post"]
    assert "application/problem+json" in chat["responses"]["4XX"]["content"]
    assert "/readyz" in spec["paths"] and "/metrics" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
