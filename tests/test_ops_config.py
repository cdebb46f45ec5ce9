"""The operations files hold together: the SLO and infrastructure rules, the Grafana dashboards,
the runbooks, and the deployment (compose, Kubernetes). Nothing here starts a service.

Every metric a rule or a dashboard reads must be one Yatri defines (found in the source, with
its labels and buckets), a series the rules record, or one of the few named exporters' series.
The alerts' logic runs through `promtool test rules` on sample series when promtool is on the
PATH (Debian's `prometheus` package ships it); without it those tests skip and the Python
checks of the burn-rate thresholds still run.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from prometheus_client import Histogram

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
PROMTOOL_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RUNBOOKS = ROOT / "docs" / "runbooks"
K8S = DEPLOY / "k8s"
PACKAGES = ("core", "api", "sessions", "intents", "fares", "hotels", "bookings", "rag", "ingest",
            "voice", "web")  # fmt: skip

# Series not defined in Yatri's code: Prometheus's own, and redis_exporter's (deployed beside
# the Redis nodes in compose.yaml, scraped as job "redis").
EXTERNAL = {
    "up": "prometheus",
    "ALERTS": "prometheus",
    "redis_evicted_keys_total": "redis-exporter",
    "redis_memory_used_bytes": "redis-exporter",
    "redis_memory_max_bytes": "redis-exporter",
}
TARGET_LABELS = {"instance", "job"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                "group_left", "group_right", "inf", "nan"}  # fmt: skip
SEVERITIES = {"page", "ticket"}
RUNBOOK_SECTIONS = ("## What it means", "## Confirm", "## Mitigate", "## Recover")


# --- what the code defines ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    kind: str  # Counter, Gauge, Histogram, Summary
    name: str
    labels: frozenset[str]
    buckets: tuple[str, ...]  # as exposed in `le`, histograms only


def _strings(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []  # fmt: skip


@cache
def code_metrics() -> dict[str, Metric]:
    """Every prometheus_client metric constructed in Yatri's packages, by the names it exposes."""
    exposed: dict[str, Metric] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                kind = node.func.id
                if kind not in {"Counter", "Gauge", "Histogram", "Summary"} or not node.args:
                    continue
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue  # collections.Counter over an iterable
                keywords = {k.arg: k.value for k in node.keywords}
                labels = _strings(
                    node.args[2] if len(node.args) > 2 else keywords.get("labelnames")
                )
                bounds: list[float] = list(Histogram.DEFAULT_BUCKETS)
                if "buckets" in keywords:
                    bounds = [float(b) for b in ast.literal_eval(keywords["buckets"])]
                if bounds[-1] != float("inf"):
                    bounds.append(float("inf"))
                metric = Metric(kind, first.value, frozenset(labels),
                                tuple(_le(b) for b in bounds))  # fmt: skip
                for name in _exposed_names(kind, first.value):
                    exposed[name] = metric
    return exposed


def _le(bound: float) -> str:
    """A bucket's bound as prometheus_client writes it in `le` (floatToGoString)."""
    return "+Inf" if bound == float("inf") else repr(bound)


def _exposed_names(kind: str, name: str) -> list[str]:
    if kind == "Counter":
        base = name.removesuffix("_total")
        return [f"{base}_total", f"{base}_created"]
    if kind == "Histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"]
    if kind == "Summary":
        return [name, f"{name}_sum", f"{name}_count", f"{name}_created"]
    return [name]


def settings_env() -> set[str]:
    return {f"YATRI_{name.upper()}" for name in Settings.model_fields}


def cli_env() -> set[str]:
    """Variables the CLI reads for its own options (YATRI_URL: the Yatri `yatri ingest` calls)."""
    source = "\n".join(p.read_text() for p in (ROOT / "api").glob("*.py"))
    return set(re.findall(r'envvar="(YATRI_\w+)"', source))


def cli_commands() -> set[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "api").glob("*.py"))
    names = set(re.findall(r"@cli\.command\(\)\s*\ndef (\w+)", source))
    names |= set(re.findall(r'\bcli\.command\("([\w-]+)"\)', source))
    names |= set(re.findall(r'\bcli\.add_typer\(\w+, name="([\w-]+)"\)', source))
    return names


# --- reading PromQL ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    metric: str
    matchers: dict[str, str]  # label -> value (the value as written, regex or not)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_TOKEN = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?")
_MATCHER = re.compile(r'(\w+)\s*(?:=~|!~|!=|=)\s*"S(\d+)"')


def selectors(expr: str) -> list[Selector]:
    """The series selectors of a PromQL expression (metric name and label matchers)."""
    strings: list[str] = []

    def keep(match: re.Match[str]) -> str:
        strings.append(match.group(0)[1:-1])
        return f'"S{len(strings) - 1}"'

    masked = _RANGE.sub("", _GROUPING.sub("", _STRING.sub(keep, expr)))
    found = []
    for m in _TOKEN.finditer(masked):
        name, braces, call = m.group(1), m.group(2), m.group(3)
        if call and not braces or name in PROMQL_WORDS:
            continue  # a function, or a keyword
        matchers = {label: strings[int(i)] for label, i in _MATCHER.findall(braces or "")}
        found.append(Selector(name, matchers))
    return found


def test_selectors_reads_names_labels_and_skips_functions() -> None:
    expr = ('sum by (le, stage) (rate(yatri_voice_stage_seconds_bucket{stage="x",le="0.5"}[5m]))'
            ' / on() group_left vector(1) or absent(up{job="a"}) > bool 2')  # fmt: skip
    assert selectors(expr) == [
        Selector("yatri_voice_stage_seconds_bucket", {"stage": "x", "le": "0.5"}),
        Selector("up", {"job": "a"}),
    ]
    assert selectors('x{route="/v1/bookings/{booking_id}/modify"}') == [
        Selector("x", {"route": "/v1/bookings/{booking_id}/modify"})
    ]


# --- the rule files ---------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def _rules() -> tuple[tuple[Path, dict[str, Any]], ...]:
    return tuple(
        (path, rule)
        for path in RULES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    )


def rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    yield from _rules()


def alerts() -> list[dict[str, Any]]:
    return [rule for _, rule in rules() if "alert" in rule]


def recorded() -> set[str]:
    return {rule["record"] for _, rule in rules() if "record" in rule}


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_rule_files_parse_and_every_alert_is_complete() -> None:
    assert {p.name for p in RULES} == {"yatri-slo.rules.yml", "yatri-infra.rules.yml"}
    names: set[str] = set()
    for path in RULES:
        groups = load_yaml(path)["groups"]
        assert len({g["name"] for g in groups}) == len(groups), path
        for group in groups:
            for rule in group["rules"]:
                assert ("alert" in rule) != ("record" in rule), rule
                assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule
    for alert in alerts():
        names.add(alert["alert"])
        assert re.fullmatch(r"\d+[smh]", alert["for"]), alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, alert["alert"]
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], alert["alert"]
        runbook = ROOT / annotations["runbook_url"]
        assert annotations["runbook_url"] == f"docs/runbooks/{alert['alert']}.md"
        assert runbook.is_file(), f"{alert['alert']}: no {runbook}"
    assert len(names) >= 15


def test_every_runbook_belongs_to_an_alert_and_has_the_four_sections() -> None:
    names = {a["alert"] for a in alerts()}
    for path in sorted(RUNBOOKS.glob("*.md")):
        assert path.stem in names, f"{path.name} answers no alert"
        text = path.read_text()
        assert text.startswith(f"# {path.stem}\n"), path.name
        for section in RUNBOOK_SECTIONS:
            assert section in text, f"{path.name}: no '{section}'"


def test_slo_rules_file_is_what_the_generator_writes() -> None:
    generator = load_script(DEPLOY / "prometheus" / "generate_slo_rules.py")
    assert (
        DEPLOY / "prometheus" / "rules" / "yatri-slo.rules.yml"
    ).read_text() == generator.render()


def test_burn_rate_alerts_pair_windows_and_thresholds_as_the_sre_workbook() -> None:
    """Without promtool: each SLO alert compares a long and a short window's error ratio with
    the same burn factor times the budget: page 1h/5m at 14.4 and 6h/30m at 6, ticket 3d/6h at 1."""
    generator = load_script(DEPLOY / "prometheus" / "generate_slo_rules.py")
    objectives = {slo.name: slo.objective for slo in generator.SLOS}
    clause = re.compile(
        r'yatri:slo_errors:ratio_rate(\w+)\{slo="(\w+)"\} > \(([\d.]+) \* ([\d.]+)\)\s*and\s*'
        r'yatri:slo_errors:ratio_rate(\w+)\{slo="(\w+)"\} > \(([\d.]+) \* ([\d.]+)\)'
    )
    expected = {"page": {("1h", "5m", 14.4), ("6h", "30m", 6.0)}, "ticket": {("3d", "6h", 1.0)}}
    seen: dict[str, set[str]] = {}
    for alert in alerts():
        slo = alert["labels"].get("slo")
        if slo is None:
            continue
        pairs = set()
        for long, s1, f1, b1, short, s2, f2, b2 in clause.findall(alert["expr"]):
            assert s1 == s2 == slo and f1 == f2 and b1 == b2
            assert float(b1) == pytest.approx(1 - objectives[slo])
            pairs.add((long, short, float(f1)))
            assert f"ratio_rate{long}" in str(recorded()) and f"ratio_rate{short}" in str(
                recorded()
            )
        assert pairs == expected[alert["labels"]["severity"]], alert["alert"]
        seen.setdefault(slo, set()).add(alert["labels"]["severity"])
    assert seen == {name: {"page", "ticket"} for name in objectives}
    # A budget burnt at 14.4x for an hour is 2 % of 30 days'; at 6x for 6 hours, 5 %.
    assert round(14.4 * 1 / (30 * 24), 6) == 0.02
    assert round(6 * 6 / (30 * 24), 6) == 0.05


def test_every_recording_rule_has_a_ratio_per_window_for_every_slo() -> None:
    generator = load_script(DEPLOY / "prometheus" / "generate_slo_rules.py")
    by_slo: dict[str, set[str]] = {}
    for _, rule in rules():
        if "record" in rule:
            by_slo.setdefault(rule["labels"]["slo"], set()).add(rule["record"])
    windows = {f"yatri:slo_errors:ratio_rate{w}" for w in generator.WINDOWS}
    assert by_slo == {slo.name: windows for slo in generator.SLOS}


def _check_selector(sel: Selector, *, where: str, recorded_names: set[str]) -> None:
    if sel.metric in recorded_names or sel.metric in EXTERNAL:
        return
    metric = code_metrics().get(sel.metric)
    assert metric is not None, f"{where}: {sel.metric} is not a metric Yatri defines"
    allowed = metric.labels | TARGET_LABELS | ({"le"} if sel.metric.endswith("_bucket") else set())
    unknown = set(sel.matchers) - allowed
    assert not unknown, f"{where}: {sel.metric} has no label {sorted(unknown)}"
    if "le" in sel.matchers:
        assert sel.matchers["le"] in metric.buckets, (
            f"{where}: {sel.metric} has no bucket {sel.matchers['le']}"
        )


def test_every_metric_the_rules_read_exists_with_those_labels_and_buckets() -> None:
    names = recorded()
    read = 0
    for path, rule in rules():
        for sel in selectors(rule["expr"]):
            _check_selector(sel, where=f"{path.name} {rule.get('alert') or rule['record']}",
                            recorded_names=names)  # fmt: skip
            read += 1
    assert read > 50


def test_external_series_come_from_a_deployed_exporter() -> None:
    services = load_yaml(DEPLOY / "compose.yaml")["services"]
    jobs = {
        j["job_name"] for j in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]
    }
    for source in set(EXTERNAL.values()) - {"prometheus"}:
        assert source in services
    assert {"yatri-api", "redis"} <= jobs


def test_code_metrics_are_found_with_their_labels_and_buckets() -> None:
    found = code_metrics()
    assert found["yatri_http_requests_total"].labels == {"method", "route", "status"}
    assert found["yatri_http_request_seconds_bucket"].buckets[-1] == "+Inf"
    assert "2.5" in found["yatri_http_request_seconds_bucket"].buckets
    assert found["yatri_fare_served_age_seconds_count"].kind == "Histogram"
    assert "yatri_ingest_files_total" in found


# --- promtool ---------------------------------------------------------------------------


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on the PATH (Debian: apt-get install prometheus)")
    return path


def run_promtool(*args: str, cwd: Path) -> None:
    done = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_checks_the_rules() -> None:
    run_promtool("check", "rules", *map(str, RULES), cwd=ROOT)


def test_promtool_unit_tests_of_the_alerts_on_sample_series() -> None:
    assert {p.name for p in PROMTOOL_TESTS} == {"yatri-slo.test.yml", "yatri-infra.test.yml"}
    run_promtool(
        "test", "rules", *(p.name for p in PROMTOOL_TESTS), cwd=DEPLOY / "prometheus" / "tests"
    )


def test_promtool_checks_the_prometheus_config(tmp_path: Path) -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    secret = tmp_path / "ops_api_key"
    secret.write_text("x" * 32)
    config["rule_files"] = [str(p) for p in RULES]
    for job in config["scrape_configs"]:
        if "authorization" in job:
            assert job["authorization"]["credentials_file"] == "/run/secrets/ops_api_key"
            job["authorization"]["credentials_file"] = str(secret)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    exprs = [t["expr"] for d in DASHBOARDS for p in dashboard(d)["panels"] for t in p["targets"]]
    group = {
        "name": "dashboards",
        "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    (tmp_path / "q.yml").write_text(yaml.safe_dump({"groups": [group]}))
    run_promtool("check", "rules", "q.yml", cwd=tmp_path)


# --- dashboards -------------------------------------------------------------------------

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
                    _check_selector(
                        sel, where=f"{path.name} {panel['title']}", recorded_names=names
                    )


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


# --- compose ----------------------------------------------------------------------------

COMPOSE_SCHEMA = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "services": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["image"],
                "additionalProperties": False,
                "properties": {
                    "image": {
                        "type": "string",
                        "pattern": r"^[\w./-]+:[\w.-]+$",
                        "not": {"pattern": ":latest$"},
                    },
                    "build": {"type": "object", "required": ["context", "dockerfile"]},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "entrypoint": {"type": "array", "items": {"type": "string"}},
                    "environment": {"type": "object", "additionalProperties": {"type": "string"}},
                    "ports": {
                        "type": "array",
                        "items": {"type": "string", "pattern": r"^\d+:\d+$"},
                    },
                    "volumes": {"type": "array", "items": {"type": "string"}},
                    "depends_on": {"type": ["object", "array"]},
                    "healthcheck": {"type": "object", "required": ["test"]},
                    "restart": {"enum": ["no", "always", "unless-stopped", "on-failure"]},
                    "stop_grace_period": {"type": "string"},
                    "secrets": {"type": "array"},
                    "hostname": {"type": "string"},
                },
            },
        },
    },
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return data


def by_command(command: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if s.get("command") == [command]}


def test_compose_parses_and_pins_every_image() -> None:
    data = compose()
    jsonschema.validate(data, COMPOSE_SCHEMA)
    services = data["services"]
    for name in ("postgres", "temporal", "temporal-ui", "prometheus", "grafana", "otel-collector", "jaeger",
                 "redis-exporter", "valkey-cluster-init"):  # fmt: skip
        assert name in services
    assert len([n for n in services if n.startswith("valkey-") and n[-1].isdigit()]) == 6
    assert len([n for n in services if n.startswith("qdrant-")]) == 3
    assert len(by_command("serve")) == 2 and len(by_command("worker")) == 2
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), volume
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_compose_env_vars_are_settings() -> None:
    known = settings_env()
    for name, service in compose()["services"].items():
        for key in service.get("environment", {}):
            if key.startswith("YATRI_"):
                assert key in known, f"{name}: {key} is not a field of core.settings.Settings"


def test_compose_ports_probes_and_scrape_targets_agree() -> None:
    api = by_command("serve")
    targets: set[str] = set()
    for name, service in api.items():
        env = service["environment"]
        port = env["YATRI_PORT"]
        assert env["YATRI_HOST"] == "0.0.0.0" and env["YATRI_RUN_WORKER"] == "false"
        assert [p.split(":")[1] for p in service["ports"]] == [port], name
        assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"]), name
        targets.add(f"{name}:{port}")
    for worker in by_command("worker").values():
        assert "ports" not in worker and worker["environment"]["YATRI_TEMPORAL_ADDRESS"]
    scrape = {
        j["job_name"]: j
        for j in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]
    }
    [static] = scrape["yatri-api"]["static_configs"]
    assert set(static["targets"]) == targets
    assert scrape["yatri-api"]["authorization"]["credentials_file"] == "/run/secrets/ops_api_key"
    assert "ops_api_key" in compose()["services"]["prometheus"]["secrets"]
    services = compose()["services"]
    for target in scrape["redis"]["static_configs"][0]["targets"]:
        assert target.removeprefix("redis://").split(":")[0] in services
    for target in scrape["qdrant"]["static_configs"][0]["targets"]:
        assert target.split(":")[0] in services
    # The engines Yatri is pointed at are services of this file.
    env = next(iter(api.values()))["environment"]
    assert env["YATRI_REDIS_URL"].removeprefix("redis+cluster://").split(":")[0] in services
    assert env["YATRI_QDRANT_URL"].removeprefix("http://").split(":")[0] in services
    assert env["YATRI_TEMPORAL_ADDRESS"].split(":")[0] in services
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    grafana = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "yatri.yml")
    urls = {d["type"]: d["url"] for d in grafana["datasources"]}
    assert (
        urls["prometheus"] == "http://prometheus:9090"
        and "9090:9090" in services["prometheus"]["ports"]
    )


def test_the_image_holds_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    assert copied == set(PACKAGES)
    assert re.search(r"^FROM python:3\.11[\w.-]*$", dockerfile, flags=re.M)


# --- Kubernetes -------------------------------------------------------------------------


def k8s_objects() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in yaml.safe_load_all(p.read_text()) if d]  # fmt: skip


def k8s(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in k8s_objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_k8s_manifests_parse_and_validate_against_the_kubernetes_schema() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s_objects()}
    assert {("Deployment", "yatri-api"), ("Deployment", "yatri-worker"), ("Service", "yatri-api"),
            ("HorizontalPodAutoscaler", "yatri-api"), ("HorizontalPodAutoscaler", "yatri-worker"),
            ("PodDisruptionBudget", "yatri-api"), ("PodDisruptionBudget", "yatri-worker"),
            ("ConfigMap", "yatri-config"), ("Secret", "yatri-secrets")} <= kinds  # fmt: skip
    kustomization = load_yaml(K8S / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed"
    )
    for obj in k8s_objects():
        if obj["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # a CRD: no schema in Kubernetes itself
        validate.validate(obj, "1.31", strict=True)


def test_k8s_env_keys_are_settings() -> None:
    known = settings_env()
    for kind, name in (("ConfigMap", "yatri-config"), ("Secret", "yatri-secrets")):
        data = k8s(kind, name).get("data") or k8s(kind, name)["stringData"]
        for key in data:
            if key.startswith("YATRI_"):
                assert key in known, f"{name}: {key} is not a field of core.settings.Settings"
    for obj in k8s_objects():
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                for env in container.get("env", []):
                    assert not env["name"].startswith("YATRI_") or env["name"] in known
                refs = {
                    (next(iter(r)), next(iter(r.values()))["name"]) for r in container["envFrom"]
                }
                assert refs == {("configMapRef", "yatri-config"), ("secretRef", "yatri-secrets")}


def _probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    assert isinstance(number, int)
    return number


def test_k8s_api_probes_ports_and_drain() -> None:
    config = k8s("ConfigMap", "yatri-config")["data"]
    port = int(config["YATRI_PORT"])
    assert config["YATRI_HOST"] == "0.0.0.0" and config["YATRI_RUN_WORKER"] == "false"
    pod = k8s("Deployment", "yatri-api")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert _probe_port(container, container[probe]) == port
    # /readyz's checks each get 3 s (api/checks.py): the probe must wait longer.
    assert container["readinessProbe"]["timeoutSeconds"] > 3
    service = k8s("Service", "yatri-api")["spec"]
    [service_port] = service["ports"]
    assert service_port["targetPort"] in {p["name"] for p in container["ports"]}
    assert service["selector"].items() <= pod_labels("yatri-api").items()
    # Drain: the endpoint leaves first (preStop), uvicorn drains for YATRI_SHUTDOWN_GRACE_S,
    # then the process closes its clients; Kubernetes must not kill it before.
    grace = float(config["YATRI_SHUTDOWN_GRACE_S"])
    assert grace == Settings.model_fields["shutdown_grace_s"].default
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + grace + 5
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]


def pod_labels(deployment: str) -> dict[str, str]:
    labels: dict[str, str] = k8s("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_k8s_worker_hpa_and_pdb_select_their_deployments() -> None:
    worker = k8s("Deployment", "yatri-worker")["spec"]["template"]["spec"]
    [container] = worker["containers"]
    assert container["args"] == ["worker"]
    # `yatri worker` serves its probes and /metrics on YATRI_WORKER_PORT.
    env = {e["name"]: e["value"] for e in container["env"]}
    [port] = container["ports"]
    assert int(env["YATRI_WORKER_PORT"]) == port["containerPort"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert (
        worker["terminationGracePeriodSeconds"] >= Settings.model_fields["shutdown_grace_s"].default
    )
    for name in ("yatri-api", "yatri-worker"):
        hpa = k8s("HorizontalPodAutoscaler", name)["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
        deployment = k8s("Deployment", name)["spec"]
        assert deployment["replicas"] >= hpa["minReplicas"]
        pdb = k8s("PodDisruptionBudget", name)["spec"]
        assert pdb["selector"]["matchLabels"].items() <= pod_labels(name).items()
        assert deployment["selector"]["matchLabels"].items() <= pod_labels(name).items()
        assert pdb.get("maxUnavailable", 0) < hpa["minReplicas"]
    images = {c["image"] for n in ("yatri-api", "yatri-worker")
              for c in k8s("Deployment", n)["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {i["name"] for i in load_yaml(K8S / "kustomization.yaml")["images"]}


def test_kustomize_renders_when_kubectl_is_here() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on the PATH")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert all(d["metadata"].get("namespace", "yatri") == "yatri" for d in rendered)
    assert "registry.internal/yatri/yatri:0.1.0" in done.stdout


# --- docs -------------------------------------------------------------------------------


def docs() -> list[Path]:
    return [ROOT / "docs" / "slo.md", *sorted(RUNBOOKS.glob("*.md"))]


def test_docs_name_only_settings_and_commands_that_exist() -> None:
    known, commands = settings_env() | cli_env(), cli_commands()
    assert {"serve", "worker", "doctor", "ingest", "docs"} <= commands
    for path in docs():
        text = path.read_text()
        for var in set(re.findall(r"\bYATRI_[A-Z0-9_]+\b", text)):
            assert var in known, f"{path.name}: {var} is not a setting"
        for command in re.findall(r"`yatri ([a-z-]+)", text):
            assert command in commands, f"{path.name}: `yatri {command}` is not a command"


def test_docs_promql_reads_metrics_that_exist() -> None:
    names = recorded()
    for path in docs():
        for block in re.findall(r"```promql\n(.*?)```", path.read_text(), flags=re.S):
            for sel in selectors(block):
                _check_selector(sel, where=path.name, recorded_names=names)
