"""`yatri worker` answers its own probes and scrape: /livez, /readyz (its poll loop and Temporal)
and /metrics on YATRI_WORKER_PORT; a port already taken costs the endpoints, not the worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.embedded import EmbeddedTemporal, free_port

OPS_KEY = "worker-health-test-ops-key-0123456789"


def _worker(temporal: EmbeddedTemporal, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        # The tests' small hotel network (conftest) goes to the children too.
        if not k.startswith("YATRI_") or k.startswith("YATRI_HOTELS_")
    }
    env |= {
        "YATRI_TEMPORAL_ADDRESS": temporal.address,
        "YATRI_TEMPORAL_TASK_QUEUE": f"health-{port}",
        "YATRI_WORKER_PORT": str(port),
        "YATRI_OPS_API_KEY": OPS_KEY,
        "YATRI_LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api", "worker", "--data-dir", str(data_dir)],
        env=env, stdout=(data_dir / "worker.log").open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], timeout_s: float = 60
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the worker exited"
        try:
            r = httpx.get(url, timeout=5)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


def test_the_worker_serves_probes_and_metrics(
    temporal_server: EmbeddedTemporal, tmp_path: Path
) -> None:
    port = free_port()
    process = _worker(temporal_server, tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base + "/readyz", process).json()
        assert ready["checks"] == {"worker": "ok", "temporal": "ok"}
        assert httpx.get(base + "/livez").json() == {"status": "ok"}
        assert httpx.get(base + "/metrics").status_code == 401  # the operations key, as on the API
        metrics = httpx.get(base + "/metrics", headers={"authorization": f"Bearer {OPS_KEY}"})
        assert metrics.status_code == 200 and "python_info" in metrics.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_taken_port_costs_the_endpoints_not_the_worker(
    temporal_server: EmbeddedTemporal, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _worker(temporal_server, tmp_path, port)
        try:
            log = tmp_path / "worker.log"
            deadline = time.monotonic() + 60
            while "worker health endpoints not served" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                assert process.poll() is None, log.read_text()[-2000:]
                time.sleep(0.2)
            time.sleep(1.0)
            assert process.poll() is None  # still polling its task queue
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
