"""Party rules shared by fares and bookings: infants on adults' laps, children and infants
named with a date of birth, ages judged on the travel date."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from bookings.models import Traveller
from core.errors import InvalidRequestError
from core.party import age_on, check_counts, check_travellers
from core.settings import Settings
from fares.models import IST

TRAVEL = dt.date(2027, 3, 10)


def person(kind: str | None = None, born: dt.date | None = None) -> Traveller:
    return Traveller(first_name="Asha", last_name="Rao", passenger_type=kind,  # type: ignore[arg-type]
                     date_of_birth=born)  # fmt: skip


def test_ages_are_judged_on_the_travel_date() -> None:
    assert age_on(TRAVEL, born=dt.date(2015, 3, 10)) == 12
    assert age_on(TRAVEL, born=dt.date(2015, 3, 11)) == 11
    assert age_on(dt.date(2027, 2, 28), born=dt.date(2024, 2, 29)) == 2
    # Turns 12 the day before the flight: an adult, even though 11 when booking.
    with pytest.raises(InvalidRequestError, match="travels as an adult, not a child") as e:
        check_travellers([person(), person("child", dt.date(2015, 3, 9))], adults=1,
                         children=1, infants=0, travel_date=TRAVEL)  # fmt: skip
    assert e.value.extensions["field"] == "travellers[1].date_of_birth"
    check_travellers([person(), person("child", dt.date(2015, 3, 11))], adults=1, children=1,
                     infants=0, travel_date=TRAVEL)  # fmt: skip
    with pytest.raises(InvalidRequestError, match="travels as a child, not an infant"):
        check_travellers([person(), person("infant", dt.date(2025, 3, 10))], adults=1,
                         children=0, infants=1, travel_date=TRAVEL)  # fmt: skip


@pytest.mark.parametrize(
    ("members", "counts", "message", "field"),
    [
        ([person()], (1, 0, 1), "need 2 traveller names, infants included; got 1", "travellers"),
        ([person(), person("infant")], (1, 0, 1), "date of birth is required",
         "travellers[1].date_of_birth"),
        ([person(), person("child", dt.date(2020, 1, 1))], (1, 0, 1), "0 children but 1 child is named",
         "travellers"),
        ([person(), person("infant", dt.date(2027, 4, 1))], (1, 0, 1), "after the travel date",
         "travellers[1].date_of_birth"),
        ([person("adult", dt.date(2020, 1, 1))], (1, 0, 0), "travels as a child, not an adult",
         "travellers[0].date_of_birth"),
    ],
)  # fmt: skip
def test_travellers_must_name_the_whole_party(
    members: list[Traveller], counts: tuple[int, int, int], message: str, field: str
) -> None:
    adults, children, infants = counts
    with pytest.raises(InvalidRequestError, match=message.replace("(", r"\(")) as e:
        check_travellers(members, adults=adults, children=children, infants=infants,
                         travel_date=TRAVEL)  # fmt: skip
    assert e.value.extensions["field"] == field


def test_counts() -> None:
    with pytest.raises(InvalidRequestError, match="no more infants than adults"):
        check_counts(adults=1, children=0, infants=4)
    check_counts(adults=2, children=7, infants=2)


# --- through the APIs -----------------------------------------------------------------------


def token(settings: Settings) -> dict[str, str]:
    claims = {"sub": "trav-1", "scope": "bookings", "exp": int(time.time()) + 600}
    encoded = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")
    return {"authorization": f"Bearer {encoded}", "idempotency-key": str(uuid.uuid4())}


def travel_date() -> dt.date:
    return dt.datetime.now(IST).date() + dt.timedelta(days=12)


def order(travellers: list[dict[str, str]], *, total: int = 1_000_000, **party: int) -> Any:
    return {
        "flight": {"origin": "DEL", "destination": "BOM", "date": travel_date().isoformat(),
                   "flight_number": "6E 100", "fare_family": "Saver", **party},
        "expected_total_paise": total,
        "travellers": travellers,
        "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"},
    }  # fmt: skip


def named(n: int, **extra: str) -> list[dict[str, str]]:
    return [{"first_name": f"Asha{i}", "last_name": "Rao", **extra} for i in range(n)]


async def test_one_adult_with_four_lap_infants_is_refused_alike_by_fares_and_bookings(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    fares = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "adults": 1,
                                                  "infants": 4, "date": travel_date()})  # fmt: skip
    born = (travel_date() - dt.timedelta(days=200)).isoformat()
    infants = named(4, passenger_type="infant", date_of_birth=born)
    booking = await client.post("/v1/bookings", headers=token(settings),
                                json=order(named(1) + infants, adults=1, infants=4))  # fmt: skip
    assert fares.status_code == booking.status_code == 422, booking.text
    assert fares.json()["type"] == booking.json()["type"] == "/problems/invalid-request"
    assert fares.json()["detail"] == booking.json()["detail"]
    assert "no more infants than adults" in booking.json()["detail"]
    assert booking.json()["field"] == "infants"


async def test_an_unnamed_infant_is_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    r = await client.post("/v1/bookings", headers=token(settings),
                          json=order(named(1), adults=1, infants=1))  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "travellers", r.text
    assert "infants included" in r.json()["detail"]


async def test_a_child_who_is_twelve_on_the_travel_date_is_refused_as_a_child(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    day = travel_date()
    twelve = dt.date(day.year - 12, day.month, min(day.day, 28)).isoformat()
    child = named(1, passenger_type="child", date_of_birth=twelve)
    r = await client.post("/v1/bookings", headers=token(settings),
                          json=order(named(1) + child, adults=1, children=1))  # fmt: skip
    assert r.status_code == 422, r.text
    assert "travels as an adult, not a child" in r.json()["detail"]
    assert r.json()["field"] == "travellers[1].date_of_birth"


async def test_a_family_with_a_child_and_an_infant_books(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    day = travel_date()
    found = await client.get("/v1/fares", params={"from": "DEL", "to": "BOM", "adults": 1,
                                                  "children": 1, "infants": 1, "date": day})  # fmt: skip
    offer = found.json()["offers"][0]
    travellers = [
        {"first_name": "Asha", "last_name": "Rao"},
        {"first_name": "Ravi", "last_name": "Rao", "passenger_type": "child",
         "date_of_birth": dt.date(day.year - 7, 1, 15).isoformat()},
        {"first_name": "Mira", "last_name": "Rao", "passenger_type": "infant",
         "date_of_birth": (day - dt.timedelta(days=300)).isoformat()},
    ]  # fmt: skip
    body = order(travellers, total=offer["price"]["total_paise"], adults=1, children=1,
                 infants=1)  # fmt: skip
    body["flight"] |= {"flight_number": offer["flight_number"], "fare_family": offer["fare_family"]}
    r = await client.post("/v1/bookings", headers=token(settings), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "confirmed", r.json()
    assert r.json()["travellers"][2]["passenger_type"] == "infant"
