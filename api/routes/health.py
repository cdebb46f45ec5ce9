"""Liveness, readiness (every dependency checked, per-check status) and Prometheus metrics.

Liveness and readiness status are open (load balancers and orchestrators probe them without a
credential); each check's latency, version and detail, and the metrics, need the operations key.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import Response

from api.auth import OpsAccess, is_ops_key
from api.checks import Check, check_models, check_qdrant, check_redis, check_temporal, run_check
from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["operations"])


class Readiness(BaseModel):
    status: Literal["ok", "fail"]
    checks: dict[str, Check]


@router.get("/livez", summary="The process is alive")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve: Redis, Qdrant, Temporal and models all answer",
    description="Each check's status; with the operations key (`Authorization: Bearer "
    "<YATRI_OPS_API_KEY>`) also its latency, version and detail.",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency failed its check"}},
)
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    checks = dict(
        await asyncio.gather(
            run_check("redis", lambda: check_redis(services.redis)),
            run_check("qdrant", lambda: check_qdrant(services.knowledge.store)),
            run_check(
                "temporal",
                lambda: check_temporal(
                    services.temporal,
                    worker_task=services.worker_task,
                    in_process=services.settings.run_worker,
                ),
            ),
            run_check(
                "models",
                lambda: check_models(services.airports, services.knowledge.embeddings),
            ),
        )
    )
    ok = all(c.status == "ok" for c in checks.values())
    key = services.settings.ops_api_key.get_secret_value()
    if not is_ops_key(request.headers.get("authorization"), key=key):
        # Versions and failure details help an attacker more than a load balancer.
        checks = {name: Check(status=c.status) for name, c in checks.items()}
    body = Readiness(status="ok" if ok else "fail", checks=checks)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (operations key)",
    response_class=Response,
    dependencies=[OpsAccess],
    responses=PROBLEM_RESPONSES,
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
