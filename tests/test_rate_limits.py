"""Rate limits (429 with Retry-After, per address, traveller and key, shared through Redis by
every process) and load shedding (503 with Retry-After), through the real app and Redis."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.auth import AGENT_SCOPE, TRAVELLER_SCOPE, issue_token
from core.embedded import EmbeddedValkey
from core.errors import DependencyUnavailableError, RateLimitedError
from core.ratelimit import Allowance, Caller, RateLimitPolicy, RateLimits, Verdict
from core.redis_conn import connect_redis
from core.redis_ratelimit import RedisRateLimiter
from core.settings import Settings

PER_ADDRESS, PER_TRAVELLER, PER_KEY = 3, 2, 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's, with small limits, counters of this test only, and one request at a time."""
    return settings.model_copy(
        update={
            "redis_namespace": f"rl-{uuid.uuid4().hex[:8]}",
            "rate_limit_per_address": PER_ADDRESS,
            "rate_limit_per_traveller": PER_TRAVELLER,
            "rate_limit_per_key": PER_KEY,
            "rate_limit_webhooks_per_address": PER_ADDRESS,
            "max_in_flight": 1,
        }
    )


def from_address(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://yatri.test")


def bearer(settings: Settings, sub: str, scope: str = TRAVELLER_SCOPE, **claims: Any) -> str:
    secret = settings.secret_key.get_secret_value()
    return "Bearer " + issue_token(secret=secret, sub=sub, scope=scope, ttl_s=600, **claims)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def assert_rate_limited(r: httpx.Response, *, limit: int) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == "/problems/rate-limited"
    retry_after = int(r.headers["retry-after"])
    assert retry_after >= 1 and body["retry_after_s"] == retry_after
    assert body["limit"] == limit
    return body


CHAT = {"text": "flights from Delhi to Mumbai tomorrow"}


async def test_an_address_gets_429_with_retry_after_once_its_allowance_is_spent(
    app: FastAPI,
) -> None:
    limited = sample(
        "yatri_rate_limit_decisions_total", group="chat", identity="address", outcome="limited"
    )
    async with from_address(app, "203.0.113.7") as client:
        for _ in range(PER_ADDRESS):
            assert (await client.post("/v1/chat", json=CHAT)).status_code == 200
        body = assert_rate_limited(await client.post("/v1/chat", json=CHAT), limit=PER_ADDRESS)
        assert "address" in body["detail"]
        # Each group has its own allowance: fares still answer this address.
        fares = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM",
                                                      "date": "2030-01-05"})  # fmt: skip
        assert fares.status_code != 429
    async with from_address(app, "203.0.113.8") as other:  # another address is not limited
        assert (await other.post("/v1/chat", json=CHAT)).status_code == 200
    assert (
        sample("yatri_rate_limit_decisions_total", group="chat", identity="address",
               outcome="limited") == limited + 1
    )  # fmt: skip
    assert sample("yatri_rate_limit_allowance", group="chat", identity="address") == PER_ADDRESS


async def test_an_ipv6_subscriber_is_one_address_across_its_slash_64(app: FastAPI) -> None:
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
        async with from_address(app, host) as client:
            assert (await client.post("/v1/chat", json=CHAT)).status_code == 200
    async with from_address(app, "2001:db8:1:2::4") as client:
        assert_rate_limited(await client.post("/v1/chat", json=CHAT), limit=PER_ADDRESS)


@pytest.mark.parametrize(
    ("group", "method", "path", "body"),
    [
        ("answers", "POST", "/v1/answers", {"json": {"question": "Can I cancel my ticket?"}}),
        ("intents", "POST", "/v1/intents/parse", {"json": {"text": "flights to Goa"}}),
        ("fares", "GET", "/v1/fares?from=BLR&to=GOI&date=2030-02-01", {}),
        ("bookings", "GET", "/v1/bookings", {}),  # 401 without a token, then 429
        ("travellers", "GET", "/v1/travellers/me", {}),
        ("webhooks", "POST", "/v1/asr/webhooks/twilio", {"data": {"CallSid": "CA1"}}),
        ("webhooks", "POST", "/v1/telephony/twilio/voice", {"data": {"CallSid": "CA1"}}),
        ("voice-tokens", "POST", "/v1/voice/tokens", {"json": {}}),
    ],
)
async def test_every_limited_group_answers_429(
    app: FastAPI, group: str, method: str, path: str, body: dict[str, Any]
) -> None:
    async with from_address(app, "198.51.100.20") as client:
        for _ in range(PER_ADDRESS):
            assert (await client.request(method, path, **body)).status_code != 429
        assert_rate_limited(await client.request(method, path, **body), limit=PER_ADDRESS)


async def test_a_traveller_is_limited_across_addresses(app: FastAPI, settings: Settings) -> None:
    asha = {"authorization": bearer(settings, "trv-rate-asha")}
    for n in range(PER_TRAVELLER):
        async with from_address(app, f"192.0.2.{10 + n}") as client:
            r = await client.post("/v1/chat", json=CHAT, headers=asha)
            assert r.status_code == 200
    async with from_address(app, "192.0.2.30") as client:
        body = assert_rate_limited(
            await client.post("/v1/chat", json=CHAT, headers=asha), limit=PER_TRAVELLER
        )
        assert "traveller" in body["detail"]
        # Another traveller from the same address is not.
        imran = {"authorization": bearer(settings, "trv-rate-imran")}
        assert (await client.post("/v1/chat", json=CHAT, headers=imran)).status_code == 200


async def test_api_keys_and_agent_tokens_are_limited_per_key(
    app: FastAPI, settings: Settings
) -> None:
    content = {"authorization": f"Bearer {settings.content_api_key.get_secret_value()}"}
    for n in range(PER_KEY):
        async with from_address(app, f"192.0.2.{40 + n}") as client:
            assert (await client.get("/v1/documents", headers=content)).status_code == 200
    async with from_address(app, "192.0.2.50") as client:
        body = assert_rate_limited(
            await client.get("/v1/documents", headers=content), limit=PER_KEY
        )
        assert "key" in body["detail"]
    agent = {"authorization": bearer(settings, "agent-7", AGENT_SCOPE, act_for="trv-1")}
    for n in range(PER_KEY):
        async with from_address(app, f"192.0.2.{60 + n}") as client:
            assert (
                await client.get("/v1/bookings?traveller=trv-1", headers=agent)
            ).status_code == 200
    async with from_address(app, "192.0.2.70") as client:
        assert_rate_limited(
            await client.get("/v1/bookings?traveller=trv-1", headers=agent), limit=PER_KEY
        )


async def test_the_allowance_is_shared_with_another_process(
    app: FastAPI, settings: Settings, redis_server: EmbeddedValkey
) -> None:
    address = "198.51.100.99"
    async with from_address(app, address) as client:
        assert (await client.post("/v1/chat", json=CHAT)).status_code == 200
        # Another process on the same Redis spends the rest of this address's allowance.
        spend = (
            "import asyncio\n"
            "from api.rate_limits import rate_limits\n"
            "from core.ratelimit import Caller\n"
            "from core.redis_conn import connect_redis\n"
            "from core.redis_ratelimit import RedisRateLimiter\n"
            "from core.settings import Settings\n"
            "async def main():\n"
            f"    redis = connect_redis({redis_server.url!r})\n"
            f"    settings = Settings(redis_namespace={settings.redis_namespace!r},\n"
            f"                        rate_limit_per_address={PER_ADDRESS})\n"
            "    limits = rate_limits(settings, limiter=RedisRateLimiter(redis))\n"
            f"    for _ in range({PER_ADDRESS - 1}):\n"
            f"        await limits.admit('chat', Caller(address={address!r}))\n"
            "    await redis.aclose()\n"
            "asyncio.run(main())\n"
        )
        other = await asyncio.create_subprocess_exec(
            sys.executable, "-c", spend, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(other.communicate(), timeout=60)
        assert other.returncode == 0, stderr.decode()
        assert_rate_limited(await client.post("/v1/chat", json=CHAT), limit=PER_ADDRESS)


async def test_gcra_allows_a_burst_then_says_how_long_to_wait(
    redis_server: EmbeddedValkey,
) -> None:
    redis = connect_redis(redis_server.url)
    try:
        limiter, key = RedisRateLimiter(redis), f"rl-test:{uuid.uuid4().hex}"
        allowance = Allowance(limit=3, window_s=60)
        verdicts = [await limiter.take(key, allowance=allowance) for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
        assert 0 < verdicts[3].retry_after_ms <= 20_000  # one request every 20 s
        assert 0 < await redis.pttl(key) <= 60_000  # an idle caller's key expires
    finally:
        await redis.aclose()


class _DownLimiter:
    async def take(self, key: str, *, allowance: Allowance) -> Verdict:
        raise DependencyUnavailableError("the rate-limit store is unavailable")


class _SpentLimiter:
    async def take(self, key: str, *, allowance: Allowance) -> Verdict:
        return Verdict(allowed=False, retry_after_ms=1_200, remaining=0)


async def test_a_store_outage_admits_and_is_counted() -> None:
    policy = RateLimitPolicy(per_address=1, per_traveller=1, per_key=1, window_s=60)
    down = RateLimits(limiter=_DownLimiter(), policy=policy, namespace="t", groups=["unit-test"])
    before = sample("yatri_rate_limit_decisions_total", group="unit-test", identity="traveller",
                    outcome="unchecked")  # fmt: skip
    await down.admit("unit-test", Caller(address="192.0.2.1", traveller="trv-1"))
    after = sample("yatri_rate_limit_decisions_total", group="unit-test", identity="traveller",
                   outcome="unchecked")  # fmt: skip
    assert after == before + 1
    spent = RateLimits(limiter=_SpentLimiter(), policy=policy, namespace="t", groups=["unit-test"])
    with pytest.raises(RateLimitedError) as refused:
        await spent.admit("unit-test", Caller(address="192.0.2.1"))
    assert refused.value.retry_after_s == 2  # rounded up, never 0


@pytest.fixture
async def held_request(app: FastAPI) -> AsyncIterator[asyncio.Event]:
    """A chat request whose body is held back, so that it stays in progress until released."""
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        await release.wait()
        yield b'{"text": "flights from Delhi to Goa tomorrow"}'

    baseline = sample("yatri_http_in_flight")
    async with from_address(app, "192.0.2.200") as client:
        held = asyncio.create_task(
            client.post("/v1/chat", content=body(), headers={"content-type": "application/json"})
        )
        for _ in range(500):
            if sample("yatri_http_in_flight") > baseline:
                break
            await asyncio.sleep(0.01)
        yield release
        release.set()
        assert (await held).status_code == 200


async def test_requests_past_the_in_flight_cap_are_shed_with_503(
    app: FastAPI, settings: Settings, held_request: asyncio.Event
) -> None:
    shed = sample("yatri_http_shed_total")
    async with from_address(app, "192.0.2.201") as client:
        r = await client.post("/v1/chat", json=CHAT)
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/overloaded"
        assert int(r.headers["retry-after"]) >= 1
        assert sample("yatri_http_shed_total") == shed + 1
        # Probes, problem pages, bookings (I/O with bulkheads of their own) and the content
        # team's uploads are never shed.
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/v1/bookings?traveller=trv-1")).status_code == 401
        assert (await client.get("/problems/overloaded")).status_code == 200
        content = {"authorization": f"Bearer {settings.content_api_key.get_secret_value()}"}
        assert (await client.get("/v1/documents", headers=content)).status_code == 200


def http_samples(metrics: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of `name` in a /metrics page, by its labels."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == name
    }


async def test_a_shed_request_is_counted_under_the_route_it_would_have_reached(
    app: FastAPI, settings: Settings, held_request: asyncio.Event
) -> None:
    # The SLO rules select route="/v1/chat" and "/v1/answers": a 503 counted as "unmatched"
    # would never spend the error budget of the journey it refused.
    ops = {"authorization": f"Bearer {settings.ops_api_key.get_secret_value()}"}
    routes = {
        "/v1/chat": "/v1/chat",
        "/v1/answers": "/v1/answers",
        "/v1/asr/webhooks/twilio": "/v1/asr/webhooks/{provider}",  # the template, not the path
        "/v1/intents/no-such-thing": "unmatched",  # shed, though no route would have answered
    }
    shed = sample("yatri_http_shed_total")
    async with from_address(app, "192.0.2.202") as client:
        before = (await client.get("/metrics", headers=ops)).text
        for path in routes:
            r = await client.post(path, json=CHAT)
            assert r.status_code == 503, (path, r.text)
            assert r.json()["type"] == "/problems/overloaded"
        after = (await client.get("/metrics", headers=ops)).text
    assert sample("yatri_http_shed_total") == shed + len(routes)

    for name, status in (
        ("yatri_http_requests_total", "503"),
        ("yatri_http_request_seconds_count", None),
    ):
        was, now = http_samples(before, name), http_samples(after, name)
        for path, route in routes.items():
            labels = (("method", "POST"), ("route", route))
            if status is not None:
                labels = (*labels, ("status", status))
            assert now[labels] == was.get(labels, 0) + 1, (name, path)
        # Raw paths never become labels.
        assert not {dict(labels)["route"] for labels in now} & {
            "/v1/asr/webhooks/twilio",
            "/v1/intents/no-such-thing",
        }
