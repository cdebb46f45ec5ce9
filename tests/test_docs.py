"""The API documentation works offline and can call what it documents: Swagger UI and ReDoc
from local files, credentials as security schemes, required headers, examples that validate;
and `yatri token`, whose tokens the real app accepts."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from api.auth import AGENT_SCOPE, CONTENT_SCOPE, TRAVELLER_SCOPE, booking_actor_from, decode_token
from api.commands import cli
from core.settings import Settings

_ASSET = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["']|(?:url|_js_url|_css_url)\s*:\s*['"]([^'"]+)['"]"""
)


def _asset_urls(html: str) -> list[str]:
    return [a or b for a, b in _ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = _asset_urls(r.text)
    assert any(u.endswith(".js") for u in urls), urls
    assert "/openapi.json" in urls or "/openapi.json" in r.text
    assert not re.search(r"https?://", r.text.replace("http://www.w3.org", "")), r.text
    for url in urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


async def test_swagger_oauth2_redirect_is_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "swaggerUIRedirectOauth2" in r.text


@pytest.fixture
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, ops in schema["paths"].items() for method, op in ops.items()
    ]


async def test_protected_operations_declare_their_credentials(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerJWT"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": schemes["bearerJWT"]["description"],
    }  # fmt: skip
    assert "exp" in schemes["bearerJWT"]["description"]
    assert "yatri token" in schemes["bearerJWT"]["description"]
    assert schemes["contentKey"]["scheme"] == "bearer"
    for method, path, op in _operations(schema):
        security = op.get("security")
        if path.startswith("/v1/bookings"):
            assert security == [{"bearerJWT": [TRAVELLER_SCOPE]}, {"bearerJWT": [AGENT_SCOPE]}], (
                method,
                path,
            )
        elif path.startswith("/v1/travellers"):
            assert security == [{"bearerJWT": [TRAVELLER_SCOPE]}], (method, path)
        elif path.startswith("/v1/documents"):
            assert security == [{"contentKey": []}, {"bearerJWT": [CONTENT_SCOPE]}], path
        elif path == "/metrics":
            assert security == [{"opsKey": []}], path
        else:
            assert security is None, (method, path)


async def test_idempotency_key_is_required_where_a_missing_key_is_a_400(
    schema: dict[str, Any], client: httpx.AsyncClient
) -> None:
    token = _cli_token("--traveller", "t-docs")
    headers = {"authorization": f"Bearer {token}"}
    declared = []
    for method, path, op in _operations(schema):
        for parameter in op.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["in"] == "header" and parameter["required"] is True, path
                declared.append((method, path))
    assert len(declared) == 3, declared
    for method, path in declared:
        content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        body = next(iter(content["examples"].values()))["value"]
        r = await client.request(
            method, path.replace("{booking_id}", "bk_missing"), json=body, headers=headers
        )
        assert r.status_code == 400, (path, r.text)
        assert r.json()["type"] == "/problems/idempotency-key-missing"


async def test_every_request_body_has_examples_that_fit_its_schema(
    schema: dict[str, Any],
) -> None:
    bodies = 0
    for method, path, op in _operations(schema):
        for media_type, content in op.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            examples = content.get("examples")
            assert examples, (method, path, media_type)
            if media_type == "multipart/form-data":
                continue  # a file part is not JSON
            validator = jsonschema.Draft202012Validator(
                {**content["schema"], "components": schema["components"]}
            )
            for name, example in examples.items():
                errors = list(validator.iter_errors(example["value"]))
                assert not errors, (path, name, [e.message for e in errors])
    assert bodies >= 9


async def test_chat_and_answer_examples_work_as_sent(
    schema: dict[str, Any], client: httpx.AsyncClient
) -> None:
    chat = schema["paths"]["/v1/chat"]["post"]["requestBody"]["content"]["application/json"]
    r = await client.post("/v1/chat", json=chat["examples"]["search"]["value"])
    assert r.status_code == 200 and r.json()["intent"] == "search_flights"
    answers = schema["paths"]["/v1/answers"]["post"]["requestBody"]["content"]
    r = await client.post("/v1/answers", json=answers["application/json"]["examples"]["question"]["value"])  # fmt: skip
    assert r.status_code == 200


# --- yatri token ---------------------------------------------------------------------------------


def _cli_token(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, ["token", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


async def test_token_for_a_traveller_lists_their_bookings(client: httpx.AsyncClient) -> None:
    traveller = f"t-{uuid.uuid4().hex[:8]}"
    token = _cli_token("--traveller", traveller)
    claims = decode_token(token, secret=Settings().secret_key.get_secret_value())
    assert claims["sub"] == traveller and claims["scope"] == TRAVELLER_SCOPE
    assert claims["exp"] - claims["iat"] == 3600
    r = await client.get(
        "/v1/bookings", params={"traveller": traveller},
        headers={"authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert r.status_code == 200 and r.json() == []


async def test_token_for_an_agent_acts_for_the_traveller(client: httpx.AsyncClient) -> None:
    token = _cli_token("--agent", "agent-7", "--for", "t-asha", "--ttl", "600")
    actor = booking_actor_from(token, secret=Settings().secret_key.get_secret_value())
    assert (actor.agent_id, actor.traveller_id) == ("agent-7", "t-asha")
    r = await client.get(
        "/v1/bookings", params={"traveller": "t-asha"}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200


async def test_content_token_reads_the_document_catalog(client: httpx.AsyncClient) -> None:
    token = _cli_token("--content")
    r = await client.get("/v1/documents", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200
    r = await client.get("/v1/documents", headers={"authorization": "Bearer dev-content-key"})
    assert r.status_code == 200
    r = await client.get("/v1/documents")
    assert r.status_code == 401


@pytest.mark.parametrize(
    "args",
    [[], ["--traveller", "a", "--content"], ["--agent", "a"], ["--traveller", "a", "--for", "b"]],
)
def test_token_needs_exactly_one_kind(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["token", *args])
    assert result.exit_code == 2
    assert "--traveller" in result.output or "--agent" in result.output


def test_token_is_refused_outside_development() -> None:
    env = {"YATRI_ENV": "production", "YATRI_SECRET_KEY": "s" * 40,
           "YATRI_CONTENT_API_KEY": "k" * 40, "YATRI_OPS_API_KEY": "o" * 40}  # fmt: skip
    result = CliRunner().invoke(cli, ["token", "--traveller", "t1"], env=env)
    assert result.exit_code == 1
    assert "development tokens only" in result.output
    assert "eyJ" not in result.output
