"""Webhook authentication: Twilio's signature, and shared-secret HMAC with replay and dedupe
checks against the real embedded Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from core.embedded import EmbeddedValkey
from core.errors import ConflictError, InvalidRequestError, UnauthorizedError
from core.redis_conn import RedisClient, connect_redis
from voice.redis_webhooks import RedisReplayNonces, WebhookDeliveries
from voice.webhooks import (
    WebhookVerifier,
    basic_credentials_match,
    sign_generic,
    signed_content_id,
    twilio_turn_age_s,
    twilio_turn_url,
    verify_twilio_signature,
)

# Twilio's published example request (twilio.com/docs/usage/security).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_TOKEN = "12345"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TWILIO_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

SECRET = b"s3cret-shared-with-the-provider"
BODY = b'{"call_id":"c-1","transcript":"mujhe kal Mumbai jaana hai"}'


def twilio_reference(url: str, params: dict[str, str], token: str) -> str:
    """The documented algorithm, written out here independently of the code under test."""
    data = url
    for name in sorted(params):
        data += name + params[name]
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- Twilio -------------------------------------------------------------------------------


def test_twilio_documented_vector() -> None:
    assert twilio_reference(TWILIO_URL, TWILIO_PARAMS, TWILIO_TOKEN) == TWILIO_SIGNATURE
    assert verify_twilio_signature(
        url=TWILIO_URL, params=TWILIO_PARAMS, signature=TWILIO_SIGNATURE, auth_token=TWILIO_TOKEN
    )


def test_twilio_independent_vector_with_unicode_and_unsorted_params() -> None:
    params = {"SpeechResult": "मुझे दिल्ली जाना है", "Confidence": "0.91", "AccountSid": "AC1"}
    url = "https://yatri.example/voice/asr?call=42"
    token = "tok-" + uuid.uuid4().hex
    signature = twilio_reference(url, params, token)
    assert verify_twilio_signature(url=url, params=params, signature=signature, auth_token=token)


@pytest.mark.parametrize("name", sorted(TWILIO_PARAMS))
def test_twilio_rejects_any_changed_param(name: str) -> None:
    changed = {**TWILIO_PARAMS, name: TWILIO_PARAMS[name] + "0"}
    assert not verify_twilio_signature(
        url=TWILIO_URL, params=changed, signature=TWILIO_SIGNATURE, auth_token=TWILIO_TOKEN
    )


@pytest.mark.parametrize(
    "params",
    [
        {k: v for k, v in TWILIO_PARAMS.items() if k != "Digits"},  # dropped
        {**TWILIO_PARAMS, "Extra": "1"},  # added
        {("X" + k if k == "To" else k): v for k, v in TWILIO_PARAMS.items()},  # renamed
    ],
    ids=["dropped", "added", "renamed"],
)
def test_twilio_rejects_changed_param_set(params: dict[str, str]) -> None:
    assert not verify_twilio_signature(
        url=TWILIO_URL, params=params, signature=TWILIO_SIGNATURE, auth_token=TWILIO_TOKEN
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php",
        "https://evil.example/myapp.php?foo=1&bar=2",
    ],
)
def test_twilio_rejects_changed_url(url: str) -> None:
    assert not verify_twilio_signature(
        url=url, params=TWILIO_PARAMS, signature=TWILIO_SIGNATURE, auth_token=TWILIO_TOKEN
    )


@pytest.mark.parametrize("token", ["12346", "", "123456"])
def test_twilio_rejects_wrong_or_empty_token(token: str) -> None:
    assert not verify_twilio_signature(
        url=TWILIO_URL, params=TWILIO_PARAMS, signature=TWILIO_SIGNATURE, auth_token=token
    )


@pytest.mark.parametrize(
    "signature", ["", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=é"]
)
def test_twilio_rejects_bad_signature(signature: str) -> None:
    assert not verify_twilio_signature(
        url=TWILIO_URL, params=TWILIO_PARAMS, signature=signature, auth_token=TWILIO_TOKEN
    )


def test_twilio_empty_token_never_verifies_even_a_matching_mac() -> None:
    forged = twilio_reference(TWILIO_URL, TWILIO_PARAMS, "")
    assert not verify_twilio_signature(
        url=TWILIO_URL, params=TWILIO_PARAMS, signature=forged, auth_token=""
    )


# --- shared-secret HMAC -------------------------------------------------------------------


def test_sign_generic_matches_the_documented_algorithm() -> None:
    expected = hmac.new(SECRET, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_generic(secret=SECRET, timestamp=1_700_000_000, body=BODY) == expected


@pytest.fixture
async def redis(redis_server: EmbeddedValkey) -> AsyncIterator[RedisClient]:
    client = connect_redis(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(int(time.time())))  # whole seconds, so the window edges are exact


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def verifier(redis: RedisClient, clock: FakeClock, namespace: str) -> WebhookVerifier:
    return WebhookVerifier(
        replays=RedisReplayNonces(redis=redis, namespace=namespace),
        secret=SECRET,
        tolerance_s=300,
        clock=clock,
    )


def signed(clock: FakeClock, *, body: bytes = BODY, offset: int = 0) -> tuple[str, str]:
    ts = int(clock.now) + offset
    return str(ts), sign_generic(secret=SECRET, timestamp=ts, body=body)


async def test_valid_signature_passes(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, sig = signed(clock)
    await verifier.verify(timestamp=ts, signature=sig, body=BODY)


async def test_edges_of_the_window_pass(verifier: WebhookVerifier, clock: FakeClock) -> None:
    for offset in (-300, 300):
        ts, sig = signed(clock, offset=offset)
        await verifier.verify(timestamp=ts, signature=sig, body=BODY)


async def test_tampered_body_fails(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, sig = signed(clock)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature=sig, body=BODY.replace(b"Mumbai", b"Goa"))
    assert err.value.status == 401
    assert err.value.extensions["reason"] == "bad-signature"
    assert "signature" in err.value.detail


async def test_tampered_timestamp_fails(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, sig = signed(clock)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=str(int(ts) + 1), signature=sig, body=BODY)
    assert err.value.extensions["reason"] == "bad-signature"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"),
        lambda s: s.upper(),  # one request, one accepted spelling: replay keys can't be dodged
        lambda s: s[:-2],
        lambda s: sign_generic(secret=b"other", timestamp=0, body=BODY),
        lambda s: s + "é",
    ],
    ids=["flipped", "uppercase", "truncated", "other-secret", "non-ascii"],
)
async def test_tampered_signature_fails(
    verifier: WebhookVerifier, clock: FakeClock, mutate: Callable[[str], str]
) -> None:
    ts, sig = signed(clock)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature=mutate(sig), body=BODY)
    assert err.value.extensions["reason"] == "bad-signature"


async def test_missing_signature_fails(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, _ = signed(clock)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature="", body=BODY)
    assert err.value.extensions["reason"] == "missing-signature"
    assert "missing" in err.value.detail


@pytest.mark.parametrize(
    "timestamp", ["", "abc", "1.5", "+1700000000", " 1700000000", "1_700", "١٢٣"]
)
async def test_non_integer_timestamp_fails(verifier: WebhookVerifier, timestamp: str) -> None:
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=timestamp, signature="ab" * 32, body=BODY)
    assert err.value.extensions["reason"] == "bad-timestamp"
    assert "integer" in err.value.detail


async def test_old_timestamp_fails(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, sig = signed(clock, offset=-301)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature=sig, body=BODY)
    assert err.value.extensions["reason"] == "stale-timestamp"
    assert "old" in err.value.detail


async def test_future_timestamp_fails(verifier: WebhookVerifier, clock: FakeClock) -> None:
    ts, sig = signed(clock, offset=301)
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature=sig, body=BODY)
    assert err.value.extensions["reason"] == "future-timestamp"
    assert "future" in err.value.detail


async def test_request_goes_stale_as_time_passes(
    verifier: WebhookVerifier, clock: FakeClock
) -> None:
    ts, sig = signed(clock, body=b"late")
    clock.now += 301
    with pytest.raises(UnauthorizedError) as err:
        await verifier.verify(timestamp=ts, signature=sig, body=b"late")
    assert err.value.extensions["reason"] == "stale-timestamp"


async def test_replay_is_a_conflict(
    verifier: WebhookVerifier, clock: FakeClock, redis: RedisClient, namespace: str
) -> None:
    ts, sig = signed(clock)
    await verifier.verify(timestamp=ts, signature=sig, body=BODY)
    clock.now += 10
    with pytest.raises(ConflictError) as err:
        await verifier.verify(timestamp=ts, signature=sig, body=BODY)
    assert err.value.status == 409
    # The replay key outlives every moment at which the timestamp is still accepted.
    keys = [k async for k in redis.scan_iter(match=f"{namespace}:webhook:replay:*")]
    assert len(keys) == 1
    assert 590 < await redis.ttl(keys[0]) <= 600


async def test_rejected_requests_write_nothing(
    verifier: WebhookVerifier, clock: FakeClock, redis: RedisClient, namespace: str
) -> None:
    ts, sig = signed(clock)
    with pytest.raises(UnauthorizedError):
        await verifier.verify(timestamp=ts, signature=sig, body=b"tampered")
    with pytest.raises(UnauthorizedError):
        await verifier.verify(timestamp=str(int(ts) - 1000), signature=sig, body=BODY)
    assert [k async for k in redis.scan_iter(match=f"{namespace}:*")] == []
    # ...so the genuine request still gets through afterwards.
    await verifier.verify(timestamp=ts, signature=sig, body=BODY)


async def test_verifiers_in_other_namespaces_do_not_share_replays(
    redis: RedisClient, clock: FakeClock
) -> None:
    ts, sig = signed(clock)
    for _ in range(2):
        replays = RedisReplayNonces(redis=redis, namespace=f"t{uuid.uuid4().hex[:8]}")
        other = WebhookVerifier(replays=replays, secret=SECRET, clock=clock)
        await other.verify(timestamp=ts, signature=sig, body=BODY)


# --- delivery dedupe ----------------------------------------------------------------------


@pytest.fixture
def deliveries(redis: RedisClient, namespace: str) -> WebhookDeliveries:
    return WebhookDeliveries(redis=redis, namespace=namespace)


async def test_claim_delivery_once(
    deliveries: WebhookDeliveries, redis: RedisClient, namespace: str
) -> None:
    assert await deliveries.claim(provider="exotel", delivery_id="d-1") is True
    assert await deliveries.claim(provider="exotel", delivery_id="d-1") is False
    assert await deliveries.claim(provider="exotel", delivery_id="d-2") is True
    key = f"{namespace}:webhook:delivery:exotel:d-1"
    assert 86_390 < await redis.ttl(key) <= 86_400


async def test_claims_of_distinct_providers_are_independent(deliveries: WebhookDeliveries) -> None:
    assert await deliveries.claim(provider="exotel", delivery_id="same") is True
    assert await deliveries.claim(provider="plivo", delivery_id="same") is True
    assert await deliveries.claim(provider="plivo", delivery_id="same") is False
    assert await deliveries.claim(provider="exotel", delivery_id="same") is False


async def test_released_delivery_can_be_claimed_again(deliveries: WebhookDeliveries) -> None:
    assert await deliveries.claim(provider="vonage", delivery_id="d-9") is True
    await deliveries.release(provider="vonage", delivery_id="d-9")
    assert await deliveries.claim(provider="vonage", delivery_id="d-9") is True


async def test_claim_rejects_bad_ids(deliveries: WebhookDeliveries) -> None:
    with pytest.raises(InvalidRequestError):
        await deliveries.claim(provider="exotel", delivery_id="")
    with pytest.raises(ValueError):
        await deliveries.claim(provider="a:b", delivery_id="c")


def test_unsafe_configuration_is_refused(redis_server: EmbeddedValkey) -> None:
    replays = RedisReplayNonces(redis=connect_redis(redis_server.url))
    with pytest.raises(ValueError):
        WebhookVerifier(replays=replays, secret=b"")
    with pytest.raises(ValueError):
        WebhookVerifier(replays=replays, secret=SECRET, tolerance_s=0)


async def test_recorded_answer_is_returned_for_retries(deliveries: WebhookDeliveries) -> None:
    assert await deliveries.claim(provider="exotel", delivery_id="d-7") is True
    assert await deliveries.answer(provider="exotel", delivery_id="d-7") is None  # in progress
    await deliveries.record(provider="exotel", delivery_id="d-7", answer=b'{"reply":"ok"}')
    assert await deliveries.claim(provider="exotel", delivery_id="d-7") is False
    assert await deliveries.answer(provider="exotel", delivery_id="d-7") == b'{"reply":"ok"}'


async def test_a_delivery_seen_under_any_of_its_ids_is_a_duplicate(
    deliveries: WebhookDeliveries,
) -> None:
    content = signed_content_id(b"https://yatri.test/hookCallSidCA1SpeechResultyes")
    assert await deliveries.claim_all(provider="twilio", delivery_ids=[content, "tok-1"]) is None
    await deliveries.record_all(provider="twilio", delivery_ids=[content, "tok-1"], answer=b"a")
    # The same signed content under a fresh, unsigned token.
    assert await deliveries.claim_all(provider="twilio", delivery_ids=[content, "tok-2"]) == content
    assert await deliveries.claim(provider="twilio", delivery_id="tok-2") is True  # given back
    assert await deliveries.answer(provider="twilio", delivery_id=content) == b"a"


def test_twilio_turn_urls_are_fresh_and_dated() -> None:
    url = twilio_turn_url("https://yatri.test/v1/asr/webhooks/twilio?x=1", now=1_000_000)
    again = twilio_turn_url(url, now=1_000_100)
    assert url != again and again.count("yatri_turn=") == 1 and "x=1" in again
    assert twilio_turn_age_s(again, now=1_000_160) == 60
    assert twilio_turn_age_s("https://yatri.test/hook?yatri_turn=soon", now=0) is None


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ("Basic " + base64.b64encode(b"key:token").decode(), True),
        ("basic " + base64.b64encode(b"key:token").decode(), True),
        ("Basic " + base64.b64encode(b"key:other").decode(), False),
        ("Bearer " + base64.b64encode(b"key:token").decode(), False),
        ("Basic not*base64", False),
        ("", False),
    ],
)
def test_basic_credentials(header: str, matches: bool) -> None:
    assert basic_credentials_match(header, expected="key:token") is matches
    assert basic_credentials_match(header, expected="") is False
