"""Flight fares over HTTP, cacheable by a CDN: ``Cache-Control`` never promises more freshness
than the answer has left, and an ``ETag`` lets the edge revalidate."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.deadline import answer_within
from fares.models import Cabin, FareQuery, FareResult, FareSource, Passengers
from fares.views import hidden_json, offer_json

router = APIRouter(prefix="/v1", tags=["fares"])


class FaresResponse(BaseModel):
    query: dict[str, Any]
    source: Literal["live", "l1", "l2", "stale_fallback"]
    age_ms: int
    fetched_at: dt.datetime
    price_confirmation_required: bool
    offers: list[dict[str, Any]]
    hidden: dict[str, Any] = Field(
        description="Offers left out because their flights leave too soon to book "
        "(`offers`, `flights`, `reason`; zero and null when none were)."
    )


def etag(result: FareResult) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for offer in result.offers:
        digest.update(f"{offer.offer_id}:{offer.price.total}:{offer.seats_left};".encode())
    digest.update(result.fetched_at.isoformat().encode())
    # Weak: the tier that served it may differ. A fallback must never revalidate as the fresh
    # answer it was once, so the confirmation flag is part of the tag.
    digest.update(f"confirm={result.price_confirmation_required}".encode())
    return f'W/"{digest.hexdigest()}"'


def cache_control(result: FareResult, *, fresh_s: float, hard_max_age_s: float) -> str:
    age_s = result.age_ms / 1000
    if result.source is FareSource.STALE_FALLBACK:
        # Never let an edge serve a fallback as fresh.
        return "no-store"
    max_age = max(0, int(fresh_s - age_s))
    stale_if_error = max(0, int(hard_max_age_s - age_s))
    return f"public, max-age={max_age}, stale-if-error={stale_if_error}"


@router.get(
    "/fares",
    response_model=FaresResponse,
    responses={**PROBLEM_RESPONSES, 304: {"description": "Not modified (If-None-Match)"}},
    summary="Flight fares for a route and date, from the fare cache or the airline",
)
async def fares(
    request: Request,
    response: Response,
    services: ServicesDep,
    origin: Annotated[str, Query(alias="from", pattern=r"^[A-Za-z]{3}$", description="IATA code")],
    destination: Annotated[
        str, Query(alias="to", pattern=r"^[A-Za-z]{3}$", description="IATA code")
    ],
    date: Annotated[dt.date, Query(description="Travel date, YYYY-MM-DD")],
    adults: Annotated[int, Query(ge=0, le=9)] = 1,
    children: Annotated[int, Query(ge=0, le=9)] = 0,
    infants: Annotated[int, Query(ge=0)] = 0,
    cabin: Cabin = Cabin.ECONOMY,
) -> Response | FaresResponse:
    query = FareQuery(
        origin=origin.upper(),
        destination=destination.upper(),
        date=date,
        passengers=Passengers(adults, children, infants),
        cabin=cabin,
    )
    settings = services.settings
    async with answer_within(
        settings.request_timeout_s, reserve_s=settings.request_reply_reserve_s
    ):
        result = await services.fares.search(query)
    policy = services.fare_cache.policy
    tag = etag(result)
    headers = {
        "etag": tag,
        "cache-control": cache_control(
            result, fresh_s=policy.fresh_s, hard_max_age_s=policy.hard_max_age_s
        ),
    }
    stale = result.source is FareSource.STALE_FALLBACK
    if request.headers.get("if-none-match") == tag and not stale:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return FaresResponse(
        query={"from": query.origin, "to": query.destination, "date": query.date.isoformat(),
               "adults": adults, "children": children, "infants": infants, "cabin": cabin.value},
        source=result.source.value,
        age_ms=result.age_ms,
        fetched_at=result.fetched_at,
        price_confirmation_required=result.price_confirmation_required,
        offers=[offer_json(o) for o in result.offers],
        hidden=hidden_json(result),
    )  # fmt: skip
