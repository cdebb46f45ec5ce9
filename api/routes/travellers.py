"""The signed-in traveller's profile: the mobile a phone call is matched by (and its one-time
code sent to), the email and mobile tickets go to, and the passengers booked by name in a
conversation ("me and my wife")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import TravellerDep
from api.deps import Services, ServicesDep
from api.problems import PROBLEM_RESPONSES
from bookings.profiles import (
    MAX_SAVED,
    ProfileStore,
    SavedPassenger,
    TravellerProfile,
    profile_json,
)
from core.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)

router = APIRouter(prefix="/v1/travellers", tags=["travellers"])


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "phone": "+91 98765 43210", "email": "asha.rao@example.com",
        "passengers": [
            {"first_name": "Asha", "last_name": "Rao", "relation": "self"},
            {"first_name": "Riya", "last_name": "Rao", "relation": "daughter",
             "date_of_birth": "2018-03-14"},
        ],
    }]})  # fmt: skip

    phone: str | None = Field(default=None, max_length=40, examples=["+91 98765 43210"])
    email: str | None = Field(default=None, max_length=254, examples=["asha.rao@example.com"])
    passengers: list[SavedPassenger] = Field(default_factory=list, max_length=MAX_SAVED)


class SandboxMessage(BaseModel):
    channel: str = Field(examples=["sms"])
    text: str
    sent_at: float = Field(description="Unix time the message was sent.")


def _store(services: Services) -> ProfileStore:
    if services.profiles is None:
        raise DependencyUnavailableError("traveller profiles are not available")
    return services.profiles


@router.get("/me", response_model=TravellerProfile, responses=PROBLEM_RESPONSES,
            summary="The signed-in traveller's profile")  # fmt: skip
async def get_profile(services: ServicesDep, traveller: TravellerDep) -> dict[str, Any]:
    profile = await _store(services).get(traveller)
    if profile is None:
        raise NotFoundError("no profile yet: create it with PUT /v1/travellers/me")
    return profile_json(profile)


@router.put(
    "/me", response_model=TravellerProfile, responses=PROBLEM_RESPONSES,
    summary="Create or replace the signed-in traveller's profile",
    description="The phone number is stored in E.164 (India is assumed without a country "
    "code) and may be on one profile only (409 otherwise). At most one saved passenger has "
    "relation `self`; children and infants need a date of birth to be booked.",
)  # fmt: skip
async def put_profile(
    body: ProfileBody, services: ServicesDep, traveller: TravellerDep
) -> dict[str, Any]:
    try:
        profile = TravellerProfile(traveller_id=traveller, phone=body.phone,
                                   email=body.email, passengers=tuple(body.passengers))  # fmt: skip
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'profile'}: {err['msg']}"
                             for err in e.errors())  # fmt: skip
        raise InvalidRequestError(f"invalid profile: {problems}") from e
    await _store(services).put(profile)
    return profile_json(profile)


@router.get(
    "/me/messages", response_model=list[SandboxMessage], responses=PROBLEM_RESPONSES,
    summary="The signed-in traveller's sandbox SMS inbox",
    description="Only with the sandbox SMS gateway (a production gateway delivers to the "
    "phone): the one-time and approval codes sent to the traveller's number, latest 20, "
    "oldest first, as the traveller's test phone would show them. Agents are refused.",
)  # fmt: skip
async def sandbox_messages(services: ServicesDep, traveller: TravellerDep) -> list[dict[str, Any]]:
    outbox = services.sms_outbox
    if outbox is None:
        raise NotFoundError("messages are delivered to the phone, not kept here")
    return await outbox.messages(traveller_id=traveller)
