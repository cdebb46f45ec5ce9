"""The panels Yatri's dashboards are built from, and Grafana's JSON for them: a panel is a title,
a few PromQL queries with their legends, a unit and a width; a dashboard lays its panels out
left to right in rows of 24 columns. The Prometheus data source is provisioned with the uid
below (provisioning/datasources/yatri.yml).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def quantiles(metric: str, matchers: str = "", by: str = "") -> tuple[tuple[str, str], ...]:
    sel = f"{metric}_bucket{{{matchers}}}" if matchers else f"{metric}_bucket"
    group = f"le, {by}" if by else "le"
    legend = f"{{{{{by}}}}} " if by else ""
    return tuple(
        (f"histogram_quantile({q}, sum by ({group}) (rate({sel}[5m])))", f"{legend}p{q[2:]:0<2}")
        for q in ("0.5", "0.95", "0.99")
    )


def slo_panels(name: str, objective: float) -> tuple[Panel, Panel]:
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


def http_panels(route: str) -> tuple[Panel, ...]:
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
        Panel("Latency", quantiles("yatri_http_request_seconds", m), unit="s"),
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
