"""The test command: the whole suite, in batches of test files, each batch its own pytest
process, so no process lives long enough to hold the native memory every app start leaves
behind (the whole suite in one process reached 24 GB and was killed). Three batches run at
once: much of a batch's time is spent waiting on sockets, child processes and timers, which the
others fill on a 2-core machine. Each batch's output is printed whole when it ends; a second
batch starts only while the machine has memory to spare. Arguments go to every batch
(`python3 tests/run.py -x -k booking`); with file arguments, only those files run, batched the
same way.

    python3 tests/run.py [--jobs N] [--record] [pytest args] [test files]

Batches are planned from `tests/durations.json` (seconds per test file, as a whole run
recorded them: `--record` writes it again): the files are dealt to batches so that each
batch's total is about even, and the longest batches start first, so the run does not end on
one long batch alone. A file not in it counts as the median.

`--jobs 1` (or YATRI_TEST_JOBS=1) runs the batches one after another with their output
streamed, as does any pytest argument that needs the terminal (--pdb, --trace).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

BATCH = 8  # test files per process
# Batches at once: much of a batch's time is spent waiting (sockets, child processes, timers),
# so a third fills a 2-core machine further (measured: 663 s against 738 s with two).
JOBS = 3
# A second batch starts only while this much memory is available (a batch process may reach
# several GB); otherwise it waits for a running one to end.
MIN_AVAILABLE_GB = float(os.environ.get("YATRI_TEST_MIN_AVAILABLE_GB", "6"))
INTERACTIVE = {"--pdb", "--trace", "--pdbcls"}
HERE = Path(__file__).resolve().parent
DURATIONS = HERE / "durations.json"


@dataclass
class Batch:
    number: int
    files: list[str]
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started: float = 0.0
    took: float = 0.0
    code: int | None = None
    interrupted: bool = False


def available_gb() -> float:
    """MemAvailable from /proc/meminfo; infinite where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def parse(argv: list[str]) -> tuple[int, list[str], list[str]]:
    jobs = int(os.environ.get("YATRI_TEST_JOBS", JOBS))
    rest: list[str] = []
    args = iter(argv)
    for a in args:
        if a == "--record":
            rest.append(a)
        elif a == "--jobs":
            jobs = int(next(args))
        elif a.startswith("--jobs="):
            jobs = int(a.split("=", 1)[1])
        else:
            rest.append(a)
    files = [a for a in rest if a.endswith(".py") or "::" in a]
    options = [a for a in rest if a not in files and a != "--record"]
    if any(o.split("=", 1)[0] in INTERACTIVE for o in options):
        jobs = 1
    return max(1, jobs), files, options


def main(argv: list[str]) -> int:
    jobs, files, options = parse(argv)
    if not files:
        files = sorted(str(p.relative_to(HERE.parent)) for p in HERE.glob("test_*.py"))
    batches = [Batch(n + 1, part) for n, part in enumerate(plan(files, known_durations()))]
    exitfirst = "-x" in options or "--exitfirst" in options
    total = len(batches)
    started = time.perf_counter()
    command = [sys.executable, "-m", "pytest", *options]
    record = "--record" in argv
    reports = Path(tempfile.mkdtemp(prefix="yatri-tests-")) if record else None
    if reports is not None:
        for batch in batches:
            batch.files = [*batch.files, f"--junit-xml={reports / f'batch-{batch.number}.xml'}"]
    if jobs == 1:
        failed = sequential(batches, command, exitfirst)
    else:
        failed = concurrent(batches, command, exitfirst, jobs)
    took = time.perf_counter() - started
    if reports is not None and not failed:
        write_durations(reports)
    if failed:
        print(f"\n=== FAILED batches: {failed} ({took:.0f} s)", flush=True)
        return 1
    print(f"\n=== all {total} batches passed ({took:.0f} s)", flush=True)
    return 0


def known_durations() -> dict[str, float]:
    try:
        data = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def plan(files: list[str], durations: dict[str, float]) -> list[list[str]]:
    """Batches of at most BATCH files with about even totals, the longest first (the longest
    file goes to the batch with the least so far that has room)."""
    count = -(-len(files) // BATCH)
    if not durations:
        # Dealt out in turn: neighbours in the alphabet are often alike in cost.
        return [files[n::count] for n in range(count)]
    usual = statistics.median(durations.values())
    cost = {f: durations.get(f.split("::")[0], usual) for f in files}
    batches: list[list[str]] = [[] for _ in range(count)]
    totals = [0.0] * count
    for f in sorted(files, key=lambda f: (-cost[f], f)):
        n = min((i for i in range(count) if len(batches[i]) < BATCH), key=lambda i: totals[i])
        batches[n].append(f)
        totals[n] += cost[f]
    order = sorted(range(count), key=lambda i: -totals[i])
    return [sorted(batches[i]) for i in order if batches[i]]


def write_durations(reports: Path) -> None:
    """Seconds per test file from the batches' JUnit reports (setup, call and teardown)."""
    spent: dict[str, float] = {}
    for report in reports.glob("batch-*.xml"):
        for case in ElementTree.parse(report).iter("testcase"):
            parts = case.get("classname", "").split(".")  # tests.test_serve[.TestClass]
            first = next((i for i, p in enumerate(parts) if p.startswith("test_")), None)
            if first is not None:
                name = "/".join(parts[: first + 1]) + ".py"
                spent[name] = spent.get(name, 0.0) + float(case.get("time", 0))
    DURATIONS.write_text(json.dumps({k: round(v, 1) for k, v in sorted(spent.items())},
                                    indent=1) + "\n")  # fmt: skip
    print(f"=== durations of {len(spent)} files written to {DURATIONS}", flush=True)


def sequential(batches: list[Batch], command: list[str], exitfirst: bool) -> list[int]:
    failed: list[int] = []
    for batch in batches:
        print(f"\n=== batch {batch.number}/{len(batches)}: {' '.join(batch.files)}", flush=True)
        code = subprocess.call([*command, *batch.files], cwd=HERE.parent)
        if code not in (0, 5):  # 5: nothing collected (all deselected)
            failed.append(batch.number)
            if exitfirst:
                break
    return failed


def concurrent(batches: list[Batch], command: list[str], exitfirst: bool, jobs: int) -> list[int]:
    total = len(batches)
    waiting = list(batches)
    running: list[Batch] = []
    failed: list[int] = []
    stopping = False
    try:
        while waiting or running:
            if (
                waiting
                and not stopping
                and len(running) < jobs
                and (not running or available_gb() >= MIN_AVAILABLE_GB)
            ):
                batch = waiting.pop(0)
                start(batch, command)
                running.append(batch)
                print(f"=== batch {batch.number}/{total} started: {' '.join(batch.files)}",
                      flush=True)  # fmt: skip
                continue
            time.sleep(0.2)
            for batch in [b for b in running if b.process and b.process.poll() is not None]:
                running.remove(batch)
                finish(batch, total)
                if outcome(batch) not in ("passed", "interrupted (-x)"):
                    failed.append(batch.number)
                    if exitfirst and not stopping:
                        stopping = True
                        waiting.clear()
                        for other in running:  # pytest tears its fixtures down on SIGINT
                            assert other.process is not None
                            other.process.send_signal(signal.SIGINT)
                            other.interrupted = True
    finally:
        for batch in running:  # interrupted: let each one tear down, then show what it said
            assert batch.process is not None
            with_timeout(batch.process, 60)
            finish(batch, total)
    return sorted(failed)


def start(batch: Batch, command: list[str]) -> None:
    batch.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finish)
    batch.started = time.perf_counter()
    # Colours and the terminal width, as pytest would pick them for the terminal we print to.
    env = os.environ.copy()
    if sys.stdout.isatty():
        env.setdefault("PY_COLORS", "1")
        env.setdefault("COLUMNS", str(os.get_terminal_size().columns))
    batch.process = subprocess.Popen(
        [*command, *batch.files],
        cwd=HERE.parent,
        stdin=subprocess.DEVNULL,
        stdout=batch.log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def finish(batch: Batch, total: int) -> None:
    assert batch.process is not None and batch.log is not None
    batch.code = batch.process.returncode
    batch.took = time.perf_counter() - batch.started
    print(f"\n=== batch {batch.number}/{total}: {' '.join(batch.files)}", flush=True)
    batch.log.seek(0)
    sys.stdout.flush()
    sys.stdout.buffer.write(batch.log.read())
    sys.stdout.buffer.flush()
    batch.log.close()
    print(f"=== batch {batch.number}/{total} {outcome(batch)} in {batch.took:.0f} s", flush=True)


def outcome(batch: Batch) -> str:
    if batch.code in (0, 5):  # 5: nothing collected (all deselected)
        return "passed"
    if batch.interrupted and batch.code in (2, -signal.SIGINT):  # stopped for another's -x
        return "interrupted (-x)"
    return f"FAILED (exit {batch.code})"


def with_timeout(process: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
