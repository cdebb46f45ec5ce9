"""Start and stop a real `yatri serve` for a benchmark (loopback only, bounded lifetime)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from core.embedded import free_port


class YatriProcess:
    def __init__(self, *, data_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="yatri-bench-"))
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("YATRI_")}
        full_env.update({"YATRI_LOG_LEVEL": "WARNING", **(env or {})})
        self._env = full_env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120) -> float:
        """Start and wait for /readyz 200; the seconds it took."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=self._env,
        )  # fmt: skip
        with httpx.Client(timeout=2) as client:
            while time.perf_counter() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"yatri serve exited:\n{self.log.read_text()[-2000:]}")
                try:
                    if client.get(self.base + "/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        raise RuntimeError("yatri serve did not become ready")

    def tree_rss_mb(self) -> tuple[float, dict[str, float]]:
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        parts: dict[str, float] = {"yatri": root.memory_info().rss / 2**20}
        for child in root.children(recursive=True):
            parts[child.name()] = parts.get(child.name(), 0) + child.memory_info().rss / 2**20
        return sum(parts.values()), parts

    def stop(self) -> float:
        """SIGTERM and wait; the seconds a graceful stop took."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        return time.perf_counter() - started
