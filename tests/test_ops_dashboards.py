"""The Grafana dashboards hold together: they are what deploy/grafana/generate_dashboards.py
writes, read the provisioned datasource, query only metrics that exist (and promtool parses
every query when it is on the PATH), and are mounted where the provisioning looks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

from tests.ops_support import (
    DASHBOARDS,
    DEPLOY,
    alerts,
    check_selector,
    load_script,
    load_yaml,
    recorded,
    run_promtool,
    selectors,
)

DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "panels", "schemaVersion", "time"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "stat"]},
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {k: {"type": "integer", "minimum": 0} for k in "hwxy"},
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["refId", "expr", "datasource"]},
                    },
                },
            },
        },
    },
}


def dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def provisioned_datasource_uid() -> str:
    provisioning = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "yatri.yml")
    [prometheus] = [d for d in provisioning["datasources"] if d["type"] == "prometheus"]
    uid: str = prometheus["uid"]
    return uid


def test_dashboards_parse_with_unique_ids_and_the_provisioned_datasource() -> None:
    uid = provisioned_datasource_uid()
    assert {p.stem for p in DASHBOARDS} >= {"overview", "chat-turn", "voice", "policy-answer",
                                            "fare-freshness", "bookings", "hotels"}  # fmt: skip
    uids = set()
    for path in DASHBOARDS:
        d = dashboard(path)
        jsonschema.validate(d, DASHBOARD_SCHEMA)
        uids.add(d["uid"])
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in d["panels"]:
            assert panel["datasource"]["uid"] == uid, path.name
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, path.name
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    assert len(uids) == len(DASHBOARDS)
    # Every alert's dashboard annotation opens one of them.
    for alert in alerts():
        assert alert["annotations"]["dashboard"].removeprefix("/d/") in uids, alert["alert"]


def test_every_metric_the_dashboards_read_exists() -> None:
    names = recorded()
    for path in DASHBOARDS:
        for panel in dashboard(path)["panels"]:
            for target in panel["targets"]:
                for sel in selectors(target["expr"]):
                    check_selector(sel, where=f"{path.name} {panel['title']}", recorded_names=names)


def test_dashboards_are_what_the_generator_writes() -> None:
    generator = load_script(DEPLOY / "grafana" / "generate_dashboards.py")
    files = generator.render()
    assert set(files) == {p.name for p in DASHBOARDS}
    for name, text in files.items():
        assert (DEPLOY / "grafana" / "dashboards" / name).read_text() == text, name


def test_grafana_provisioning_points_at_the_mounted_dashboards() -> None:
    [provider] = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "yatri.yml")[
        "providers"
    ]
    grafana = load_yaml(DEPLOY / "compose.yaml")["services"]["grafana"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    assert mounts["./grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    exprs = [t["expr"] for d in DASHBOARDS for p in dashboard(d)["panels"] for t in p["targets"]]
    group = {
        "name": "dashboards",
        "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    (tmp_path / "q.yml").write_text(yaml.safe_dump({"groups": [group]}))
    run_promtool("check", "rules", "q.yml", cwd=tmp_path)
