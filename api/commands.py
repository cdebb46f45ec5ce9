"""The whole `yatri` command: serve, worker, doctor, token, and the content team's ingest and docs
(which api/cli.py also starts on their own, without loading the app)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from api.app import create_app
from api.auth import AGENT_SCOPE, CONTENT_SCOPE, TRAVELLER_SCOPE, issue_token
from api.booking_backends import BookingBackends, booking_backends, running_worker
from api.checks import Check, check_models, check_qdrant, check_redis, check_temporal, run_check
from api.content_cli import docs_cli, ingest
from api.fare_backends import sandbox_airline
from api.knowledge_backends import open_vector_store
from api.transport import server_config
from api.worker_health import health_app, health_server, serve_health
from bookings.temporal import TemporalClient, connect_temporal, probe_worker, temporal_health
from core import tracing
from core.airports import load_airports
from core.embedded import DataDirLock, EmbeddedRuntime, Endpoints, bind_socket, read_runtime
from core.errors import StartupError, YatriError
from core.logging import configure_logging, get_logger
from core.redis_conn import connect_redis
from core.settings import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="Yatri, the travel assistant.")
err = Console(stderr=True)
log = get_logger("yatri.cli")


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        lines = [f"  {'.'.join(map(str, x['loc'])) or 'settings'}: {x['msg']}" for x in e.errors()]
        err.print(
            "[red]yatri: invalid settings[/red]\n" + "\n".join(lines),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from e


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]yatri: {message}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [YATRI_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port [YATRI_PORT].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [YATRI_DATA_DIR].")] = None,
    max_connections: Annotated[
        int | None, typer.Option(help="Open connections per process [YATRI_MAX_CONNECTIONS].")
    ] = None,
    max_in_flight: Annotated[
        int | None,
        typer.Option(help="Requests in progress before 503; 0: no cap [YATRI_MAX_IN_FLIGHT]."),
    ] = None,
    header_timeout: Annotated[
        float | None, typer.Option(help="Seconds to send headers [YATRI_HEADER_TIMEOUT_S].")
    ] = None,
    body_timeout: Annotated[
        float | None, typer.Option(help="Seconds to send a body [YATRI_BODY_TIMEOUT_S].")
    ] = None,
) -> None:
    """Run the HTTP API, starting embedded Redis, Temporal and Qdrant where none is configured."""
    settings = _settings(
        host=host, port=port, data_dir=data_dir, max_connections=max_connections,
        max_in_flight=max_in_flight, header_timeout_s=header_timeout, body_timeout_s=body_timeout,
    )  # fmt: skip
    configure_logging(level=settings.log_level, json=settings.log_json)
    tracing.configure(service_name="yatri-api")
    lock = DataDirLock(settings.data_dir)
    runtime = EmbeddedRuntime(
        data_dir=settings.data_dir,
        redis_url=settings.redis_url,
        temporal_address=settings.temporal_address,
        qdrant_url=settings.qdrant_url,
    )
    try:
        lock.acquire()
        sock = bind_socket(settings.host, settings.port)
    except StartupError as e:
        lock.release()
        raise _fail(e.detail) from e
    started = False
    try:
        endpoints = runtime.start()
        app = create_app(settings, endpoints=endpoints)
        server = uvicorn.Server(server_config(app, settings))
        log.info("listening", host=settings.host, port=sock.getsockname()[1])
        # uvicorn re-raises the stop signal once it has drained; note it instead, so that the
        # embedded servers are still stopped in order below and the exit status is 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: None)
        server.run(sockets=[sock])
        started = server.started
    except StartupError as e:
        raise _fail(e.detail) from e
    finally:
        # Requests are drained and the worker stopped by now; the children go last.
        runtime.stop()
        sock.close()
        lock.release()
        log.info("stopped")
    if not started:
        raise _fail("start-up failed; see the log lines above", code=3)


@cli.command()
def worker(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [YATRI_DATA_DIR].")] = None,
) -> None:
    """Run only the Temporal worker, against YATRI_TEMPORAL_ADDRESS (or a running `yatri serve`)."""
    settings = _settings(data_dir=data_dir)
    configure_logging(level=settings.log_level, json=settings.log_json)
    tracing.configure(service_name="yatri-worker")
    address = settings.temporal_address or _runtime_value(settings.data_dir, "temporal_address")
    if not address:
        raise _fail("set YATRI_TEMPORAL_ADDRESS, or start `yatri serve` on this data dir first")

    async def main() -> None:
        client = await connect_temporal(address, namespace=settings.temporal_namespace)
        airports = await asyncio.to_thread(load_airports)
        fares = sandbox_airline(settings, airports=airports)
        async with booking_backends(settings, fares=fares) as backends:
            await _run_worker(client, settings, backends)

    async def _run_worker(
        client: TemporalClient, settings: Settings, backends: BookingBackends
    ) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_worker(client, settings, backends.activities) as task:
            health = None
            if settings.worker_port:
                app = health_app(running=lambda: not task.done(),
                                 temporal=lambda: temporal_health(client),
                                 ops_key=settings.ops_api_key.get_secret_value())  # fmt: skip
                health = health_server(app, host=settings.host, port=settings.worker_port)
                serving = asyncio.create_task(serve_health(health))
            log.info("worker running", temporal=address, task_queue=settings.temporal_task_queue,
                     health_port=settings.worker_port or None)  # fmt: skip
            await asyncio.wait([task, asyncio.create_task(stop.wait())],
                               return_when="FIRST_COMPLETED")  # fmt: skip
        if health is not None:
            health.should_exit = True
            await serving
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        log.info("worker stopped")

    try:
        asyncio.run(main())
    except YatriError as e:
        raise _fail(e.detail) from e


def _runtime_value(data_dir: Path, key: str) -> str | None:
    runtime = read_runtime(data_dir)
    value = runtime.get(key) if runtime else None
    return value if isinstance(value, str) and value else None


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


async def _doctor_checks(settings: Settings) -> dict[str, Check]:
    runtime = read_runtime(settings.data_dir)
    serve_pid = runtime.get("pid") if runtime else None
    serving = _pid_alive(serve_pid)
    redis_url = settings.redis_url or (
        _runtime_value(settings.data_dir, "redis_url") if serving else None
    )
    temporal_address = settings.temporal_address or (
        _runtime_value(settings.data_dir, "temporal_address") if serving else None
    )
    checks: dict[str, Check] = {}

    if redis_url:
        redis = connect_redis(redis_url)
        try:
            checks.update([await run_check("redis", lambda: check_redis(redis))])
        finally:
            await redis.aclose()
    else:
        checks["redis"] = Check(
            status="fail", detail="no YATRI_REDIS_URL and no running `yatri serve`"
        )

    if settings.qdrant_url or not serving:
        try:
            store = open_vector_store(
                settings,
                Endpoints(
                    redis_url="",
                    temporal_address="",
                    qdrant_url=settings.qdrant_url,
                    qdrant_path=settings.data_dir / "qdrant",
                ),
            )
        except StartupError as e:
            checks["qdrant"] = Check(status="fail", detail=e.detail)
        else:
            try:
                checks.update([await run_check("qdrant", lambda: check_qdrant(store))])
            finally:
                await store.close()
    else:
        checks["qdrant"] = Check(
            status="ok", detail=f"embedded, opened by `yatri serve` (pid {serve_pid})"
        )

    if temporal_address:
        try:
            async with asyncio.timeout(5):
                client = await connect_temporal(
                    temporal_address, namespace=settings.temporal_namespace, timeout_s=3
                )
        except (YatriError, TimeoutError):
            checks["temporal"] = Check(status="fail", detail=f"unreachable at {temporal_address}")
        else:
            _, check = await run_check(
                "temporal", lambda: check_temporal(client, worker_task=None, in_process=False)
            )
            if check.status == "ok":
                try:
                    ms = await probe_worker(
                        client, task_queue=settings.temporal_task_queue, timeout_s=5
                    )
                    check.detail = f"worker answered a probe workflow in {ms:.0f} ms"
                except YatriError as e:
                    check = Check(status="fail", version=check.version, detail=e.detail)
            checks["temporal"] = check
    else:
        checks["temporal"] = Check(
            status="fail", detail="no YATRI_TEMPORAL_ADDRESS and no running `yatri serve`"
        )

    airports = await asyncio.to_thread(load_airports)
    checks.update([await run_check("models", lambda: check_models(airports, None))])
    return checks


@cli.command()
def doctor(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [YATRI_DATA_DIR].")] = None,
) -> None:
    """Check every dependency (reachable, version, latency); exit 1 when one is down."""
    settings = _settings(data_dir=data_dir)
    configure_logging(level="WARNING", json=settings.log_json)
    checks = asyncio.run(_doctor_checks(settings))
    table = Table(title="yatri doctor")
    for column in ("dependency", "status", "version", "latency ms", "detail"):
        table.add_column(column)
    for name, check in checks.items():
        colour = "green" if check.status == "ok" else "red"
        table.add_row(
            name,
            f"[{colour}]{check.status}[/{colour}]",
            check.version or "",
            f"{check.latency_ms:.1f}" if check.latency_ms is not None else "",
            check.detail or "",
        )
    Console(width=160).print(table)
    if any(c.status != "ok" for c in checks.values()):
        raise typer.Exit(1)


@cli.command()
def token(
    traveller: Annotated[
        str | None, typer.Option(help="A traveller's token (scope bookings) for this id.")
    ] = None,
    agent: Annotated[
        str | None, typer.Option(help="An agent's token (scope bookings:agent); needs --for.")
    ] = None,
    for_traveller: Annotated[
        str | None, typer.Option("--for", help="The traveller the agent acts for.")
    ] = None,
    content: Annotated[
        bool, typer.Option("--content", help="A content-team token (scope content:write).")
    ] = False,
    ttl: Annotated[int, typer.Option(min=60, max=86_400, help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a development token signed with YATRI_SECRET_KEY (refused outside development)."""
    settings = _settings()
    if not settings.is_development:
        raise _fail(
            f"`yatri token` signs development tokens only (YATRI_ENV={settings.env.value}); "
            "issue real tokens from your identity provider"
        )
    chosen = [name for name, given in (("--traveller", traveller), ("--agent", agent),
                                       ("--content", content)) if given]  # fmt: skip
    if len(chosen) != 1:
        raise _fail("name exactly one of --traveller ID, --agent ID --for TRAVELLER, --content", 2)
    if (agent is None) != (for_traveller is None):
        raise _fail("--agent and --for go together: --agent ID --for TRAVELLER", 2)
    secret = settings.secret_key.get_secret_value()
    if traveller:
        signed = issue_token(secret=secret, sub=traveller, scope=TRAVELLER_SCOPE, ttl_s=ttl)
    elif agent:
        signed = issue_token(
            secret=secret, sub=agent, scope=AGENT_SCOPE, act_for=for_traveller, ttl_s=ttl
        )
    else:
        signed = issue_token(secret=secret, sub="content-dev", scope=CONTENT_SCOPE, ttl_s=ttl)
    typer.echo(signed)


cli.command("ingest")(ingest)
cli.add_typer(docs_cli, name="docs")
