"""Writes rules/yatri-slo.rules.yml: per journey, its error ratio over each burn-rate window
(recording rules) and the multi-window, multi-burn-rate alerts of the Google SRE workbook.

Edit the SLO table here, run `python deploy/prometheus/generate_slo_rules.py`, commit both;
tests/test_ops_alerts.py fails while the two disagree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parent / "rules" / "yatri-slo.rules.yml"
RUNBOOKS = "docs/runbooks"
WINDOWS = ("5m", "30m", "1h", "6h", "3d")
WINDOW = "$window"  # replaced by each of WINDOWS


@dataclass(frozen=True, slots=True)
class Burn:
    """Page or ticket when the error ratio over both windows exceeds factor × the budget."""

    long: str
    short: str
    factor: float
    severity: str


# 14.4x for 1h spends 2 % of a 30-day budget; 6x for 6h spends 5 %; 1x for 3 days, 10 %.
PAGE = (Burn("1h", "5m", 14.4, "page"), Burn("6h", "30m", 6, "page"))
TICKET = (Burn("3d", "6h", 1, "ticket"),)


@dataclass(frozen=True, slots=True)
class Slo:
    name: str  # the `slo` label of the recording rules
    alert: str  # the alert's name; docs/runbooks/<alert>.md explains it
    journey: str
    objective: float  # share of valid events that must be good over 30 days
    bad: str  # PromQL: bad events per second over WINDOW
    valid: str  # PromQL: valid events per second over WINDOW
    dashboard: str  # the Grafana dashboard's uid


def _rate(selector: str) -> str:
    return f"sum(rate({selector}[{WINDOW}]))"


def _zero_if_absent(expr: str) -> str:
    # A series that never moved (no 5xx yet) is absent, and absent + x is absent: count it as 0.
    return f"({expr} or vector(0))"


def _slower_than(histogram: str, matchers: str, le: str) -> str:
    count = _rate(f"{histogram}_count{{{matchers}}}" if matchers else f"{histogram}_count")
    bucket = ",".join(m for m in (matchers, f'le="{le}"') if m)
    within = _rate(f"{histogram}_bucket{{{bucket}}}")
    return _zero_if_absent(f"({count} - {within})")


def _http(route: str, le: str) -> tuple[str, str]:
    matchers = f'method="POST",route="{route}"'
    errors = _zero_if_absent(_rate(f'yatri_http_requests_total{{{matchers},status=~"5.."}}'))
    slow = _slower_than("yatri_http_request_seconds", matchers, le)
    return f"{errors} + {slow}", _rate(f"yatri_http_requests_total{{{matchers}}}")


# Speech end -> first audio has no histogram of its own: each stage has one. A turn within every
# stage's budget is within their sum (0.8 + 0.2 + 0.5 + 0.2 = 1.7 s), so the turns over budget
# in any stage, added up, are at least the turns over 1.7 s: the ratio errs on the side of paging.
VOICE_BUDGETS = (
    ("endpoint_decision", "0.8"),
    ("endpoint_to_final", "0.2"),
    ("final_to_reply", "0.5"),
    ("reply_to_first_audio", "0.2"),
)

_chat_bad, _chat_valid = _http("/v1/chat", "2.5")
_answer_bad, _answer_valid = _http("/v1/answers", "2.5")

SLOS = (
    Slo(
        name="chat_turn",
        alert="YatriChatTurnBudgetBurn",
        journey="Chat turn: POST /v1/chat answered without a 5xx within 2.5 s",
        objective=0.995,
        bad=_chat_bad,
        valid=_chat_valid,
        dashboard="yatri-chat-turn",
    ),
    Slo(
        name="voice_first_audio",
        alert="YatriVoiceFirstAudioBudgetBurn",
        journey="Speech end -> first reply audio within 1.7 s (every stage within its budget)",
        objective=0.95,
        bad=" + ".join(
            _slower_than("yatri_voice_stage_seconds", f'stage="{stage}"', le)
            for stage, le in VOICE_BUDGETS
        ),
        valid=_rate('yatri_voice_stage_seconds_count{stage="endpoint_decision"}'),
        dashboard="yatri-voice",
    ),
    Slo(
        name="policy_answer",
        alert="YatriPolicyAnswerBudgetBurn",
        journey="Policy answer: POST /v1/answers answered without a 5xx within 2.5 s",
        objective=0.995,
        bad=_answer_bad,
        valid=_answer_valid,
        dashboard="yatri-policy-answer",
    ),
    Slo(
        name="fare_freshness",
        alert="YatriFareFreshnessBudgetBurn",
        journey="Fare freshness: fares served at most 30 s after the airline's answer",
        objective=0.99,
        bad=_slower_than("yatri_fare_served_age_seconds", "", "30.0"),
        valid=_rate("yatri_fare_served_age_seconds_count"),
        dashboard="yatri-fare-freshness",
    ),
    Slo(
        name="booking_completion",
        alert="YatriBookingCompletionBudgetBurn",
        journey="Booking completion: book workflows that end confirmed or price_changed",
        objective=0.99,
        bad=_zero_if_absent(_rate('yatri_booking_workflows_total{kind="book",outcome="failed"}')),
        valid=_rate('yatri_booking_workflows_total{kind="book"}'),
        dashboard="yatri-bookings",
    ),
    Slo(
        name="hotel_change_searchable",
        alert="YatriHotelChangeBudgetBurn",
        journey="Hotel change at the supplier -> searchable within 2.5 s",
        objective=0.99,
        bad=_slower_than("yatri_hotel_change_lag_seconds", "", "2.5"),
        valid=_rate("yatri_hotel_change_lag_seconds_count"),
        dashboard="yatri-hotels",
    ),
)


def ratio_record(window: str) -> str:
    return f"yatri:slo_errors:ratio_rate{window}"


def _recording_rules(slo: Slo) -> list[dict[str, object]]:
    return [
        {
            "record": ratio_record(w),
            "labels": {"slo": slo.name},
            "expr": f"({slo.bad})\n/\n({slo.valid})".replace(WINDOW, w),
        }
        for w in WINDOWS
    ]


def _burn_expr(slo: Slo, burns: tuple[Burn, ...]) -> str:
    budget = round(1 - slo.objective, 6)
    clauses = []
    for b in burns:
        threshold = f"({b.factor:g} * {budget:g})"
        clauses.append(
            f'(\n  {ratio_record(b.long)}{{slo="{slo.name}"}} > {threshold}\n'
            f'  and\n  {ratio_record(b.short)}{{slo="{slo.name}"}} > {threshold}\n)'
        )
    return "\nor\n".join(clauses)


def _alert(slo: Slo, burns: tuple[Burn, ...]) -> dict[str, object]:
    severity = burns[0].severity
    windows = ", ".join(f"{b.long}/{b.short} at {b.factor:g}x" for b in burns)
    return {
        "alert": slo.alert,
        "expr": _burn_expr(slo, burns),
        "for": "2m" if severity == "page" else "30m",
        "labels": {"severity": severity, "slo": slo.name},
        "annotations": {
            "summary": f"{slo.journey}: error budget burning ({severity})",
            "description": (
                f"Objective {slo.objective:.2%} over 30 days. Burn over {windows}. "
                f"Error ratio over 1h: "
                f'{{{{ with query "{ratio_record("1h")}{{slo=\\"{slo.name}\\"}}" }}}}'
                "{{ . | first | value | humanizePercentage }}{{ end }}."
            ),
            "runbook_url": f"{RUNBOOKS}/{slo.alert}.md",
            "dashboard": f"/d/{slo.dashboard}",
        },
    }


def rules() -> dict[str, object]:
    return {
        "groups": [
            {
                "name": "yatri-slo-ratios",
                "interval": "30s",
                "rules": [r for slo in SLOS for r in _recording_rules(slo)],
            },
            {
                "name": "yatri-slo-alerts",
                "rules": [a for slo in SLOS for a in (_alert(slo, PAGE), _alert(slo, TICKET))],
            },
        ]
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    header = "# Generated by deploy/prometheus/generate_slo_rules.py: edit that, not this.\n"
    body = yaml.dump(rules(), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return header + body


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text() == render() else 1)
    OUT.write_text(render())
