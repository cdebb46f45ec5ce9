"""The Qdrant adapter: the only module that imports ``qdrant_client``. One code path serves the
embedded on-disk store (local mode) and a Qdrant server or cluster (a URL)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.errors import DependencyUnavailableError, StartupError


@dataclass(frozen=True, slots=True)
class QdrantHealth:
    mode: str
    version: str
    collections: int
    latency_ms: float


class QdrantStore:
    def __init__(self, client: AsyncQdrantClient, *, mode: str) -> None:
        self.client = client
        self.mode = mode

    @classmethod
    def open(cls, *, url: str | None, path: Path, api_key: str | None = None) -> QdrantStore:
        if url:
            return cls(AsyncQdrantClient(url=url, api_key=api_key, timeout=5), mode="server")
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = AsyncQdrantClient(path=str(path))
        except RuntimeError as e:  # local mode refuses a folder another process holds
            raise StartupError(f"embedded Qdrant at {path} is in use: {e}") from e
        return cls(client, mode="embedded")

    async def health(self) -> QdrantHealth:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(3):
                collections = await self.client.get_collections()
                server_version = (
                    (await self.client.info()).version
                    if self.mode == "server"
                    else f"local (qdrant-client {version('qdrant-client')})"
                )
        except (TimeoutError, ResponseHandlingException, UnexpectedResponse, OSError) as e:
            raise DependencyUnavailableError("Qdrant is not answering") from e
        return QdrantHealth(
            mode=self.mode,
            version=server_version,
            collections=len(collections.collections),
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def close(self) -> None:
        await self.client.close()
