"""The alerting rules hold together: the SLO and infrastructure rules, their runbooks and the
SLO doc. Every metric a rule reads must be one Yatri defines, a series the rules record, or one
of the few named exporters' series. The alerts' logic runs through `promtool test rules` on
sample series when promtool is on the PATH (Debian's `prometheus` package ships it); without it
those tests skip and the Python checks of the burn-rate thresholds still run. Nothing here
starts a service.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.ops_support import (
    DEPLOY,
    EXTERNAL,
    PROMTOOL_TESTS,
    ROOT,
    RULES,
    RUNBOOKS,
    Selector,
    alerts,
    check_selector,
    cli_commands,
    cli_env,
    code_metrics,
    load_script,
    load_yaml,
    recorded,
    rules,
    run_promtool,
    selectors,
    settings_env,
)

SEVERITIES = {"page", "ticket"}
RUNBOOK_SECTIONS = ("## What it means", "## Confirm", "## Mitigate", "## Recover")


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


def test_every_metric_the_rules_read_exists_with_those_labels_and_buckets() -> None:
    names = recorded()
    read = 0
    for path, rule in rules():
        for sel in selectors(rule["expr"]):
            check_selector(sel, where=f"{path.name} {rule.get('alert') or rule['record']}",
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
                check_selector(sel, where=path.name, recorded_names=names)
