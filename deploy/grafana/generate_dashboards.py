"""Writes dashboards/*.json: an overview of every journey's SLO, and one dashboard per journey
with its SLI and the metrics that explain it. Grafana loads them from files (provisioning/
dashboards/yatri.yml); the Prometheus data source is provisioned with the uid below.

Edit here, run `python deploy/grafana/generate_dashboards.py`, commit both;
tests/test_ops_config.py fails while the two disagree.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "yatri-prometheus"}
WIDTH = 24


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    exprs: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    description: str = ""


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]


def _quantiles(metric: str, matchers: str = "", by: str = "") -> tuple[tuple[str, str], ...]:
    sel = f"{metric}_bucket{{{matchers}}}" if matchers else f"{metric}_bucket"
    group = f"le, {by}" if by else "le"
    legend = f"{{{{{by}}}}} " if by else ""
    return tuple(
        (f"histogram_quantile({q}, sum by ({group}) (rate({sel}[5m])))", f"{legend}p{q[2:]:0<2}")
        for q in ("0.5", "0.95", "0.99")
    )


def _slo(name: str, objective: float) -> tuple[Panel, Panel]:
    budget = round(1 - objective, 6)
    return (
        Panel(
            "Error ratio by window (SLO recording rules)",
            tuple(
                (f'yatri:slo_errors:ratio_rate{w}{{slo="{name}"}}', w)
                for w in ("5m", "1h", "6h", "3d")
            )
            + ((f"vector({budget:g})", "budget (1x burn)"),),
            unit="percentunit",
            description=f"Objective {objective:.2%}: the budget is {budget:.2%} of events.",
        ),
        Panel(
            "Burn rate (1h and 6h) against the page thresholds",
            (
                (f'yatri:slo_errors:ratio_rate1h{{slo="{name}"}} / {budget:g}', "1h"),
                (f'yatri:slo_errors:ratio_rate6h{{slo="{name}"}} / {budget:g}', "6h"),
                ("vector(14.4)", "page: 1h"),
                ("vector(6)", "page: 6h"),
            ),
            unit="x",
        ),
    )


def _http(route: str) -> tuple[Panel, ...]:
    m = f'method="POST",route="{route}"'
    return (
        Panel(
            "Requests by status",
            (
                (
                    f"sum by (status) (rate(yatri_http_requests_total{{{m}}}[5m]))",
                    "{{status}}",
                ),
            ),
            unit="reqps",
        ),
        Panel("Latency", _quantiles("yatri_http_request_seconds", m), unit="s"),
    )


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
            *_slo("chat_turn", SLOS["chat_turn"]),
            *_http("/v1/chat"),
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
            *_slo("voice_first_audio", SLOS["voice_first_audio"]),
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
            *_slo("policy_answer", SLOS["policy_answer"]),
            *_http("/v1/answers"),
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
            *_slo("fare_freshness", SLOS["fare_freshness"]),
            Panel("Served age", _quantiles("yatri_fare_served_age_seconds"), unit="s"),
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
                _quantiles("yatri_supplier_call_seconds", by="supplier"),
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
            *_slo("booking_completion", SLOS["booking_completion"]),
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
            *_slo("hotel_change_searchable", SLOS["hotel_change_searchable"]),
            Panel(
                "Change to searchable",
                _quantiles("yatri_hotel_change_lag_seconds", by="supplier"),
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


def _overview() -> Dashboard:
    panels: list[Panel] = []
    for name, objective in SLOS.items():
        budget = round(1 - objective, 6)
        panels.append(
            Panel(
                f"{name}: SLI over 3 days (objective {objective:.1%})",
                ((f'1 - yatri:slo_errors:ratio_rate3d{{slo="{name}"}}', "SLI"),),
                unit="percentunit",
                kind="stat",
                width=6,
            )
        )
        panels.append(
            Panel(
                f"{name}: burn rate over 1h",
                ((f'yatri:slo_errors:ratio_rate1h{{slo="{name}"}} / {budget:g}', "burn"),),
                unit="x",
                kind="stat",
                width=6,
            )
        )
    panels += [
        Panel(
            "Alerts firing",
            (
                (
                    'sum by (alertname, severity) (ALERTS{alertstate="firing"})',
                    "{{alertname}} {{severity}}",
                ),
            ),
            width=24,
        ),
        Panel(
            "API processes up, and dependencies as each process sees them",
            (
                ('up{job="yatri-api"}', "up {{instance}}"),
                ("min by (name) (yatri_dependency_up)", "{{name}} (worst process)"),
            ),
        ),
        Panel(
            "Requests by route (5xx only)",
            (
                (
                    'sum by (route) (rate(yatri_http_requests_total{status=~"5.."}[5m]))',
                    "{{route}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Redis memory and evictions (redis_exporter)",
            (
                (
                    "max by (instance) (redis_memory_used_bytes) / "
                    "max by (instance) (redis_memory_max_bytes > 0)",
                    "{{instance}} used/max",
                ),
                (
                    "sum by (instance) (rate(redis_evicted_keys_total[5m]))",
                    "{{instance}} evicted/s",
                ),
            ),
        ),
        Panel(
            "Breakers open (max over processes)",
            (("max by (name) (yatri_breaker_state)", "{{name}}"),),
        ),
    ]
    return Dashboard(
        uid="yatri-overview",
        title="Yatri / Overview",
        description="Every journey's SLO, the alerts firing and the shared dependencies.",
        panels=tuple(panels),
    )


def _panel_json(panel: Panel, *, pid: int, x: int, y: int) -> dict[str, object]:
    height = 5 if panel.kind == "stat" else 8
    targets = [
        {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
        for i, (expr, legend) in enumerate(panel.exprs)
    ]
    return {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
    }


def dashboard_json(d: Dashboard) -> dict[str, object]:
    panels: list[dict[str, object]] = []
    x = y = row_height = 0
    for pid, panel in enumerate(d.panels, start=1):
        if x + panel.width > WIDTH:
            x, y, row_height = 0, y + row_height, 0
        item = _panel_json(panel, pid=pid, x=x, y=y)
        panels.append(item)
        x += panel.width
        row_height = max(row_height, 5 if panel.kind == "stat" else 8)
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": ["yatri"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "links": [{"title": "Overview", "type": "link", "url": "/d/yatri-overview"}],
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> dict[str, str]:
    return {
        f"{d.uid.removeprefix('yatri-')}.json": json.dumps(dashboard_json(d), indent=2) + "\n"
        for d in (_overview(), *DASHBOARDS)
    }


if __name__ == "__main__":
    files = render()
    if sys.argv[1:] == ["--check"]:
        same = all((OUT / name).read_text() == text for name, text in files.items())
        sys.exit(0 if same and {p.name for p in OUT.glob("*.json")} == set(files) else 1)
    for name, text in files.items():
        (OUT / name).write_text(text)
