"""Hotel checkout (#14) re-checks the room live at the hotel network's supplier: the desk on a
real SQLite ledger and the network's inventory, then bookings end to end against the real
Temporal dev server and Redis, where a price that moved or a room that sold out stops the
booking before money moves, and a sale, a release and a cancellation move rooms left."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from temporalio.service import RPCError

from api.auth import BookingActor
from bookings.service import booking_id_for
from bookings.suppliers.base import (
    HoldExpiredError,
    PriceChangedError,
    SoldOutError,
    StayPrice,
    SupplierDeclinedError,
)
from bookings.suppliers.hotel_network import NetworkHotel
from bookings.suppliers.sandbox import SandboxLedger
from core.settings import Settings
from hotels.catalogue import Catalogue
from hotels.models import Cell, Property, RoomType
from hotels.suppliers.inventory import Inventory, india_today
from hotels.tax import gst_paise
from tests.test_bookings import book, cancel, ledger

STD, DLX, FAM, STE = RoomType.STANDARD, RoomType.DELUXE, RoomType.FAMILY, RoomType.SUITE
TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
HOTEL = "YH0000042"  # a three-star in Mumbai: standard and deluxe rooms
FOUR_TYPES = "YH0000001"  # every room type


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(properties=500_000)


@pytest.fixture
def inventory(catalogue: Catalogue) -> Inventory:
    return Inventory(catalogue, window_days=30, today=lambda: TODAY)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxLedger]:
    opened = await SandboxLedger.open(tmp_path / "sandbox.db")
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Recorder:
    """The supplier's change channel, as the sandbox network's `change` is: the inventory
    changes, and the change is kept for Yatri to hear of."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.cells: list[Cell] = []

    async def __call__(
        self, prop: Property, room_type: RoomType, night: dt.date, /, *,
        available: int | None = None, rate_paise: int | None = None,
    ) -> Cell:  # fmt: skip
        cell = self.inventory.set(prop, room_type, night, available=available,
                                  rate_paise=rate_paise)  # fmt: skip
        self.cells.append(cell)
        return cell


@pytest.fixture
def channel(inventory: Inventory) -> Recorder:
    return Recorder(inventory)


@pytest.fixture
def desk(
    sandbox: SandboxLedger, inventory: Inventory, channel: Recorder, clock: Clock
) -> NetworkHotel:
    return NetworkHotel(sandbox, inventory=inventory, record_change=channel, seed=7, clock=clock)


def prop(inventory: Inventory, hotel_id: str = HOTEL) -> Property:
    found = inventory.catalogue.get(hotel_id)
    assert found is not None
    return found


def nights(check_in: dt.date, n: int) -> list[dt.date]:
    return [check_in + dt.timedelta(days=i) for i in range(n)]


def left(inventory: Inventory, room_type: RoomType, check_in: dt.date, n: int,
         hotel_id: str = HOTEL) -> list[int]:  # fmt: skip
    cells = [inventory.cell(prop(inventory, hotel_id), room_type, d) for d in nights(check_in, n)]
    return [c.available or 0 for c in cells if c is not None]


def stock(inventory: Inventory, room_type: RoomType, check_in: dt.date, n: int, *,
          available: int, hotel_id: str = HOTEL) -> None:  # fmt: skip
    for d in nights(check_in, n):
        inventory.set(prop(inventory, hotel_id), room_type, d, available=available)


async def test_a_stay_is_priced_live_rate_and_gst_per_room_night(
    desk: NetworkHotel, inventory: Inventory
) -> None:
    check_in = TODAY + dt.timedelta(days=5)
    stock(inventory, DLX, check_in, 3, available=4)
    rates = [4_000_00, 7_500_00, 9_000_00]  # 5 %, 5 % at the slab's edge, 18 % above it
    for d, rate in zip(nights(check_in, 3), rates, strict=True):
        inventory.set(prop(inventory), DLX, d, rate_paise=rate)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=3, rooms=2, room_type=DLX)
    expected = sum(2 * (r + gst_paise(r)) for r in rates)
    assert price == StayPrice(hotel_name=prop(inventory).name, room_type=DLX, total_paise=expected)
    assert expected == 2 * (4_200_00 + 7_875_00 + 10_620_00)

    inventory.set(prop(inventory), DLX, check_in + dt.timedelta(days=1), rate_paise=8_000_00)
    moved = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=3, rooms=2, room_type=DLX)
    assert moved is not None and moved.total_paise == expected - 2 * 7_875_00 + 2 * 9_440_00


async def test_no_room_type_means_the_cheapest_with_rooms_every_night(
    desk: NetworkHotel, inventory: Inventory
) -> None:
    check_in = TODAY + dt.timedelta(days=3)
    for rt, rate in ((STD, 3_000_00), (DLX, 4_000_00), (FAM, 5_000_00), (STE, 9_000_00)):
        stock(inventory, rt, check_in, 2, available=3, hotel_id=FOUR_TYPES)
        for d in nights(check_in, 2):
            inventory.set(prop(inventory, FOUR_TYPES), rt, d, rate_paise=rate)
    stay: dict[str, Any] = {"hotel_id": FOUR_TYPES, "check_in": check_in, "nights": 2, "rooms": 2}
    cheapest = await desk.price(**stay)
    assert cheapest is not None and cheapest.room_type is STD
    assert cheapest.total_paise == 2 * 2 * (3_000_00 + 150_00)
    # Standard has only one room left on the second night: deluxe is the cheapest for two.
    inventory.set(prop(inventory, FOUR_TYPES), STD, check_in + dt.timedelta(days=1), available=1)
    assert (found := await desk.price(**stay)) is not None and found.room_type is DLX
    stock(inventory, DLX, check_in, 2, available=0, hotel_id=FOUR_TYPES)
    assert (found := await desk.price(**stay)) is not None and found.room_type is FAM
    # One room of standard is still there every night.
    one = await desk.price(**(stay | {"rooms": 1}))
    assert one is not None and one.room_type is STD


async def test_sold_out_outside_the_window_and_unknown_rooms_are_refused(
    desk: NetworkHotel, inventory: Inventory
) -> None:
    check_in = TODAY + dt.timedelta(days=10)
    stock(inventory, STD, check_in, 3, available=2)
    stay: dict[str, Any] = {"hotel_id": HOTEL, "check_in": check_in, "nights": 3}
    assert await desk.price(**stay, rooms=2, room_type=STD) is not None
    inventory.set(prop(inventory), STD, check_in + dt.timedelta(days=2), available=1)
    with pytest.raises(SoldOutError, match="fewer than 2 standard rooms"):
        await desk.price(**stay, rooms=2, room_type=STD)
    with pytest.raises(SoldOutError, match="has no suites"):
        await desk.price(**stay, rooms=1, room_type=STE)
    with pytest.raises(SoldOutError, match="not on sale"):
        await desk.price(hotel_id=HOTEL, check_in=TODAY + dt.timedelta(days=28), nights=3, rooms=1)
    with pytest.raises(SoldOutError, match="not on sale"):
        await desk.price(hotel_id=HOTEL, check_in=TODAY - dt.timedelta(days=1), nights=1, rooms=1)
    stock(inventory, DLX, check_in, 3, available=0)
    with pytest.raises(SoldOutError, match="no room type"):
        await desk.price(**stay, rooms=2)
    # A hotel the network does not sell is not priced at all.
    assert await desk.price(hotel_id="YH9999999", check_in=check_in, nights=1, rooms=1) is None
    assert (
        await desk.price(hotel_id="sbx-htl-goa-042", check_in=check_in, nights=1, rooms=1) is None
    )
    with pytest.raises(SoldOutError):  # and the hold refuses what the price refused
        await desk.hold(key="h0:hold", hotel_id=HOTEL, check_in=check_in, nights=3, rooms=2,
                        price_paise=1_000_00, ttl_s=60, room_type=STD)  # fmt: skip
    with pytest.raises(SupplierDeclinedError, match="no hotel"):
        await desk.hold(key="h0:ghost", hotel_id="YH9999999", check_in=check_in, nights=1,
                        rooms=1, price_paise=1_000_00, ttl_s=60)  # fmt: skip


async def test_a_hold_takes_rooms_at_the_supplier_and_release_gives_them_back(
    desk: NetworkHotel, inventory: Inventory, channel: Recorder, sandbox: SandboxLedger
) -> None:
    check_in = TODAY + dt.timedelta(days=4)
    stock(inventory, DLX, check_in, 3, available=5)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=3, rooms=2, room_type=DLX)
    assert price is not None
    stay: dict[str, Any] = {"hotel_id": HOTEL, "check_in": check_in, "nights": 3, "rooms": 2,
                            "price_paise": price.total_paise, "ttl_s": 600, "room_type": DLX}  # fmt: skip
    first = await desk.hold(key="h1:hold", **stay)
    assert left(inventory, DLX, check_in, 3) == [3, 3, 3]
    assert [(c.room_type, c.night, c.available) for c in channel.cells] == [
        (DLX, d, 3) for d in nights(check_in, 3)
    ]  # every night went through the supplier's channel
    assert await desk.hold(key="h1:hold", **stay) == first  # a repeat takes nothing more
    assert left(inventory, DLX, check_in, 3) == [3, 3, 3]
    assert (await sandbox.summary("h1:", now=NOW)).open_hotel_holds == 1

    assert await desk.release(key="h1:release", hold_key="h1:hold") is True
    assert await desk.release(key="h1:release", hold_key="h1:hold") is True  # the stored answer
    assert await desk.release(key="h1:release-2", hold_key="h1:hold") is False
    assert left(inventory, DLX, check_in, 3) == [5, 5, 5]
    with pytest.raises(HoldExpiredError, match="released"):
        await desk.confirm(key="h1:confirm", hold_key="h1:hold")


async def test_a_confirmed_stay_keeps_its_rooms_until_cancelled(
    desk: NetworkHotel, inventory: Inventory, sandbox: SandboxLedger
) -> None:
    check_in = TODAY + dt.timedelta(days=6)
    stock(inventory, STD, check_in, 2, available=3)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=2, rooms=3)
    assert price is not None and price.room_type is STD
    await desk.hold(key="h2:hold", hotel_id=HOTEL, check_in=check_in, nights=2, rooms=3,
                    price_paise=price.total_paise, ttl_s=600, room_type=STD)  # fmt: skip
    confirmation = await desk.confirm(key="h2:confirm", hold_key="h2:hold")
    assert confirmation.confirmation_number.startswith("HC")
    assert left(inventory, STD, check_in, 2) == [0, 0]
    assert await desk.release(key="h2:release", hold_key="h2:hold") is False  # confirmed
    assert left(inventory, STD, check_in, 2) == [0, 0]
    with pytest.raises(SoldOutError):  # sold: nobody else gets them
        await desk.price(hotel_id=HOTEL, check_in=check_in, nights=2, rooms=1, room_type=STD)

    assert await desk.cancel(key="h2:cancel", confirm_key="h2:confirm") is True
    assert await desk.cancel(key="h2:cancel-2", confirm_key="h2:confirm") is False
    assert left(inventory, STD, check_in, 2) == [3, 3]
    summary = await sandbox.summary("h2:", now=NOW)
    assert (summary.hotel_confirmations, summary.open_hotel_holds) == (0, 0)


async def test_a_lapsed_hold_gives_its_rooms_back(
    desk: NetworkHotel, inventory: Inventory, clock: Clock
) -> None:
    check_in = TODAY + dt.timedelta(days=8)
    stock(inventory, DLX, check_in, 1, available=1)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=1, rooms=1, room_type=DLX)
    assert price is not None
    await desk.hold(key="h3:hold", hotel_id=HOTEL, check_in=check_in, nights=1, rooms=1,
                    price_paise=price.total_paise, ttl_s=60, room_type=DLX)  # fmt: skip
    assert left(inventory, DLX, check_in, 1) == [0]
    assert await desk.give_back() == 0
    clock.now += dt.timedelta(seconds=61)
    assert await desk.give_back() == 1
    assert left(inventory, DLX, check_in, 1) == [1]
    assert await desk.give_back() == 0  # once
    with pytest.raises(HoldExpiredError, match="expired"):
        await desk.confirm(key="h3:confirm", hold_key="h3:hold")
    assert await desk.release(key="h3:release", hold_key="h3:hold") is False
    assert left(inventory, DLX, check_in, 1) == [1]


async def test_a_hold_at_a_price_that_moved_is_declined_with_the_price_now(
    desk: NetworkHotel, inventory: Inventory
) -> None:
    check_in = TODAY + dt.timedelta(days=12)
    stock(inventory, STD, check_in, 2, available=4)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=2, rooms=1, room_type=STD)
    assert price is not None
    inventory.set(prop(inventory), STD, check_in, rate_paise=6_000_00)
    with pytest.raises(PriceChangedError) as moved:
        await desk.hold(key="h4:hold", hotel_id=HOTEL, check_in=check_in, nights=2, rooms=1,
                        price_paise=price.total_paise, ttl_s=60, room_type=STD)  # fmt: skip
    now = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=2, rooms=1, room_type=STD)
    assert now is not None and moved.value.extensions["price_paise"] == now.total_paise
    assert left(inventory, STD, check_in, 2) == [4, 4]  # nothing taken


async def test_another_desks_holds_are_not_its_to_give_back(
    desk: NetworkHotel, sandbox: SandboxLedger, inventory: Inventory, clock: Clock
) -> None:
    """Rooms live in a process's inventory: a desk elsewhere (a restarted worker, with a fresh
    inventory) finds the hold in the shared ledger but never adds rooms it did not take."""
    check_in = TODAY + dt.timedelta(days=2)
    stock(inventory, DLX, check_in, 1, available=2)
    price = await desk.price(hotel_id=HOTEL, check_in=check_in, nights=1, rooms=1, room_type=DLX)
    assert price is not None
    await desk.hold(key="h5:hold", hotel_id=HOTEL, check_in=check_in, nights=1, rooms=1,
                    price_paise=price.total_paise, ttl_s=600, room_type=DLX)  # fmt: skip
    other = NetworkHotel(sandbox, inventory=inventory, seed=7, clock=clock)
    assert await other.release(key="h5:release", hold_key="h5:hold") is True
    assert left(inventory, DLX, check_in, 1) == [1]  # not this desk's rooms to return
    assert await desk.give_back() == 1  # the desk that took them returns them
    assert left(inventory, DLX, check_in, 1) == [2]


# --- end to end: the booking workflow against the live check --------------------------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The whole app: checkout sells from the inventory the sync mirrors.
    return settings.model_copy(update={"booking_wait_s": 30.0, "booking_hold_ttl_s": 120.0})


def network(app: FastAPI) -> NetworkHotel:
    found = app.state.services.extras["booking_activities"].hotel
    assert isinstance(found, NetworkHotel)
    return found


def stay(days: int, *, nights: int = 2, rooms: int = 1, room_type: RoomType | None = None,
         price: int = 1, hotel_id: str = HOTEL) -> dict[str, Any]:  # fmt: skip
    check_in = india_today() + dt.timedelta(days=days)
    body: dict[str, Any] = {"hotel_id": hotel_id, "check_in": check_in.isoformat(),
                            "nights": nights, "rooms": rooms, "price_paise": price}  # fmt: skip
    if room_type is not None:
        body["room_type"] = room_type.value
    return body


def hotel_only(hotel: dict[str, Any]) -> dict[str, Any]:
    return {"hotel": hotel, "expected_total_paise": hotel["price_paise"],
            "travellers": [{"first_name": "Asha", "last_name": "Rao"}],
            "contact": {"email": "asha@example.com", "phone": "+91 98765 43210"}}  # fmt: skip


async def agreed(app: FastAPI, body: dict[str, Any]) -> dict[str, Any]:
    """The stay at the supplier's price now: what the traveller saw and agreed to."""
    price = await network(app).price(
        hotel_id=body["hotel_id"], check_in=dt.date.fromisoformat(body["check_in"]),
        nights=body["nights"], rooms=body["rooms"],
        room_type=RoomType(body["room_type"]) if "room_type" in body else None,
    )  # fmt: skip
    assert price is not None
    return body | {"price_paise": price.total_paise}


def mismatches(reason: str) -> float:
    value = REGISTRY.get_sample_value("yatri_hotel_checkout_mismatches_total", {"reason": reason})
    return value or 0.0


async def test_a_stay_at_the_suppliers_price_confirms_and_takes_its_rooms(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    inventory = network(app).inventory
    check_in = india_today() + dt.timedelta(days=6)
    stock(inventory, STD, check_in, 2, available=5)
    stock(inventory, DLX, check_in, 2, available=5)
    body = await agreed(app, stay(6, rooms=2))  # no room type: the cheapest with rooms
    cheapest = await network(app).price(hotel_id=HOTEL, check_in=check_in, nights=2, rooms=2)
    assert cheapest is not None
    booked = (await book(client, settings, hotel_only(body))).json()
    assert booked["status"] == "confirmed", booked
    assert booked["hotel"]["room_type"] == cheapest.room_type.value  # the room type charged
    assert booked["hotel"]["price_paise"] == booked["paid_paise"] == body["price_paise"]
    assert booked["references"]["hotel_confirmation"]
    assert left(inventory, cheapest.room_type, check_in, 2) == [3, 3]
    state = await ledger(app).summary(booked["booking_id"])
    assert state.hotel_confirmations == 1 and state.net_charged_paise == body["price_paise"]
    # The sale reaches Yatri's store the way any change does: the supplier's own channel.
    services = app.state.services
    assert inventory is services.hotel_network.inventory
    prop = services.hotels.catalogue.get(HOTEL)
    stored: list[int | None] = []
    for _ in range(100):
        cells = await services.hotel_sync.store.read(prop, first_night=check_in, nights=2)
        stored = [c.available if c else None for c in cells[cheapest.room_type]]
        if stored == [3, 3]:
            break
        await asyncio.sleep(0.05)
    assert stored == [3, 3]

    cancelled = (await cancel(client, settings, booked["booking_id"])).json()
    assert cancelled["status"] == "cancelled", cancelled
    assert left(inventory, cheapest.room_type, check_in, 2) == [5, 5]  # back on sale
    state = await ledger(app).summary(booked["booking_id"])
    assert state.hotel_confirmations == 0 and state.net_charged_paise == 0


async def test_a_price_that_moved_after_the_traveller_agreed_stops_before_money_moves(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    inventory = network(app).inventory
    check_in = india_today() + dt.timedelta(days=9)
    stock(inventory, DLX, check_in, 3, available=4)
    body = await agreed(app, stay(9, nights=3, room_type=DLX))
    inventory.set(prop(inventory), DLX, check_in + dt.timedelta(days=1), rate_paise=12_000_00)
    now = await agreed(app, body)
    before = mismatches("price_moved")

    stopped = (await book(client, settings, hotel_only(body))).json()
    assert stopped["status"] == "price_changed", stopped
    assert stopped["outcome"]["new_total_paise"] == now["price_paise"] != body["price_paise"]
    assert stopped["hotel"]["room_type"] == "DLX"
    state = await ledger(app).summary(stopped["booking_id"])
    assert (state.captures, state.net_charged_paise, state.open_holds) == (0, 0, 0)
    assert state.uncaptured_authorisations == 0 and state.hotel_confirmations == 0
    assert left(inventory, DLX, check_in, 3) == [4, 4, 4]
    assert mismatches("price_moved") == before + 1

    # Agreeing to the supplier's price now books it, at that price.
    booked = (await book(client, settings, hotel_only(now))).json()
    assert booked["status"] == "confirmed", booked
    assert booked["paid_paise"] == now["price_paise"]
    assert left(inventory, DLX, check_in, 3) == [3, 3, 3]


async def test_a_room_sold_out_at_the_supplier_is_never_charged(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    inventory = network(app).inventory
    check_in = india_today() + dt.timedelta(days=11)
    stock(inventory, STD, check_in, 2, available=2)
    body = await agreed(app, stay(11, rooms=2, room_type=STD))
    inventory.set(prop(inventory), STD, check_in + dt.timedelta(days=1), available=1)  # a sale
    before = mismatches("sold_out")

    failed = (await book(client, settings, hotel_only(body))).json()
    assert failed["status"] == "failed", failed
    assert failed["outcome"]["failed_step"] == "hotel_price"
    assert "sold-out" in failed["outcome"]["detail"]
    state = await ledger(app).summary(failed["booking_id"])
    assert (state.captures, state.open_holds, state.uncaptured_authorisations) == (0, 0, 0)
    assert left(inventory, STD, check_in, 2) == [2, 1]
    assert mismatches("sold_out") == before + 1

    # A hotel the network does not sell (an id of the retired sandbox hotel) is never booked.
    ghost = (await book(client, settings,
                        hotel_only(stay(11, hotel_id="sbx-htl-goa-042", price=500_000)))).json()  # fmt: skip
    assert ghost["status"] == "failed" and ghost["outcome"]["failed_step"] == "hotel_price"
    assert (await ledger(app).summary(ghost["booking_id"])).net_charged_paise == 0


async def test_a_failed_payment_gives_the_held_rooms_back(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    inventory = network(app).inventory
    check_in = india_today() + dt.timedelta(days=13)
    stock(inventory, DLX, check_in, 1, available=3)
    body = await agreed(app, stay(13, nights=1, room_type=DLX))
    failed = (await book(client, settings, hotel_only(body), traveller="decline-card")).json()
    assert failed["status"] == "failed" and failed["outcome"]["failed_step"] == "authorise"
    assert left(inventory, DLX, check_in, 1) == [3]  # the hold was released, its room is back
    state = await ledger(app).summary(failed["booking_id"])
    assert state.open_holds == 0 and state.net_charged_paise == 0


async def wait_for_activity(app: FastAPI, booking_id: str, activity: str) -> None:
    """Until the booking's workflow has scheduled `activity` (Temporal's own view of it)."""
    handle = app.state.services.temporal.get_workflow_handle(booking_id)
    for _ in range(500):
        with contextlib.suppress(RPCError):  # not started yet
            described = await handle.describe()
            pending = described.raw_description.pending_activities
            if any(p.activity_type.name == activity for p in pending):
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{activity} never started")


async def test_a_price_that_moves_between_the_check_and_the_hold_stops_too(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    inventory = network(app).inventory
    check_in = india_today() + dt.timedelta(days=15)
    stock(inventory, STD, check_in, 2, available=3)
    body = await agreed(app, stay(15, room_type=STD))
    key = str(uuid.uuid4())
    booking_id = booking_id_for(actor=BookingActor(traveller_id="trav-1").name,
                                idempotency_key=key)  # fmt: skip
    # The hold answers slowly; the rate moves after the live check, before the hold lands.
    await ledger(app).set_fault("hotel.hold", latency_ms=1_500)
    try:
        booking = asyncio.create_task(book(client, settings, hotel_only(body), key=key))
        await wait_for_activity(app, booking_id, "booking.hold_hotel")
        inventory.set(prop(inventory), STD, check_in, rate_paise=15_000_00)
        stopped = (await booking).json()
    finally:
        await ledger(app).clear_faults()
    now = await agreed(app, body)
    assert stopped["status"] == "price_changed", stopped
    assert stopped["outcome"]["new_total_paise"] == now["price_paise"]
    assert stopped["hotel"]["price_paise"] == now["price_paise"]
    state = await ledger(app).summary(booking_id)
    assert (state.captures, state.open_holds, state.uncaptured_authorisations) == (0, 0, 0)
    assert left(inventory, STD, check_in, 2) == [3, 3]
