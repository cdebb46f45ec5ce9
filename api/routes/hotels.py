"""Hotels over HTTP: search, a hotel's rooms and calendar, supplier pushes, and (in development)
changing a sandbox supplier's own inventory."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.errors import ConflictError, NotFoundError, UnauthorizedError
from core.settings import Environment
from hotels.models import RoomType
from hotels.ota import OtaError, build_error_response, sniff_kind
from hotels.service import HotelService, StayRequest
from hotels.suppliers.sandbox import SandboxHotelNetwork
from hotels.views import page_json, view_json

router = APIRouter(prefix="/v1", tags=["hotels"])
pushes = APIRouter(prefix="/v1", tags=["hotels"])  # limited as webhooks, not as searches
XML = "application/xml"


class HotelSearchResponse(BaseModel):
    destination: dict[str, Any]
    stay: dict[str, Any]
    matching: int = Field(description="Hotels open for the stay under the filters.")
    offset: int
    limit: int
    results: list[dict[str, Any]] = Field(
        description="`hotel_id`, name, stars, area, `cheapest_room`, `total_paise` (all rooms "
        "and nights, GST included), `as_of` and `source` (the supplier)."
    )


class HotelResponse(BaseModel):
    hotel_id: str
    name: str
    stars: int
    city: str
    area: str
    source: str
    room_types: list[str]
    stay: dict[str, Any]
    rooms: list[dict[str, Any]] = Field(description="Room types open for the whole stay.")
    calendar: list[dict[str, Any]] = Field(description="Every night on sale: cheapest, rooms.")


class SandboxChange(BaseModel):
    date: dt.date
    room_type: RoomType
    available: int | None = Field(default=None, ge=0, le=500)
    price_paise: int | None = Field(
        default=None, gt=0, le=10_000_000, description="One room, one night, before GST."
    )


class SandboxFaults(BaseModel):
    """What the sandbox hotel suppliers do wrong on purpose (all three share these)."""

    latency_ms: float = Field(default=0.0, ge=0, le=5_000, description="Per call, ±50 %.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Calls and pushes that fail.")
    outage: bool = Field(default=False, description="Every call fails; pushes wait queued.")
    lost_push_rate: float = Field(default=0.0, ge=0, le=1, description="Pushes never sent.")
    duplicate_rate: float = Field(default=0.0, ge=0, le=1, description="Pushes sent twice.")
    reorder: bool = Field(default=False, description="Pushes and feed pages out of order.")


class SandboxChangeResponse(BaseModel):
    hotel_id: str
    supplier: str
    channel: Literal["push", "feed", "bulk"]
    version: int


def _sandbox(services: ServicesDep) -> SandboxHotelNetwork:
    if services.settings.env is not Environment.DEVELOPMENT or services.hotel_network is None:
        raise NotFoundError("the sandbox hotel endpoints exist only in development")
    return services.hotel_network


def _hotels(services: ServicesDep) -> HotelService:
    if services.hotels is None:
        raise NotFoundError("hotels are not enabled on this server (YATRI_HOTELS_ENABLED)")
    return services.hotels


@router.get(
    "/hotels",
    response_model=HotelSearchResponse,
    responses=PROBLEM_RESPONSES,
    summary="Hotels open for a stay in a city, cheapest first",
)
async def search_hotels(
    services: ServicesDep,
    city: Annotated[str, Query(min_length=2, max_length=60, description="Name, alias or code")],
    check_in: Annotated[dt.date, Query(description="First night, YYYY-MM-DD")],
    nights: Annotated[int, Query(ge=1, le=30)] = 1,
    rooms: Annotated[int, Query(ge=1, le=9)] = 1,
    adults: Annotated[int, Query(ge=1, le=36)] = 2,
    children: Annotated[int, Query(ge=0, le=18)] = 0,
    stars: Annotated[list[int] | None, Query(description="Star ratings to keep (1-5)")] = None,
    max_price_paise: Annotated[
        int | None, Query(gt=0, description="Most for one room a night, GST included")
    ] = None,
    area: Annotated[str | None, Query(max_length=60)] = None,
    sort: Literal["price", "stars"] = "price",
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> HotelSearchResponse:
    stay = StayRequest(check_in=check_in, nights=nights, rooms=rooms, adults=adults,
                       children=children)  # fmt: skip
    page = await _hotels(services).search(
        city=city, stay=stay, stars=[s for s in stars or [] if 1 <= s <= 5],
        max_price_paise=max_price_paise, area=area, sort=sort, offset=offset, limit=limit,
    )  # fmt: skip
    return HotelSearchResponse(**page_json(page))


@router.get(
    "/hotels/{hotel_id}",
    response_model=HotelResponse,
    responses=PROBLEM_RESPONSES,
    summary="A hotel's rooms for a stay, and its calendar",
)
async def hotel(
    services: ServicesDep,
    hotel_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,40}$")],
    check_in: Annotated[dt.date, Query()],
    nights: Annotated[int, Query(ge=1, le=30)] = 1,
    rooms: Annotated[int, Query(ge=1, le=9)] = 1,
    adults: Annotated[int, Query(ge=1, le=36)] = 2,
    children: Annotated[int, Query(ge=0, le=18)] = 0,
) -> HotelResponse:
    stay = StayRequest(check_in=check_in, nights=nights, rooms=rooms, adults=adults,
                       children=children)  # fmt: skip
    return HotelResponse(**view_json(await _hotels(services).hotel(hotel_id, stay)))


@pushes.post(
    "/hotels/webhooks/{supplier}",
    responses={
        **PROBLEM_RESPONSES,
        200: {"description": "OTA_Hotel…NotifRS with <Success/>", "content": {XML: {}}},
        400: {
            "description": "OTA_Hotel…NotifRS with <Errors>: nothing applied",
            "content": {XML: {}},
        },
    },  # fmt: skip
    summary="A channel manager's push: OTA_HotelAvailNotifRQ or OTA_HotelRateAmountNotifRQ",
    openapi_extra={"requestBody": {"content": {XML: {"schema": {"type": "string"}}}}},
)
async def hotel_push(
    request: Request,
    services: ServicesDep,
    supplier: Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,40}$")],
    x_yatri_timestamp: Annotated[str, Header()] = "",
    x_yatri_signature: Annotated[str, Header()] = "",
) -> Response:
    if services.hotel_pushes is None:
        raise NotFoundError("hotels are not enabled on this server (YATRI_HOTELS_ENABLED)")
    body = await request.body()
    try:
        _notification, answer = await services.hotel_pushes.receive(
            supplier, body=body, timestamp=x_yatri_timestamp, signature=x_yatri_signature
        )
    except (UnauthorizedError, ConflictError, NotFoundError):
        raise  # problem+json: the sender is not who it says, or sent this already
    except OtaError as e:
        kind = e.kind or sniff_kind(body)
        return Response(build_error_response(e.echo_token, [e], kind=kind), status_code=400,
                        media_type=XML)  # fmt: skip
    return Response(answer, media_type=XML)


@router.post(
    "/sandbox/hotels/{hotel_id}/availability",
    response_model=SandboxChangeResponse,
    responses=PROBLEM_RESPONSES,
    summary="Development only: change a sandbox supplier's own inventory",
    description="The change reaches Yatri only through that supplier's channel (a push, the "
    "change feed, or the next snapshot), as a real change would.",
)
async def sandbox_change(
    services: ServicesDep,
    hotel_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,40}$")],
    change: SandboxChange,
) -> SandboxChangeResponse:
    made = _sandbox(services).change_by_id(
        hotel_id, room_type=change.room_type, night=change.date,
        available=change.available, rate_paise=change.price_paise,
    )  # fmt: skip
    return SandboxChangeResponse(hotel_id=hotel_id, supplier=made.supplier,
                                 channel=made.channel, version=made.version)  # fmt: skip


@router.put(
    "/sandbox/hotels/faults",
    response_model=SandboxFaults,
    responses=PROBLEM_RESPONSES,
    summary="Development only: set what the sandbox hotel suppliers get wrong",
)
async def set_sandbox_faults(services: ServicesDep, faults: SandboxFaults) -> SandboxFaults:
    network = _sandbox(services)
    for name, value in faults.model_dump().items():
        setattr(network.faults, name, value)
    return SandboxFaults(**asdict(network.faults))


@router.get(
    "/sandbox/hotels/faults",
    response_model=SandboxFaults,
    responses=PROBLEM_RESPONSES,
    summary="Development only: what the sandbox hotel suppliers get wrong now",
)
async def sandbox_faults(services: ServicesDep) -> SandboxFaults:
    return SandboxFaults(**asdict(_sandbox(services).faults))
