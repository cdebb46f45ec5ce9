"""Liveness, readiness (every dependency checked, per-check status) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import Response

from api.checks import Check, check_models, check_qdrant, check_redis, check_temporal, run_check
from api.deps import ServicesDep

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
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency failed its check"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
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
    body = Readiness(status="ok" if ok else "fail", checks=checks)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
