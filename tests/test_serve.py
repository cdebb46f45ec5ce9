"""`yatri serve` as an operator runs it: real child processes, signals, restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from core.embedded import free_port

YATRI = [sys.executable, "-m", "api"]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # The tests' small hotel network (conftest) goes to the children too.
        if not k.startswith("YATRI_") or k.startswith("YATRI_HOTELS_")
    }
    env.update({"YATRI_SUPPLIER_LATENCY_MS": "5", **extra})
    return env


class Serve:
    def __init__(self, data_dir: Path, port: int, **env: str) -> None:
        self.data_dir = data_dir
        self.port = port
        self.signalled = False
        self.base = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"serve-{port}.log"
        self.process = subprocess.Popen(
            [*YATRI, "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            env=_env(**env),
        )

    def wait_ready(self, timeout: float = 60) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            try:
                r = httpx.get(self.base + "/readyz", timeout=2)
                if r.status_code == 200:
                    body: dict[str, object] = r.json()
                    return body
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready in {timeout}s:\n{self.log.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.signalled = True
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "yatri-data"


@pytest.fixture(scope="module")
def started() -> Iterator[list[Serve]]:
    """Every `yatri serve` the module's tests were given, killed at the end if still up."""
    serves: list[Serve] = []
    yield serves
    for serve in serves:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait(timeout=30)


@pytest.fixture
def running(started: list[Serve], tmp_path_factory: pytest.TempPathFactory) -> Serve:
    """A ready `yatri serve` on its own data dir: the one the previous test left up, unless that
    test stopped it (a start takes seconds: Redis, Temporal, the models), else a new one."""
    if started and started[-1].process.poll() is None and not started[-1].signalled:
        return started[-1]
    serve = Serve(tmp_path_factory.mktemp("serve") / "yatri-data", free_port())
    started.append(serve)
    try:
        serve.wait_ready()
    except AssertionError:
        serve.signalled = True  # never handed to another test
        raise
    return serve


def _gone(processes: list[psutil.Process], timeout: float = 10) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_serve_lifecycle_sigterm_leaves_no_orphans(running: Serve) -> None:
    names = {p.name() for p in running.descendants()}
    assert "valkey-server" in names and "temporal" in names
    children = running.descendants()
    r = httpx.post(
        running.base + "/v1/chat", json={"text": "flights from Delhi to Mumbai tomorrow"}
    )
    assert r.status_code == 200 and r.json()["data"]["fares"]
    assert running.stop(signal.SIGTERM) == 0
    assert _gone(children)
    assert "stopped" in running.log.read_text()


@pytest.mark.slow
def test_ctrl_c_stops_children_too(running: Serve) -> None:
    children = running.descendants()
    assert running.stop(signal.SIGINT) == 0
    assert _gone(children)


@pytest.mark.slow
def test_second_instance_on_the_same_data_dir_is_refused(running: Serve) -> None:
    second = subprocess.run(
        [*YATRI, "serve", "--port", str(free_port()), "--data-dir", str(running.data_dir)],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert second.returncode == 1
    assert "in use by another Yatri process" in second.stderr
    assert str(running.process.pid) in second.stderr
    assert httpx.get(running.base + "/readyz").status_code == 200  # the first one is untouched


@pytest.mark.slow
def test_port_in_use_gives_a_clear_message(running: Serve, tmp_path: Path) -> None:
    result = subprocess.run(
        [*YATRI, "serve", "--port", str(running.port), "--data-dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{running.port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sessions_survive_a_restart_of_everything(data_dir: Path) -> None:
    port = free_port()
    first = Serve(data_dir, port)
    try:
        first.wait_ready()
        turn = httpx.post(
            first.base + "/v1/chat", json={"text": "Kochi to Delhi on 12 March"}
        ).json()
        assert first.stop() == 0
        second = Serve(data_dir, port)
        second.wait_ready()
        follow = httpx.post(
            second.base + "/v1/chat",
            json={"session_id": turn["session_id"], "text": "make it 2 adults"},
        ).json()
        assert follow["slots"] == {**turn["slots"], "adults": 2}
        assert second.stop() == 0
    finally:
        for serve in (first, locals().get("second")):
            if isinstance(serve, Serve) and serve.process.poll() is None:
                serve.process.kill()


@pytest.mark.slow
def test_doctor_reports_each_dependency(running: Serve) -> None:
    ok = subprocess.run(
        [*YATRI, "doctor", "--data-dir", str(running.data_dir)],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for name in ("redis", "qdrant", "temporal", "models", "valkey 9", "probe workflow"):
        assert name in ok.stdout
    running.stop()
    down = subprocess.run(
        [*YATRI, "doctor", "--data-dir", str(running.data_dir)],
        capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert down.returncode == 1
    assert "fail" in down.stdout


def test_unsafe_settings_are_refused_at_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [*YATRI, "serve", "--port", str(free_port()), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=_env(YATRI_ENV="production"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "YATRI_SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "redis").exists()  # nothing was started
