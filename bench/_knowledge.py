"""A real Yatri app (embedded Redis, Temporal, vector store) for the knowledge benchmarks."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from api.app import create_app
from api.content_cli import collect
from api.deps import Services
from core.embedded import EmbeddedRuntime
from core.settings import Settings
from ingest.pipeline import INGEST_CONCURRENCY, Upload

CORPUS = Path(__file__).parent.parent / "examples" / "policies"


@asynccontextmanager
async def knowledge_app(**overrides: Any) -> AsyncIterator[Services]:
    # The hotel sync loads its whole sandbox network into Redis after start-up (~30 CPU s, on
    # the event loop and Redis): a policy benchmark would time that instead.
    overrides.setdefault("hotels_enabled", False)
    data_dir = Path(tempfile.mkdtemp(prefix="yatri-bench-rag-"))
    runtime = EmbeddedRuntime(
        data_dir=data_dir, redis_url=None, temporal_address=None, qdrant_url=None
    )
    endpoints = runtime.start()
    settings = Settings(
        data_dir=data_dir,
        log_level="WARNING",
        redis_namespace=f"b{uuid.uuid4().hex[:8]}",
        run_worker=False,
        **overrides,
    )
    app = create_app(settings, endpoints=endpoints)
    try:
        async with app.router.lifespan_context(app):
            yield app.state.services
    finally:
        runtime.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def ingest_corpus(
    services: Services, *, concurrency: int = INGEST_CONCURRENCY
) -> tuple[int, float]:
    """Ingest the sample corpus as one upload of every file (as `POST /v1/documents` with many
    files, or `yatri ingest FOLDER`); (chunks, seconds)."""
    started = time.perf_counter()
    uploads = [
        Upload(data=path.read_bytes(), filename=path.name, source_uri=path.resolve().as_uri())
        for path in collect([CORPUS])
    ]
    chunks = 0
    for result in await services.knowledge.ingest.ingest_many(uploads, concurrency=concurrency):
        if result.outcome.value == "failed":
            raise RuntimeError(f"{result.filename}: {result.reason}: {result.detail}")
        chunks += result.chunks
    return chunks, time.perf_counter() - started
