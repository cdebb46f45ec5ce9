"""The policy-knowledge side, composed once per process: the embedding model (shared by
retrieval, ingest and the intent index), the vector store (embedded Qdrant, or a Qdrant server
or cluster at `YATRI_QDRANT_URL` — what many API processes need to share one index), the
document catalogue, ingest, retrieval and the answer service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from api.deps import Knowledge
from core.embedded import Endpoints
from core.errors import YatriError
from core.redis_conn import RedisClient
from core.settings import Settings
from ingest.limits import UploadLimits
from ingest.pipeline import IngestService
from rag.answers import AnswerService, load_llm_writer
from rag.catalog import DocumentCatalog, EmbeddingCache
from rag.edge import EdgeStore
from rag.embeddings import EmbeddingPool, load_embedder
from rag.qdrant import QdrantStore
from rag.replica import IndexReplica
from rag.retrieval import Retriever
from rag.store import VectorStore


def open_vector_store(settings: Settings, endpoints: Endpoints) -> VectorStore:
    """A Qdrant server when a URL is set; otherwise the embedded engine the settings name."""
    if endpoints.qdrant_url or settings.vector_engine == "qdrant-local":
        return QdrantStore.open(
            url=endpoints.qdrant_url,
            path=endpoints.qdrant_path,
            api_key=settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None,
            collection=settings.qdrant_collection,
        )
    return EdgeStore.open(
        endpoints.qdrant_path.with_name("qdrant-edge"), collection=settings.qdrant_collection
    )


def follows_catalog(settings: Settings, endpoints: Endpoints) -> bool:
    """Whether this process's embedded index follows a catalog other processes may share."""
    if settings.vector_replica != "auto":
        return settings.vector_replica == "on"
    return bool(settings.redis_url) and not endpoints.qdrant_url


def build_knowledge(
    *,
    settings: Settings,
    store: VectorStore,
    redis: RedisClient,
    embeddings: EmbeddingPool,
    replica_dir: Path | None = None,
) -> Knowledge:
    """``replica_dir``: the index follows the shared catalog, its state kept there."""
    catalog = DocumentCatalog(redis, namespace=settings.redis_namespace)
    replica = None
    if replica_dir is not None:
        replica = IndexReplica(redis, catalog=catalog, store=store, state_dir=replica_dir,
                               namespace=settings.redis_namespace,
                               retire_grace_s=settings.retire_grace_s)  # fmt: skip
    cache = EmbeddingCache(redis, model_id=embeddings.embedder.model_id)
    retriever = Retriever(store=store, catalog=catalog, embeddings=embeddings, cache=cache)
    limits = UploadLimits(
        max_bytes=settings.upload_max_bytes,
        max_expanded_bytes=settings.upload_max_expanded_bytes,
        max_pdf_pages=settings.upload_max_pdf_pages,
    )
    writer = None
    if settings.llm_base_url:
        writer = load_llm_writer(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value(),
            embeddings=embeddings,
        )
    return Knowledge(
        store=store,
        catalog=catalog,
        embeddings=embeddings,
        ingest=IngestService(
            store=store,
            catalog=catalog,
            embeddings=embeddings,
            cache=cache,
            limits=limits,
            retire_grace_s=settings.retire_grace_s,
            replica=replica,
        ),
        retriever=retriever,
        replica=replica,
        answers=AnswerService(
            retriever=retriever,
            embeddings=embeddings,
            writer=writer,
            confidence_floor=settings.answer_confidence_floor,
        ),
    )


@asynccontextmanager
async def open_knowledge(
    settings: Settings, endpoints: Endpoints, *, redis: RedisClient
) -> AsyncIterator[Knowledge]:
    """The model and the store loaded off the event loop (seconds); on the way out, uploads in
    progress finish before the store and the model's threads close."""
    embedder = await asyncio.to_thread(load_embedder, settings.embedding_engine)
    embeddings = EmbeddingPool(embedder)
    try:
        store = await asyncio.to_thread(open_vector_store, settings, endpoints)
        try:
            await store.ensure_collection(dense_dim=embedder.dimension)
            replica_dir = endpoints.qdrant_path.parent
            knowledge = build_knowledge(
                settings=settings, store=store, redis=redis, embeddings=embeddings,
                replica_dir=replica_dir if follows_catalog(settings, endpoints) else None,
            )  # fmt: skip
            stop = asyncio.Event()
            following = None
            if knowledge.replica is not None:
                # Ready with what the catalog holds, then following it.
                with contextlib.suppress(YatriError):  # Redis down: /readyz says so
                    await knowledge.replica.sync()
                following = asyncio.create_task(knowledge.replica.run(stop), name="index-replica")
            try:
                yield knowledge
            finally:
                stop.set()
                if following is not None:
                    await following
                await knowledge.ingest.drain()
                knowledge.ingest.close()
        finally:
            await store.close()
    finally:
        embeddings.close()
