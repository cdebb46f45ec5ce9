"""`yatri worker`'s own HTTP face: `/livez`, `/readyz` and `/metrics` on `YATRI_WORKER_PORT`,
so a worker is probed and scraped like an API process (booking activities count their metrics
in the worker that runs them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import is_ops_key
from core.errors import YatriError
from core.logging import get_logger

log = get_logger(__name__)


def health_app(
    *, running: Callable[[], bool], temporal: Callable[[], Awaitable[object]], ops_key: str
) -> Starlette:
    """``running``: the worker's poll loop is alive; ``temporal``: raises when the server is
    unreachable. ``/metrics`` needs the operations key, as on the API."""

    async def livez(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = {"worker": "ok" if running() else "stopped"}
        try:
            await asyncio.wait_for(temporal(), timeout=3)
            checks["temporal"] = "ok"
        except (YatriError, TimeoutError):
            checks["temporal"] = "unreachable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                            status_code=200 if ready else 503)  # fmt: skip

    async def metrics(request: Request) -> Response:
        if not is_ops_key(request.headers.get("authorization"), key=ops_key):
            return JSONResponse({"detail": "the operations key is required"}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="yatri"'})  # fmt: skip
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/livez", livez), Route("/readyz", readyz),
                             Route("/metrics", metrics)])  # fmt: skip


class _Server(uvicorn.Server):
    """Leaves signals to the worker command, which stops this server with the worker."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_health(server: uvicorn.Server) -> None:
    """Serve until stopped; a port already taken is logged, never the worker's end (uvicorn
    exits the process when it cannot bind)."""
    try:
        await server.serve()
    except (SystemExit, OSError):
        log.error("worker health endpoints not served", port=server.config.port)


def health_server(app: Starlette, *, host: str, port: int) -> uvicorn.Server:
    """A server for ``app``; run it with ``serve()`` and stop it with ``should_exit = True``."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off")  # fmt: skip
    return _Server(config)
