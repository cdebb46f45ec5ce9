"""Composition of understanding: the example collection beside the policy collection (same
engine, same adapters), the parser, and a watch on the examples file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.airports import AirportDirectory
from core.errors import DependencyUnavailableError
from core.logging import get_logger
from intents.catalogue import EXAMPLES_PATH, CatalogueError
from intents.classifier import ExampleIndex, VectorCache
from intents.parser import PolicyProbe, RetrievalIntentParser
from intents.places import common_words
from rag.edge import EdgeStore
from rag.embeddings import EmbeddingPool
from rag.qdrant import QdrantStore
from rag.store import VectorStore

log = get_logger("yatri.understanding")

WATCH_INTERVAL_S = 5.0


def open_example_store(policies: VectorStore, *, edge_root: Path, collection: str) -> VectorStore:
    """The examples' collection on the engine the policies use."""
    if isinstance(policies, QdrantStore):
        return policies.sibling(collection)
    return EdgeStore.open(edge_root, collection=collection)


@asynccontextmanager
async def intent_parser(
    *,
    policies: VectorStore,
    edge_root: Path,
    collection: str,
    embeddings: EmbeddingPool,
    airports: AirportDirectory,
    policy_probe: PolicyProbe | None,
    vector_cache: VectorCache | None = None,
    examples_path: Path = EXAMPLES_PATH,
) -> AsyncIterator[RetrievalIntentParser]:
    """The parser, its examples indexed if they changed; the file is checked every few seconds
    and indexed again when its content changes."""
    store = await asyncio.to_thread(
        open_example_store, policies, edge_root=edge_root, collection=collection
    )
    words = await asyncio.to_thread(common_words)
    try:
        parser = await RetrievalIntentParser.start(
            index=ExampleIndex(store=store, embeddings=embeddings, cache=vector_cache),
            airports=airports,
            common_words=words,
            examples_path=examples_path,
            policy_probe=policy_probe,
        )
        watcher = asyncio.create_task(_watch(parser), name="intent-examples-watch")
        try:
            yield parser
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        await store.close()


async def _watch(parser: RetrievalIntentParser) -> None:
    while True:
        await asyncio.sleep(WATCH_INTERVAL_S)
        try:
            if await parser.refresh():
                log.info("intent examples changed and were indexed again")
        except (CatalogueError, OSError, DependencyUnavailableError) as e:
            # A half-saved or broken file keeps the examples indexed last; the next save retries.
            log.warning("intent examples not reloaded", error=str(e))
