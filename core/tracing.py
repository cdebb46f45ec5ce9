"""Traces (OpenTelemetry): one trace per chat turn, voice turn and booking, from the HTTP request
through understanding, the fare cache's tiers and supplier calls, to Temporal's workflows and
activities, which join the request's trace through the Temporal adapter's interceptor.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the standard OpenTelemetry variables then
apply: ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...): spans then go to the
collector in batches, off the request path. Off, the API's no-op tracer is used and a span costs
a function call. This is the only module that imports OpenTelemetry; the rest of Yatri opens
spans with `span` and reads the current trace id with `trace_id`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_tracer = trace.get_tracer("yatri")
_lock = threading.Lock()
_enabled = False

AttributeValue = str | bool | int | float


def configure(*, service_name: str = "yatri", exporter: Any | None = None) -> bool:
    """Install the SDK's tracer provider once per process: with ``exporter`` (tests pass an
    in-memory one, exported span by span), else an OTLP/HTTP exporter when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Returns whether tracing is on. A second call adds
    its exporter to the provider already installed."""
    global _enabled
    if exporter is None and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _enabled
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    with _lock:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            name = os.environ.get("OTEL_SERVICE_NAME", service_name)
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            trace.set_tracer_provider(provider)
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _enabled = True
    return True


def enabled() -> bool:
    return _enabled


@contextmanager
def span(
    name: str,
    *,
    server: bool = False,
    start_time: int | None = None,
    end_time: int | None = None,
    **attributes: AttributeValue | None,
) -> Iterator[Any]:
    """A span around the block, a child of the current one; an exception marks it failed.
    ``None`` attributes are left out. Yields the span (``set`` adds attributes later).
    ``start_time`` and ``end_time`` (ns since the epoch, as `time.time_ns`) place a span known
    only in hindsight: a caller's speech is detected some 100 ms after it began."""
    attrs = {k: v for k, v in attributes.items() if v is not None}
    kind = SpanKind.SERVER if server else SpanKind.INTERNAL
    current = _tracer.start_span(name, kind=kind, attributes=attrs, start_time=start_time)
    try:
        with trace.use_span(current, record_exception=True, set_status_on_exception=True):
            yield current
    finally:
        current.end(end_time=end_time)


def set_attributes(**attributes: AttributeValue | None) -> None:
    """Attributes on the current span (what is known only at the end: the intent, the tier)."""
    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, value)


def mark_error(description: str) -> None:
    trace.get_current_span().set_status(Status(StatusCode.ERROR, description))


def trace_id() -> str | None:
    """The current trace's id as 32 hex digits; None outside a recorded span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@contextmanager
def extracted(headers: Mapping[str, str]) -> Iterator[None]:
    """Continue the caller's trace (W3C ``traceparent``) for the block."""
    token = context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)


def add_trace_id(_: Any, __: str, event: Any) -> Any:
    """structlog processor: every log line inside a span carries its trace and span ids."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event


__all__ = [
    "add_trace_id",
    "configure",
    "enabled",
    "extracted",
    "mark_error",
    "set_attributes",
    "span",
    "trace_id",
]
