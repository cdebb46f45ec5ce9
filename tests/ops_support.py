"""Shared by the operations tests (tests/test_ops_*.py): where the operations files are, the
metrics Yatri's code defines (found in the source, with their labels and buckets), a reader of
PromQL selectors, the rule files, and promtool when it is on the PATH."""

from __future__ import annotations

import ast
import importlib.util
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
    """A deploy script, loaded as `python path` runs it: its own folder first on the import
    path, where its sibling modules are (the dashboards generator's panels.py, journeys.py)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def check_selector(sel: Selector, *, where: str, recorded_names: set[str]) -> None:
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


# --- promtool ---------------------------------------------------------------------------


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on the PATH (Debian: apt-get install prometheus)")
    return path


def run_promtool(*args: str, cwd: Path) -> None:
    done = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
