"""Writes dashboards/*.json: an overview of every journey's SLO (built here), and one
dashboard per journey (journeys.py) with its SLI and the metrics that explain it, all made of
the panels in panels.py. Grafana loads them from files (provisioning/dashboards/yatri.yml).

Edit the Python, run `python deploy/grafana/generate_dashboards.py`, commit both;
tests/test_ops_dashboards.py fails while the two disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from journeys import DASHBOARDS, SLOS
from panels import Dashboard, Panel, dashboard_json

OUT = Path(__file__).resolve().parent / "dashboards"


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
