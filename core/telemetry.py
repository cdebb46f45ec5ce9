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

FARE_CACHE_LOOKUPS = Counter(
    "yatri_fare_cache_lookups_total", "Fare cache lookups by tier and result.", ["tier", "result"]
)
FARE_CACHE_EARLY_REFRESH = Counter(
    "yatri_fare_cache_early_refreshes_total", "Probabilistic early refreshes started (XFetch)."
)
FARE_SERVED_AGE = Histogram(
    "yatri_fare_served_age_seconds",
    "Age of the fares served, from the supplier's answer.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 300, 900, 1800),
)
FARE_RESULTS = Counter(
    "yatri_fare_results_total", "Fare answers by source (live, l1, l2, stale_fallback).", ["source"]
)
BREAKER_STATE = Gauge(
    "yatri_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["name"]
)
BREAKER_TRANSITIONS = Counter(
    "yatri_breaker_transitions_total", "Circuit breaker state changes.", ["name", "to"]
)
BULKHEAD_IN_FLIGHT = Gauge("yatri_bulkhead_in_flight", "Calls holding a bulkhead slot.", ["name"])
BULKHEAD_REJECTED = Counter(
    "yatri_bulkhead_rejected_total", "Calls refused after waiting too long for a slot.", ["name"]
)
FARE_EVENTS_LAG = Gauge(
    "yatri_fare_events_lag", "Fare-change events not yet applied: undelivered plus pending."
)
FARE_EVENTS_DLQ = Gauge("yatri_fare_events_dlq", "Entries in the fare-event dead-letter stream.")
FARE_EVENTS = Counter(
    "yatri_fare_events_total",
    "Fare-change events by outcome (applied, duplicate, retried, dead_lettered).",
    ["outcome"],
)
FARE_EVENT_APPLY = Histogram(
    "yatri_fare_event_apply_seconds",
    "Time from a fare-change event's publication to its application.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

HOTEL_CHANGES = Counter(
    "yatri_hotel_changes_total",
    "Hotel availability changes by outcome: applied, duplicate (same version again), stale (older "
    "than the stored version), rejected (unknown hotel or room type, night outside the window).",
    ["supplier", "outcome"],
)
HOTEL_CHANGE_LAG = Histogram(
    "yatri_hotel_change_lag_seconds",
    "Change at the supplier -> searchable in the store (applied changes only).",
    ["supplier"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
HOTEL_CURSOR_AGE = Gauge(
    "yatri_hotel_cursor_age_seconds",
    "Seconds since a change-feed poller last read to the head of its supplier's feed.",
    ["supplier"],
)
HOTEL_DRIFT = Counter(
    "yatri_hotel_drift_total",
    "Cells reconciliation found different from the supplier's snapshot, and those it repaired.",
    ["supplier", "outcome"],
)
INGEST_FILES = Counter(
    "yatri_ingest_files_total",
    "Policy files ingested, by outcome (added, updated, unchanged, failed) and, for a failure, "
    "its reason: the document's fault (empty, encrypted, corrupt, unsupported_format, "
    "bad_metadata, too_large) or a problem type (a dependency failed).",
    ["outcome", "reason"],
)

HOTEL_PENDING = Gauge("yatri_hotel_changes_pending", "Hotel change batches not yet applied.")
HOTEL_LOADED = Gauge("yatri_hotel_destinations_loaded", "Destinations loaded in the store.")

VOICE_STAGE_SECONDS = Histogram(
    "yatri_voice_stage_seconds",
    "Per-turn voice latency by stage: endpoint_decision (speech end to endpoint), "
    "endpoint_to_final, final_to_reply, reply_to_first_audio.",
    ["stage", "transport"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2, 3, 5, 10),
)
VOICE_RTF = Histogram(
    "yatri_voice_asr_real_time_factor",
    "Speech recognition decode time over audio time.",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4),
)
VOICE_ACTIVE_STREAMS = Gauge("yatri_voice_active_streams", "Open voice streams.", ["transport"])
VOICE_REJECTED_STREAMS = Counter(
    "yatri_voice_rejected_streams_total",
    "Voice streams refused or closed early.",
    ["transport", "reason"],
)
VOICE_BARGE_INS = Counter(
    "yatri_voice_barge_ins_total", "Replies cut short because the caller spoke.", ["transport"]
)
VOICE_WEBHOOKS = Counter(
    "yatri_voice_webhooks_total", "ASR webhook deliveries by outcome.", ["provider", "outcome"]
)

BOOKING_OUTCOMES = Counter(
    "yatri_booking_workflows_total",
    "Booking workflows ended, by type (book, modify, cancel), outcome and failed step.",
    ["kind", "outcome", "failed_step"],
)
BOOKING_COMPENSATIONS = Counter(
    "yatri_booking_compensations_total",
    "Compensations that undid something, by step undone.",
    ["step"],
)
BOOKING_HOLDS_EXPIRED = Counter(
    "yatri_booking_holds_expired_total", "Holds that expired before ticketing or confirmation."
)
HOTEL_CHECKOUT_MISMATCHES = Counter(
    "yatri_hotel_checkout_mismatches_total",
    "Hotel stays whose live check at the supplier at checkout differed from what the traveller "
    "agreed to, by reason (price_moved, sold_out); each stopped before money moved.",
    ["reason"],
)
BOOKING_RECORD_STUCK = Counter(
    "yatri_booking_record_stuck_total",
    "Failed tries to write a booking's status, counted from the try that raises the alert on: "
    "its money or inventory moved and its record does not say so yet. Any increase pages.",
    ["kind"],
)
IDEMPOTENCY_OUTCOMES = Counter(
    "yatri_idempotency_total",
    "Idempotent requests: first, replayed, in_progress (409), mismatch (422), resolved "
    "(a retry answered from the finished work), taken_over (a retry finished a dead request).",
    ["outcome"],
)
TOOL_CALLS = Counter(
    "yatri_agent_tool_calls_total", "MCP tool calls by tool and outcome.", ["tool", "outcome"]
)
APPROVAL_CODES = Counter(
    "yatri_approval_codes_total",
    "Traveller approval codes by action (book, modify, cancel) and outcome: issued, capped "
    "(the daily cap refused one), approved, wrong, burned.",
    ["action", "outcome"],
)
AGENT_REST_CALLS = Counter(
    "yatri_agent_rest_calls_total",
    "Bookings REST calls made with agent tokens, by operation and outcome.",
    ["operation", "outcome"],
)

RATE_LIMIT_DECISIONS = Counter(
    "yatri_rate_limit_decisions_total",
    "Rate-limit checks by route group, identity (address, traveller, key) and outcome: "
    "allowed, limited (429), unchecked (the store failed; admitted).",
    ["group", "identity", "outcome"],
)
RATE_LIMIT_ALLOWANCE = Gauge(
    "yatri_rate_limit_allowance",
    "Requests allowed per identity and route group in one YATRI_RATE_LIMIT_WINDOW_S.",
    ["group", "identity"],
)
HTTP_IN_FLIGHT = Gauge(
    "yatri_http_in_flight",
    "Requests in progress on the routes that shed load (chat, answers, intents, ASR webhooks).",
)
HTTP_SHED = Counter(
    "yatri_http_shed_total", "Requests refused 503 because YATRI_MAX_IN_FLIGHT were in progress."
)
HTTP_CONNECTIONS_REFUSED = Counter(
    "yatri_http_connections_refused_total",
    "Connections closed at once because YATRI_MAX_CONNECTIONS were open.",
)
HTTP_READ_TIMEOUTS = Counter(
    "yatri_http_read_timeouts_total",
    "Connections or requests cut off because the client was too slow, by phase: headers "
    "(YATRI_HEADER_TIMEOUT_S), body (YATRI_BODY_TIMEOUT_S).",
    ["phase"],
)
