"""One dashboard per journey, each with its SLO (objective, error ratio and burn rate) and the
metrics that explain it; the objectives match deploy/prometheus/generate_slo_rules.py and
docs/slo.md. generate_dashboards.py writes them, with an overview of every journey's SLO.
"""

from __future__ import annotations

from panels import Dashboard, Panel, http_panels, quantiles, slo_panels

SLOS = {
    "chat_turn": 0.995,
    "voice_first_audio": 0.95,
    "policy_answer": 0.995,
    "fare_freshness": 0.99,
    "booking_completion": 0.99,
    "hotel_change_searchable": 0.99,
}

DASHBOARDS = (
    Dashboard(
        uid="yatri-chat-turn",
        title="Yatri / Chat turn",
        description="POST /v1/chat: 99.5 % answered without a 5xx within 2.5 s (docs/slo.md).",
        panels=(
            *slo_panels("chat_turn", SLOS["chat_turn"]),
            *http_panels("/v1/chat"),
            Panel(
                "Load shedding (503 overloaded) and requests in flight",
                (
                    ("sum(rate(yatri_http_shed_total[5m]))", "shed/s"),
                    ("sum(yatri_http_in_flight)", "in flight (all processes)"),
                ),
            ),
            Panel(
                "Turns by channel and intent",
                (
                    (
                        "sum by (channel, intent) (rate(yatri_turns_total[5m]))",
                        "{{channel}} {{intent}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Rate-limit decisions",
                (
                    (
                        "sum by (group, outcome) (rate(yatri_rate_limit_decisions_total[5m]))",
                        "{{group}} {{outcome}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Connections refused and slow clients cut off",
                (
                    ("sum(rate(yatri_http_connections_refused_total[5m]))", "refused"),
                    (
                        "sum by (phase) (rate(yatri_http_read_timeouts_total[5m]))",
                        "timeout {{phase}}",
                    ),
                ),
                unit="ops",
            ),
        ),
    ),
    Dashboard(
        uid="yatri-voice",
        title="Yatri / Voice: speech end to first audio",
        description="95 % of spoken turns within every stage budget (1.7 s in all; docs/slo.md).",
        panels=(
            *slo_panels("voice_first_audio", SLOS["voice_first_audio"]),
            Panel(
                "Stage latency p95",
                (
                    (
                        "histogram_quantile(0.95, sum by (le, stage) "
                        "(rate(yatri_voice_stage_seconds_bucket[5m])))",
                        "{{stage}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Stage latency p95 by transport",
                (
                    (
                        "histogram_quantile(0.95, sum by (le, transport) "
                        "(rate(yatri_voice_stage_seconds_bucket[5m])))",
                        "{{transport}}",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Open streams by transport",
                (("sum by (transport) (yatri_voice_active_streams)", "{{transport}}"),),
            ),
            Panel(
                "Streams refused or closed early, by reason",
                (
                    (
                        "sum by (reason) (rate(yatri_voice_rejected_streams_total[5m])) * 60",
                        "{{reason}}",
                    ),
                ),
                unit="short",
                description="Per minute. over_limit, reserved and decode_capacity are overload.",
            ),
            Panel(
                "ASR real-time factor (decode time / audio time)",
                (
                    (
                        "histogram_quantile(0.5, sum by (le) "
                        "(rate(yatri_voice_asr_real_time_factor_bucket[5m])))",
                        "p50",
                    ),
                    (
                        "histogram_quantile(0.9, sum by (le) "
                        "(rate(yatri_voice_asr_real_time_factor_bucket[5m])))",
                        "p90",
                    ),
                    ("vector(1)", "real time"),
                ),
            ),
            Panel(
                "Barge-ins and ASR webhooks",
                (
                    (
                        "sum by (transport) (rate(yatri_voice_barge_ins_total[5m]))",
                        "barge-in {{transport}}",
                    ),
                    (
                        "sum by (provider, outcome) (rate(yatri_voice_webhooks_total[5m]))",
                        "webhook {{provider}} {{outcome}}",
                    ),
                ),
                unit="ops",
            ),
        ),
    ),
    Dashboard(
        uid="yatri-policy-answer",
        title="Yatri / Policy answer",
        description="POST /v1/answers: 99.5 % answered without a 5xx within 2.5 s (docs/slo.md).",
        panels=(
            *slo_panels("policy_answer", SLOS["policy_answer"]),
            *http_panels("/v1/answers"),
            Panel(
                "Policy files ingested, by outcome and reason",
                (
                    (
                        "sum by (outcome, reason) (increase(yatri_ingest_files_total[1h]))",
                        "{{outcome}} {{reason}}",
                    ),
                ),
            ),
            Panel(
                "Qdrant and models reachable (per process)",
                (
                    (
                        'yatri_dependency_up{name=~"qdrant|models"}',
                        "{{name}} {{instance}}",
                    ),
                ),
            ),
        ),
    ),
    Dashboard(
        uid="yatri-fare-freshness",
        title="Yatri / Fare freshness",
        description="99 % of fares served at most 30 s after the airline's answer (docs/slo.md).",
        panels=(
            *slo_panels("fare_freshness", SLOS["fare_freshness"]),
            Panel("Served age", quantiles("yatri_fare_served_age_seconds"), unit="s"),
            Panel(
                "Answers by source",
                (
                    (
                        "sum by (source) (rate(yatri_fare_results_total[5m]))",
                        "{{source}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Cache lookups by tier and result",
                (
                    (
                        "sum by (tier, result) (rate(yatri_fare_cache_lookups_total[5m]))",
                        "{{tier}} {{result}}",
                    ),
                    ("sum(rate(yatri_fare_cache_early_refreshes_total[5m]))", "early refresh"),
                ),
                unit="ops",
            ),
            Panel(
                "Supplier calls by outcome",
                (
                    (
                        "sum by (supplier, outcome) (rate(yatri_supplier_calls_total[5m]))",
                        "{{supplier}} {{outcome}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Supplier latency",
                quantiles("yatri_supplier_call_seconds", by="supplier"),
                unit="s",
            ),
            Panel(
                "Breaker state (0 closed, 1 half-open, 2 open), worst process",
                (("max by (name) (yatri_breaker_state)", "{{name}}"),),
            ),
            Panel(
                "Bulkhead: calls in flight and refused",
                (
                    ("sum by (name) (yatri_bulkhead_in_flight)", "in flight {{name}}"),
                    (
                        "sum by (name) (rate(yatri_bulkhead_rejected_total[5m]))",
                        "refused/s {{name}}",
                    ),
                ),
            ),
            Panel(
                "Fare-change events: lag, dead letters, apply time p99",
                (
                    ("max(yatri_fare_events_lag)", "lag"),
                    ("max(yatri_fare_events_dlq)", "dead-lettered"),
                    (
                        "histogram_quantile(0.99, sum by (le) "
                        "(rate(yatri_fare_event_apply_seconds_bucket[5m])))",
                        "apply p99 (s)",
                    ),
                ),
            ),
        ),
    ),
    Dashboard(
        uid="yatri-bookings",
        title="Yatri / Booking completion",
        description="99 % of book workflows end confirmed or price_changed (docs/slo.md).",
        panels=(
            *slo_panels("booking_completion", SLOS["booking_completion"]),
            Panel(
                "Workflows ended, by kind and outcome",
                (
                    (
                        "sum by (kind, outcome) (increase(yatri_booking_workflows_total[1h]))",
                        "{{kind}} {{outcome}}",
                    ),
                ),
            ),
            Panel(
                "Failed workflows by step",
                (
                    (
                        "sum by (kind, failed_step) "
                        '(increase(yatri_booking_workflows_total{outcome="failed"}[1h]))',
                        "{{kind}} {{failed_step}}",
                    ),
                ),
            ),
            Panel(
                "Booking requests by status (202: the workflow outlived YATRI_BOOKING_WAIT_S)",
                (
                    (
                        "sum by (route, status) (rate(yatri_http_requests_total"
                        '{method="POST",route=~"/v1/bookings.*"}[5m]))',
                        "{{route}} {{status}}",
                    ),
                ),
                unit="reqps",
            ),
            Panel(
                "Compensations, expired holds, checkout mismatches, stuck records",
                (
                    (
                        "sum by (step) (increase(yatri_booking_compensations_total[1h]))",
                        "undo {{step}}",
                    ),
                    ("sum(increase(yatri_booking_holds_expired_total[1h]))", "holds expired"),
                    (
                        "sum by (reason) (increase(yatri_hotel_checkout_mismatches_total[1h]))",
                        "checkout {{reason}}",
                    ),
                    (
                        "sum by (kind) (increase(yatri_booking_record_stuck_total[1h]))",
                        "record stuck {{kind}}",
                    ),
                ),
            ),
            Panel(
                "Idempotency, approval codes and agent calls",
                (
                    (
                        "sum by (outcome) (rate(yatri_idempotency_total[5m]))",
                        "idempotency {{outcome}}",
                    ),
                    (
                        "sum by (action, outcome) (rate(yatri_approval_codes_total[5m]))",
                        "code {{action}} {{outcome}}",
                    ),
                    (
                        "sum by (tool, outcome) (rate(yatri_agent_tool_calls_total[5m]))",
                        "mcp {{tool}} {{outcome}}",
                    ),
                    (
                        "sum by (operation, outcome) (rate(yatri_agent_rest_calls_total[5m]))",
                        "rest {{operation}} {{outcome}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Temporal reachable (per process)",
                (('yatri_dependency_up{name="temporal"}', "{{instance}}"),),
            ),
        ),
    ),
    Dashboard(
        uid="yatri-hotels",
        title="Yatri / Hotel change to searchable",
        description="99 % of applied hotel changes searchable within 2.5 s (docs/slo.md).",
        panels=(
            *slo_panels("hotel_change_searchable", SLOS["hotel_change_searchable"]),
            Panel(
                "Change to searchable",
                quantiles("yatri_hotel_change_lag_seconds", by="supplier"),
                unit="s",
            ),
            Panel(
                "Changes by outcome",
                (
                    (
                        "sum by (supplier, outcome) (rate(yatri_hotel_changes_total[5m]))",
                        "{{supplier}} {{outcome}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Feed cursor age (set when a poll fails)",
                (("max by (supplier) (yatri_hotel_cursor_age_seconds)", "{{supplier}}"),),
                unit="s",
            ),
            Panel(
                "Reconciliation: cells found wrong and repaired",
                (
                    (
                        "sum by (supplier, outcome) (increase(yatri_hotel_drift_total[1h]))",
                        "{{supplier}} {{outcome}}",
                    ),
                ),
            ),
            Panel(
                "Destinations loaded (per process)",
                (("yatri_hotel_destinations_loaded", "{{instance}}"),),
            ),
        ),
    ),
)
