"""Prometheus metrics shared by every package. Metrics live in one registry per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "yatri_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "yatri_http_request_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TURNS = Counter("yatri_turns_total", "Conversation turns handled.", ["channel", "intent"])
DEPENDENCY_UP = Gauge("yatri_dependency_up", "1 when a dependency's last check passed.", ["name"])
SUPPLIER_CALLS = Counter(
    "yatri_supplier_calls_total", "Supplier calls by outcome.", ["supplier", "operation", "outcome"]
)
SUPPLIER_LATENCY = Histogram(
    "yatri_supplier_call_seconds",
    "Supplier call latency.",
    ["supplier", "operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
