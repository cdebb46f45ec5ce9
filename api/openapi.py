"""The OpenAPI document and its two readers, Swagger UI and ReDoc, served by Yatri itself.

The documentation pages load their scripts from the ``fastapi-offline`` package's files, mounted
here, never from a CDN: `/docs` works on a host without internet. The document is FastAPI's,
finished in one place: credential alternatives (a traveller's or an agent's token), the
`Idempotency-Key` header marked required where a missing key is a 400, and examples for every
request body (named here, with dates relative to the day the document is built so "Try it out"
works, or a request model's own `examples`).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.idempotency import MAX_KEY_LENGTH
from hotels.models import Cell, RoomType, now_version
from hotels.ota import build_avail_notif

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
# Every route that takes this header runs through api/idempotency.py, which answers 400 without
# it; the routes type it optional only so that the 400 is Yatri's problem body, not a 422.
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("package fastapi-offline is not installed")
    return Path(spec.origin).parent / "static"


def mount_docs(app: FastAPI) -> None:
    """Swagger UI at `/docs` and ReDoc at `/redoc`, with their assets served locally."""
    app.mount(ASSETS_URL, StaticFiles(directory=_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )


def _ota_example(today: dt.date) -> str:
    night = today + dt.timedelta(days=14)
    cells = [Cell(hotel_id="YH0000042", room_type=RoomType.DELUXE, night=night + dt.timedelta(days=d),
                  available=3, rate_paise=None, version=now_version()) for d in range(2)]  # fmt: skip
    return build_avail_notif("YH0000042", cells, echo_token="cm-20261205-0001").decode()


def _examples(today: dt.date) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    """Request examples by (method, path, media type): named, with a summary each."""
    soon = (today + dt.timedelta(days=14)).isoformat()
    later = (today + dt.timedelta(days=16)).isoformat()
    json = "application/json"
    book = {
        "flight": {"origin": "DEL", "destination": "BOM", "date": soon,
                   "flight_number": "IX 1972", "fare_family": "Saver", "cabin": "economy",
                   "adults": 1, "children": 0, "infants": 0},
        "expected_total_paise": 687600,
        "travellers": [{"first_name": "Asha", "last_name": "Verma"}],
        "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
    }  # fmt: skip
    return {
        ("post", "/v1/chat", json): {
            "search": {"summary": "A flight search",
                       "value": {"text": "flights from Delhi to Mumbai on 5 December"}},
            "follow-up": {"summary": "A follow-up in the same conversation",
                          "value": {"session_id": "b4J3e51DWPSJEDPojIWrJg",
                                    "text": "make it 2 adults"}},
        },
        ("post", "/v1/answers", json): {
            "question": {"summary": "A policy question",
                         "value": {"question": "How much cabin baggage can I carry on a "
                                   "SkyIndia domestic flight?"}},
            "filtered": {"summary": "Only rail policies",
                         "value": {"question": "Tatkal ticket cancel karne pe refund milega?",
                                   "filters": {"vertical": "trains"}}},
        },
        ("post", "/v1/documents", "multipart/form-data"): {
            "one file": {"summary": "One Markdown policy with where it lives",
                         "value": {"files": ["skyindia-baggage-2026.md"],
                                   "source_uri": "file:///policies/skyindia-baggage-2026.md"}},
        },
        ("post", "/v1/asr/webhooks/{provider}", json): {
            "transcript": {"summary": "A final transcript (signed with X-Yatri-Signature)",
                           "value": {"call_id": "call-7f3a", "delivery_id": "d-0001",
                                     "transcript": "flights from Delhi to Goa tomorrow",
                                     "confidence": 0.91}},
        },
        ("post", "/v1/asr/webhooks/{provider}", "application/x-www-form-urlencoded"): {
            "twilio": {"summary": "Twilio <Gather input='speech'> result",
                       "value": {"CallSid": "CA0123456789abcdef", "Confidence": "0.91",
                                 "SpeechResult": "flights from Delhi to Goa tomorrow"}},
        },
        ("post", "/v1/bookings", json): {
            "flight": {"summary": "One adult, a Saver fare from a search", "value": book},
            "flight and hotel": {"summary": "A flight and a hotel booked together",
                                 "value": {**book, "expected_total_paise": 1587600,
                                           "hotel": {"hotel_id": "YH0000042",
                                                     "check_in": soon, "nights": 2, "rooms": 1,
                                                     "room_type": "DLX",
                                                     "price_paise": 900000}}},
        },
        ("post", "/v1/hotels/webhooks/{supplier}", "application/xml"): {
            "rooms left": {"summary": "A channel manager's OTA_HotelAvailNotifRQ (signed with "
                           "X-Yatri-Timestamp and X-Yatri-Signature)",
                           "value": _ota_example(today)},
        },
        ("post", "/v1/sandbox/hotels/{hotel_id}/availability", json): {
            "sold out": {"summary": "The supplier sells its last deluxe room for a night",
                         "value": {"date": soon, "room_type": "DLX", "available": 0}},
            "rate": {"summary": "The supplier moves a night's rate (before GST)",
                     "value": {"date": soon, "room_type": "STD", "price_paise": 450000}},
        },
        ("put", "/v1/sandbox/hotels/faults", json): {
            "lossy": {"summary": "A channel manager that loses 1 % of its pushes",
                      "value": {"lost_push_rate": 0.01}},
            "outage": {"summary": "Every hotel supplier down", "value": {"outage": True}},
        },
        ("post", "/v1/bookings/{booking_id}/modify/quote", json): {
            "new date": {"summary": "What moving two days later costs", "value": {"new_date": later}},
        },
        ("post", "/v1/bookings/{booking_id}/modify", json): {
            "at a quote": {"summary": "Move at the quote the traveller saw",
                           "value": {"quote_id": "mq_1QbaV7ASTel8lVkP"}},
            "name fix": {"summary": "Correct a passenger's spelling (free)",
                         "value": {"travellers": [{"first_name": "Aasha", "last_name": "Verma"}]}},
        },
        ("post", "/v1/bookings/{booking_id}/cancel", json): {
            "at a quote": {"summary": "Cancel at the quote the traveller saw",
                           "value": {"quote_id": "cq_1QbaV7ASTel8lVkP"}},
            "at an amount": {"summary": "Cancel at the exact refund the traveller agreed to",
                             "value": {"expected_refund_paise": 370300}},
        },
    }  # fmt: skip


def finish_schema(schema: dict[str, Any], *, today: dt.date) -> dict[str, Any]:
    """FastAPI's document with Yatri's rules added (see the module docstring)."""
    examples = _examples(today)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            # One requirement per scope: OpenAPI reads the scopes of one requirement as all
            # needed, and Yatri needs any one of them.
            alternatives = [
                {name: [scope] if scope else []}
                for requirement in operation.get("security", [])
                for name, scopes in requirement.items()
                for scope in scopes or [""]
            ]
            if alternatives:
                operation["security"] = alternatives
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"] == IDEMPOTENCY_HEADER:
                    parameter["required"] = True
                    parameter["schema"] = {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_KEY_LENGTH,
                    }
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                named = examples.get((method, path, media_type)) or _model_examples(
                    schema, content.get("schema", {})
                )
                if named:
                    content["examples"] = named
    return schema


def _model_examples(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A request model's own `examples` (json_schema_extra), as named examples Swagger UI
    offers in "Try it out"."""
    ref = body.get("$ref", "")
    model = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    return {
        f"example {i}": {"value": value} for i, value in enumerate(model.get("examples", []), 1)
    }


def install_openapi(app: FastAPI, *, today: Callable[[], dt.date] = dt.date.today) -> None:
    """Replace `app.openapi` with the finished document (built once per day, then cached)."""
    cache: dict[dt.date, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        day = today()
        if day not in cache:
            cache.clear()
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            cache[day] = finish_schema(schema, today=day)
        app.openapi_schema = cache[day]
        return cache[day]

    app.openapi = openapi  # type: ignore[method-assign]
