"""Schemathesis against the OpenAPI document: every operation, with its credentials, valid and
invalid input (which includes requests with the credential left out: a 401 is their answer),
on the real stack served the way `yatri serve` serves it. Any 5xx, any response
outside its declared status codes or schema, fails. The budget is bounded (YATRI_FUZZ_EXAMPLES
per operation and mode) and derandomised, so CI runs the same cases every time."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from pydantic import BaseModel, SecretStr
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from core.settings import Settings
from tests.test_bookings import token
from tests.test_slow_clients import serving

EXAMPLES = int(os.environ.get("YATRI_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
TRAVELLER = "fuzz-traveller"
# Schemathesis draws from `random` inside its strategies; derandomize still fixes the cases.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's, with the rate limits and load shedding off (a 429 or 503 would hide what the
    route does) and short booking waits (a fuzzed booking must not hold the budget)."""
    return settings.model_copy(
        update={
            "rate_limit_enabled": False,
            "max_in_flight": 0,
            "booking_wait_s": 2.0,
            "request_timeout_s": 10.0,
            # Configured, so the webhooks' signature checks are fuzzed rather than a 404.
            "twilio_auth_token": SecretStr("fuzz-twilio-token"),
            "asr_webhook_secret": SecretStr("fuzz-asr-secret"),
        }
    )


@pytest.fixture
async def base_url(app: FastAPI, settings: Settings) -> AsyncIterator[str]:
    async with serving(app, settings, http="h11") as (port, _):
        yield f"http://127.0.0.1:{port}"


def credentials(settings: Settings, security: list[dict[str, list[str]]] | None) -> str | None:
    """The bearer credential an operation declares; a traveller's token where it declares none
    (chat and answers take one optionally)."""
    schemes = {
        name: scopes for requirement in security or [] for name, scopes in requirement.items()
    }
    if "opsKey" in schemes:
        return settings.ops_api_key.get_secret_value()
    if "contentKey" in schemes:
        return settings.content_api_key.get_secret_value()
    return token(settings, TRAVELLER)["authorization"].removeprefix("Bearer ")


def fuzz(base_url: str, settings: Settings) -> tuple[Counter[str], list[str]]:
    """Runs every operation; answers the status codes seen per operation and a report of each
    failure."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    seen: Counter[str] = Counter()
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            token = credentials(settings, operation.definition.raw.get("security"))
            headers = {"authorization": f"Bearer {token}"} if token else {}
            for mode in GenerationMode:
                found = run_operation(operation, mode, base_url, session, headers, seen)
                if found:
                    failures.append(f"{label} [{mode.value}]: {found}")
    return seen, failures


def run_operation(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: Any,
    headers: dict[str, str],
    seen: Counter[str],
) -> str | None:
    label = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        seen[f"{label} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        one()
    except Unsatisfiable:
        return None  # nothing invalid to generate for this operation (no parameters)
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups distinct failures
        return str(failure)[:3000]
    return None


@pytest.mark.slow
async def test_every_operation_survives_fuzzing(base_url: str, settings: Settings) -> None:
    seen, failures = await asyncio.to_thread(fuzz, base_url, settings)
    print("\n".join(f"{n:5} {what}" for what, n in sorted(seen.items())))
    operations = {what.rsplit(" ", 1)[0] for what in seen}
    assert len(operations) >= 20, operations
    assert not failures, "\n\n".join(failures)


class Echo(BaseModel):
    text: str


def planted() -> FastAPI:
    """A small app with the two defects the fuzzer exists to catch: a 500 on some input and a
    body outside its declared schema."""
    application = FastAPI()

    @application.post("/crash")
    async def crash(body: Echo) -> Echo:
        if not body.text.isascii():
            raise RuntimeError("planted")
        return body

    @application.get("/drift", response_model=None, responses={200: {"model": Echo}})
    async def drift() -> dict[str, int]:
        return {"text": 1}

    return application


async def test_the_fuzzer_reports_a_server_error_and_a_schema_violation(
    settings: Settings,
) -> None:
    """The harness itself: a budget this size finds both planted defects, so a clean run above
    means something."""
    async with serving(planted(), settings, http="h11") as (port, _):
        _, failures = await asyncio.to_thread(fuzz, f"http://127.0.0.1:{port}", settings)
    report = "\n".join(failures)
    assert "POST /crash [positive]" in report and "Server error" in report, report
    assert "GET /drift [positive]" in report and "Response violates schema" in report, report
