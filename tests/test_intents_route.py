"""`POST /v1/intents/parse` through the whole app: the spoken-intent API other services call."""

from __future__ import annotations

import httpx
import pytest


async def test_parse_answers_intent_slots_spans_and_language(client: httpx.AsyncClient) -> None:
    text = "flights from Delhi to Mobile for 2 adults"
    r = await client.post("/v1/intents/parse", json={"text": text})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intent"] == "search_flights" and body["language"] == "en"
    assert 0 <= body["confidence"] <= 1 and isinstance(body["alternatives"], list)
    slots = {s["name"]: s for s in body["slots"]}
    assert slots["origin"]["normalized"] == "DEL"
    assert slots["destination"]["candidates"] == ["BOM"]
    assert slots["destination"]["confidence"] < 0.6
    assert slots["adults"]["normalized"] == 2
    for slot in body["slots"]:
        assert text[slot["start"] : slot["end"]] == slot["value"]


async def test_parse_reads_context(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/intents/parse",
        json={"text": "दूसरा वाला", "locale": "hi-IN", "context": {"expecting": "choice"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["intent"], body["language"]) == ("select_offer", "hi")
    assert body["slots"][0]["normalized"] == {"ordinal": 2}


async def test_parse_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/intents/parse"]["post"]
    assert "understanding" in operation["tags"]
    assert "4XX" in operation["responses"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "x" * 10_001},
        {},
        {"text": 5},
        {"text": "hi", "context": {"expecting": "anything"}},
        {"text": "hi", "unknown": 1},
    ],
)
async def test_bad_input_is_a_problem_not_a_500(client: httpx.AsyncClient, body: object) -> None:
    r = await client.post("/v1/intents/parse", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("text", ["🙂🙂🙂", "   ", "a" * 10_000, "?"])
async def test_odd_text_is_parsed(client: httpx.AsyncClient, text: str) -> None:
    r = await client.post("/v1/intents/parse", json={"text": text})
    assert r.status_code == 200, r.text
    if not any(c.isalnum() for c in text):
        assert r.json()["intent"] == "out_of_scope"


async def test_malformed_json_is_a_problem(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/intents/parse", content=b'{"text":', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
