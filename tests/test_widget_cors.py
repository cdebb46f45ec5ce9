"""A partner page embeds the widget: its origin, and only a configured one, may call the chat
and widget routes from the browser (CORS)."""

from __future__ import annotations

import httpx
import pytest

from core.settings import Settings

PARTNER = "https://www.partner.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"widget_origins": f"{PARTNER}, https://m.partner.example"})


async def test_a_configured_partner_origin_may_call_the_chat(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/v1/chat",
        headers={"origin": PARTNER, "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == PARTNER
    turn = await client.post("/v1/chat", json={"text": "hello"}, headers={"origin": PARTNER})
    assert turn.status_code == 200
    assert turn.headers["access-control-allow-origin"] == PARTNER
    assert "x-request-id" in turn.headers["access-control-expose-headers"]


async def test_another_origin_is_not_allowed(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/v1/chat",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    turn = await client.post("/v1/chat", json={"text": "hello"},
                             headers={"origin": "https://evil.example"})  # fmt: skip
    assert "access-control-allow-origin" not in turn.headers
