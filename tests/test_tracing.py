"""Traces: a chat turn and a booking are each one trace, from the HTTP request through the turn
engine, understanding, the fare cache and the supplier call to Temporal's workflow and activity
spans in the worker; the trace id is in the response and in every log line inside it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from core import tracing
from fares.models import IST
from tests.test_bookings import book, offer, order


class Capture(SpanExporter):
    """Keeps finished spans while a test of this module runs (the tracer provider is global
    to the process; other test modules that follow in it are not recorded)."""

    def __init__(self) -> None:
        self.active = False
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.active:
            with self._lock:
                self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def of_trace(self, trace_id: str) -> list[ReadableSpan]:
        with self._lock:
            return [s for s in self._spans if format(s.context.trace_id, "032x") == trace_id]

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


CAPTURE = Capture()


@pytest.fixture(autouse=True)
def captured() -> Iterator[Capture]:
    tracing.configure(exporter=CAPTURE)  # before the app connects to Temporal
    CAPTURE.clear()
    CAPTURE.active = True
    yield CAPTURE
    CAPTURE.active = False
    CAPTURE.clear()


def _by_name(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_chat_turn_is_one_trace_from_request_to_supplier(
    client: httpx.AsyncClient, captured: Capture
) -> None:
    date = (dt.datetime.now(IST).date() + dt.timedelta(days=12)).strftime("%d %B")
    response = await client.post(
        "/v1/chat", json={"text": f"flights from Delhi to Mumbai on {date}"}
    )
    assert response.status_code == 200, response.text
    trace_id = response.headers["x-trace-id"]
    assert len(trace_id) == 32
    spans = _by_name(captured.of_trace(trace_id))
    assert {"HTTP POST /v1/chat", "turn", "understand", "fares.search"} <= spans.keys(), spans
    http, turn, understand = spans["HTTP POST /v1/chat"], spans["turn"], spans["understand"]
    assert _parent(turn) == http.context.span_id
    assert _parent(understand) == turn.context.span_id
    assert turn.attributes is not None and turn.attributes["intent"] == "search_flights"
    assert http.attributes is not None and http.attributes["http.status_code"] == 200
    # A cold cache calls the airline: the call and its attempt, with the breaker's state.
    search = spans["fares.search"]
    assert search.attributes is not None and search.attributes["source"] in ("live", "l1", "l2")
    if search.attributes["source"] == "live":
        attempt = spans["supplier.attempt"]
        assert attempt.attributes is not None and attempt.attributes["breaker"] == "closed"


async def test_a_booking_trace_joins_the_workflow_and_its_activities(
    client: httpx.AsyncClient, settings: object, captured: Capture
) -> None:
    found = await offer(client)
    response = await book(client, settings, order(found))  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    spans = captured.of_trace(response.headers["x-trace-id"])
    names = [s.name for s in spans]
    assert any(n.startswith("StartWorkflow:") for n in names), names
    assert any(n.startswith("RunWorkflow:") for n in names), names
    activities = [n for n in names if n.startswith("RunActivity:")]
    assert len(activities) >= 3, names  # hold, authorise, ticket, capture ... in the worker


async def test_a_callers_trace_is_continued_and_named_in_the_logs(
    client: httpx.AsyncClient, captured: Capture
) -> None:
    parent = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await client.post(
        "/v1/chat",
        json={"text": "hello"},
        headers={"traceparent": f"00-{parent}-00f067aa0ba902b7-01"},
    )
    assert response.status_code == 200
    assert response.headers["x-trace-id"] == parent
    with tracing.span("unit") as span:
        event = tracing.add_trace_id(None, "info", {"event": "x"})
        assert (
            event["trace_id"]
            == tracing.trace_id()
            == format(span.get_span_context().trace_id, "032x")
        )
    assert "trace_id" not in tracing.add_trace_id(None, "info", {"event": "outside"})
