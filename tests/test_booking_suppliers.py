"""The sandbox booking suppliers (and the hotel network's desk, on the same ledger) on a real
SQLite file: idempotency, compensations, injected faults, hold expiry, refund caps, and several
connections and processes racing one key."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bookings.suppliers.base import (
    HoldExpiredError,
    PaymentDeclinedError,
    PriceChangedError,
    SoldOutError,
    SupplierDeclinedError,
)
from bookings.suppliers.hotel_network import NetworkHotel
from bookings.suppliers.sandbox import SandboxBookingAirline, SandboxLedger, SandboxPayments
from bookings.suppliers.sandbox_ledger import OPS
from core.errors import InvalidRequestError, SupplierError, SupplierTimeoutError
from hotels.catalogue import Catalogue
from hotels.models import RoomType
from hotels.suppliers.inventory import Inventory

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
DEPARTS = dt.datetime(2026, 12, 20, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
ROOT = Path(__file__).resolve().parents[1]
HOTEL = "YH0000042"  # the hotel network's: standard and deluxe rooms
STAY = dt.date(2026, 12, 20)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SandboxLedger]:
    ledger = await SandboxLedger.open(tmp_path / "sandbox.db")
    yield ledger
    await ledger.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def airline(ledger: SandboxLedger, clock: Clock) -> SandboxBookingAirline:
    return SandboxBookingAirline(ledger, seed=7, clock=clock)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(properties=500_000)


@pytest.fixture
def inventory(catalogue: Catalogue) -> Inventory:
    """The network's inventory on sale from 1 December, the stay's nights stocked with rooms."""
    inventory = Inventory(catalogue, today=lambda: dt.date(2026, 12, 1))
    prop = catalogue.get(HOTEL)
    assert prop is not None
    for room_type in prop.room_types:
        for night in range(3):
            inventory.set(prop, room_type, STAY + dt.timedelta(days=night), available=9)
    return inventory


@pytest.fixture
def hotel(ledger: SandboxLedger, inventory: Inventory, clock: Clock) -> NetworkHotel:
    return NetworkHotel(ledger, inventory=inventory, seed=7, clock=clock)


@pytest.fixture
def payments(ledger: SandboxLedger, clock: Clock) -> SandboxPayments:
    return SandboxPayments(ledger, seed=7, clock=clock)


async def hold_flight(
    airline: SandboxBookingAirline, key: str, *, seats: int = 1, ttl_s: float = 900
) -> str:
    hold = await airline.hold(
        key=key, flight_number="6E 2031", departure=DEPARTS, seats=seats,
        price_paise=5_432_00, ttl_s=ttl_s,
    )  # fmt: skip
    return hold.hold_id


async def hold_room(hotel: NetworkHotel, key: str, *, rooms: int = 1, ttl_s: float = 900) -> str:
    stay: dict[str, Any] = {"hotel_id": HOTEL, "check_in": STAY, "nights": 3, "rooms": rooms,
                            "room_type": RoomType.STANDARD}  # fmt: skip
    price = await hotel.price(**stay)
    assert price is not None
    hold = await hotel.hold(key=key, price_paise=price.total_paise, ttl_s=ttl_s, **stay)
    return hold.hold_id


async def test_the_hotel_prices_stays_itself_and_holds_only_at_its_price(
    hotel: NetworkHotel,
) -> None:
    stay: dict[str, Any] = {"check_in": STAY, "nights": 3, "rooms": 2}
    assert await hotel.price(hotel_id="YH9999999", **stay) is None
    assert await hotel.price(hotel_id="made-up-hotel", **stay) is None
    price = await hotel.price(hotel_id=HOTEL, **stay)
    assert price is not None and price.total_paise > 0
    one_room = await hotel.price(hotel_id=HOTEL, check_in=STAY, nights=3, rooms=1)
    assert one_room is not None and price.total_paise == 2 * one_room.total_paise
    with pytest.raises(PriceChangedError, match="costs"):
        await hotel.hold(key="cheap", hotel_id=HOTEL, price_paise=1, ttl_s=60, **stay)
    with pytest.raises(SupplierDeclinedError, match="no hotel"):
        await hotel.hold(key="ghost", hotel_id="YH9999999", price_paise=price.total_paise,
                         ttl_s=60, **stay)  # fmt: skip


async def test_repeats_return_the_first_result_and_do_nothing_new(
    ledger: SandboxLedger,
    airline: SandboxBookingAirline,
    hotel: NetworkHotel,
    payments: SandboxPayments,
    clock: Clock,
) -> None:
    first = await airline.hold(
        key="b1:hold", flight_number="6E 2031", departure=DEPARTS, seats=2,
        price_paise=5_432_00, ttl_s=900,
    )  # fmt: skip
    clock.advance(30)  # a retry comes later; the hold's expiry must not move
    again = await airline.hold(
        key="b1:hold", flight_number="6E 2031", departure=DEPARTS, seats=2,
        price_paise=5_432_00, ttl_s=900.0,
    )  # fmt: skip
    assert again == first and re.fullmatch(r"[A-Z0-9]{6}", first.hold_id)
    assert first.expires_at == NOW + dt.timedelta(seconds=900)

    ticket = await airline.issue(key="b1:ticket", hold_key="b1:hold")
    assert await airline.issue(key="b1:ticket", hold_key="b1:hold") == ticket
    assert re.fullmatch(r"312-\d{10}", ticket.ticket_number)  # IndiGo's ticketing prefix

    await hold_room(hotel, "b1:hotel-hold")
    confirmation = await hotel.confirm(key="b1:hotel-confirm", hold_key="b1:hotel-hold")
    assert await hotel.confirm(key="b1:hotel-confirm", hold_key="b1:hotel-hold") == confirmation

    auth = await payments.authorise(key="b1:authorise", payer="t-1", amount_paise=20_000_00)
    assert await payments.authorise(key="b1:authorise", payer="t-1", amount_paise=20_000_00) == auth
    assert auth.auth_id.startswith("pay_") and auth.amount_paise == 20_000_00
    capture = await payments.capture(key="b1:capture", auth_key="b1:authorise", amount_paise=19_000_00)  # fmt: skip
    assert await payments.capture(key="b1:capture", auth_key="b1:authorise", amount_paise=19_000_00) == capture  # fmt: skip

    summary = await ledger.summary("b1:", now=clock())
    assert (summary.captures, summary.captured_paise, summary.net_charged_paise) == (1, 19_000_00, 19_000_00)  # fmt: skip
    assert (summary.tickets_issued, summary.hotel_confirmations, summary.open_holds) == (1, 1, 0)
    assert summary.uncaptured_authorisations == 0


async def test_a_key_reused_with_other_arguments_is_declined(
    airline: SandboxBookingAirline, payments: SandboxPayments
) -> None:
    await hold_flight(airline, "b2:hold", seats=1)
    with pytest.raises(SupplierDeclinedError, match="reused with other arguments"):
        await hold_flight(airline, "b2:hold", seats=2)
    await payments.authorise(key="b2:pay", payer="t-1", amount_paise=100_00)
    with pytest.raises(SupplierDeclinedError, match="reused"):
        await payments.authorise(key="b2:pay", payer="t-1", amount_paise=200_00)
    with pytest.raises(SupplierDeclinedError, match="reused"):  # the same key, another operation
        await payments.charge(key="b2:pay", payer="t-1", amount_paise=100_00)


async def test_every_compensation_is_a_no_op_when_its_step_never_happened(
    ledger: SandboxLedger,
    airline: SandboxBookingAirline,
    hotel: NetworkHotel,
    payments: SandboxPayments,
) -> None:
    for _ in range(2):  # and stays one when repeated
        assert await airline.release(key="b3:release", hold_key="b3:hold") is False
        assert await airline.cancel_ticket(key="b3:ticket-cancel", issue_key="b3:ticket") is False
        assert await hotel.release(key="b3:hotel-release", hold_key="b3:hotel-hold") is False
        assert await hotel.cancel(key="b3:hotel-cancel", confirm_key="b3:hotel-confirm") is False
        assert await payments.void(key="b3:void", auth_key="b3:authorise") is False
        refund = await payments.refund(key="b3:refund", auth_key="b3:authorise", amount_paise=500)
        assert (refund.refund_id, refund.amount_paise) == ("", 0)
    summary = await ledger.summary("b3", now=NOW)
    assert summary.captures == summary.refunded_paise == summary.open_holds == 0


async def test_compensations_undo_what_happened_once(
    ledger: SandboxLedger,
    airline: SandboxBookingAirline,
    hotel: NetworkHotel,
    payments: SandboxPayments,
) -> None:
    await hold_flight(airline, "b4:hold")
    assert await airline.release(key="b4:release", hold_key="b4:hold") is True
    assert await airline.release(key="b4:release", hold_key="b4:hold") is True  # the stored answer
    assert await airline.release(key="b4:release-2", hold_key="b4:hold") is False
    with pytest.raises(HoldExpiredError, match="released"):
        await airline.issue(key="b4:ticket", hold_key="b4:hold")

    await hold_flight(airline, "b4:hold-2")
    await airline.issue(key="b4:ticket-2", hold_key="b4:hold-2")
    assert await airline.release(key="b4:release-3", hold_key="b4:hold-2") is False  # ticketed
    with pytest.raises(SupplierDeclinedError, match="already ticketed"):
        await airline.issue(key="b4:ticket-3", hold_key="b4:hold-2")
    assert await airline.cancel_ticket(key="b4:cancel", issue_key="b4:ticket-2") is True
    assert await airline.cancel_ticket(key="b4:cancel-2", issue_key="b4:ticket-2") is False

    await hold_room(hotel, "b4:room")
    await hotel.confirm(key="b4:room-confirm", hold_key="b4:room")
    assert await hotel.release(key="b4:room-release", hold_key="b4:room") is False  # confirmed
    assert await hotel.cancel(key="b4:room-cancel", confirm_key="b4:room-confirm") is True

    await payments.authorise(key="b4:auth", payer="t-1", amount_paise=1_000_00)
    assert await payments.void(key="b4:void", auth_key="b4:auth") is True
    with pytest.raises(SupplierDeclinedError, match="voided"):
        await payments.capture(key="b4:capture", auth_key="b4:auth", amount_paise=1_000_00)
    await payments.authorise(key="b4:auth-2", payer="t-1", amount_paise=1_000_00)
    await payments.capture(key="b4:capture-2", auth_key="b4:auth-2", amount_paise=1_000_00)
    assert await payments.void(key="b4:void-2", auth_key="b4:auth-2") is False  # refund it instead

    summary = await ledger.summary("b4:", now=NOW)
    assert (summary.tickets_issued, summary.hotel_confirmations, summary.open_holds) == (0, 0, 0)
    assert (summary.captures, summary.uncaptured_authorisations) == (1, 0)


async def test_captures_take_at_most_the_authorised_amount_once(payments: SandboxPayments) -> None:
    with pytest.raises(SupplierDeclinedError, match="no authorisation"):
        await payments.capture(key="b5:capture", auth_key="b5:auth", amount_paise=100)
    await payments.authorise(key="b5:auth", payer="t-1", amount_paise=1_000_00)
    with pytest.raises(SupplierDeclinedError, match="authorised amount"):
        await payments.capture(key="b5:capture-big", auth_key="b5:auth", amount_paise=1_000_01)
    await payments.capture(key="b5:capture-1", auth_key="b5:auth", amount_paise=600_00)
    with pytest.raises(SupplierDeclinedError, match="already captured"):
        await payments.capture(key="b5:capture-2", auth_key="b5:auth", amount_paise=400_00)


async def test_refunds_never_exceed_what_was_captured(
    ledger: SandboxLedger, payments: SandboxPayments
) -> None:
    await payments.authorise(key="b6:auth", payer="t-1", amount_paise=10_000_00)
    await payments.capture(key="b6:capture", auth_key="b6:auth", amount_paise=8_000_00)
    first = await payments.refund(key="b6:refund-1", auth_key="b6:auth", amount_paise=5_000_00)
    second = await payments.refund(key="b6:refund-2", auth_key="b6:auth", amount_paise=5_000_00)
    third = await payments.refund(key="b6:refund-3", auth_key="b6:auth", amount_paise=5_000_00)
    assert (first.amount_paise, second.amount_paise, third.amount_paise) == (5_000_00, 3_000_00, 0)
    assert first.refund_id.startswith("rfnd_") and third.refund_id == ""
    assert await payments.refund(key="b6:refund-1", auth_key="b6:auth", amount_paise=5_000_00) == first  # fmt: skip

    charge = await payments.charge(key="b6:fee", payer="t-1", amount_paise=500_00)
    fee_back = await payments.refund(key="b6:fee-refund", auth_key="b6:fee", amount_paise=900_00)
    assert charge.capture_id.startswith("cap_") and fee_back.amount_paise == 500_00

    summary = await ledger.summary("b6:")
    assert (summary.captures, summary.captured_paise) == (2, 8_500_00)
    assert (summary.refunded_paise, summary.net_charged_paise) == (8_500_00, 0)
    with pytest.raises(SupplierDeclinedError, match="negative"):
        await payments.refund(key="b6:refund-4", auth_key="b6:auth", amount_paise=-1)


async def test_a_lost_answer_was_done_and_a_retry_returns_it(
    ledger: SandboxLedger, airline: SandboxBookingAirline, payments: SandboxPayments
) -> None:
    await payments.authorise(key="b7:auth", payer="t-1", amount_paise=3_000_00)
    await ledger.set_fault("payments.capture", lose_response_next=1)
    with pytest.raises(SupplierError, match="answer lost") as lost:
        await payments.capture(key="b7:capture", auth_key="b7:auth", amount_paise=3_000_00)
    assert lost.value.is_retryable and not isinstance(lost.value, SupplierTimeoutError)
    assert (await ledger.summary("b7:")).captures == 1  # it happened all the same
    retried = await payments.capture(key="b7:capture", auth_key="b7:auth", amount_paise=3_000_00)
    assert retried.amount_paise == 3_000_00
    summary = await ledger.summary("b7:")
    assert (summary.captures, summary.captured_paise) == (1, 3_000_00)
    assert (await ledger.fault("payments.capture")).lose_response_next == 0

    await ledger.set_fault("airline.hold", lose_response_next=2)
    for _ in range(2):
        with pytest.raises(SupplierError):
            await hold_flight(airline, "b7:hold")
    hold_id = await hold_flight(airline, "b7:hold")
    totals = await ledger.totals(now=NOW)
    assert [h.hold_id for h in totals.open_holds] == [hold_id]


async def test_fail_next_fails_without_doing_anything(
    ledger: SandboxLedger, airline: SandboxBookingAirline
) -> None:
    await ledger.set_fault("airline.hold", fail_next=2)
    for _ in range(2):
        with pytest.raises(SupplierError, match="injected") as failed:
            await hold_flight(airline, "b8:hold")
        assert failed.value.is_retryable
    assert (await ledger.summary("b8:", now=NOW)).open_flight_holds == 0
    await hold_flight(airline, "b8:hold")
    assert (await ledger.summary("b8:", now=NOW)).open_flight_holds == 1


async def test_decline_next_gives_each_op_its_business_refusal(
    ledger: SandboxLedger,
    airline: SandboxBookingAirline,
    hotel: NetworkHotel,
    payments: SandboxPayments,
) -> None:
    for op in ("payments.authorise", "airline.hold", "hotel.hold", "airline.issue"):
        await ledger.set_fault(op, decline_next=1)
    with pytest.raises(PaymentDeclinedError):
        await payments.authorise(key="b9:auth", payer="t-1", amount_paise=100_00)
    with pytest.raises(SoldOutError):
        await hold_flight(airline, "b9:hold")
    with pytest.raises(SoldOutError):
        await hold_room(hotel, "b9:room")
    await hold_flight(airline, "b9:hold-2")
    with pytest.raises(SupplierDeclinedError) as declined:
        await airline.issue(key="b9:ticket", hold_key="b9:hold-2")
    assert type(declined.value) is SupplierDeclinedError
    with pytest.raises(PaymentDeclinedError):  # a decline is an answer: the key keeps it
        await payments.authorise(key="b9:auth", payer="t-1", amount_paise=100_00)
    await payments.authorise(key="b9:auth-2", payer="t-1", amount_paise=100_00)
    with pytest.raises(PaymentDeclinedError, match="test payer"):
        await payments.charge(key="b9:charge", payer="declined-card", amount_paise=100_00)


async def test_timeout_next_waits_then_times_out_without_doing_it(
    ledger: SandboxLedger, hotel: NetworkHotel
) -> None:
    await ledger.set_fault("hotel.hold", latency_ms=20, timeout_next=1)
    started = asyncio.get_running_loop().time()
    with pytest.raises(SupplierTimeoutError):
        await hold_room(hotel, "b10:room")
    assert asyncio.get_running_loop().time() - started > 0.005
    assert (await ledger.summary("b10:", now=NOW)).open_hotel_holds == 0
    await ledger.clear_faults()
    await hold_room(hotel, "b10:room")
    assert (await ledger.summary("b10:", now=NOW)).open_hotel_holds == 1


async def test_the_error_rate_is_seeded(ledger: SandboxLedger) -> None:
    await ledger.set_fault("payments.charge", error_rate=0.5)

    async def pattern(seed: int, run: int) -> list[bool]:
        gateway = SandboxPayments(ledger, seed=seed)
        failed = []
        for i in range(24):
            try:
                await gateway.charge(key=f"er{seed}-{run}:{i}", payer="t", amount_paise=100)
                failed.append(False)
            except SupplierError:
                failed.append(True)
        return failed

    a, b = await pattern(1, 1), await pattern(1, 2)
    assert a == b and 4 < sum(a) < 20
    assert await pattern(2, 1) != a


async def test_holds_expire_by_the_clock(
    ledger: SandboxLedger, airline: SandboxBookingAirline, hotel: NetworkHotel, clock: Clock
) -> None:
    await hold_flight(airline, "b11:hold", ttl_s=600)
    await hold_room(hotel, "b11:room")
    assert (await ledger.summary("b11:", now=clock())).open_holds == 2
    clock.advance(601)
    assert (await ledger.summary("b11:", now=clock())).open_flight_holds == 0
    with pytest.raises(HoldExpiredError, match="expired"):
        await airline.issue(key="b11:ticket", hold_key="b11:hold")
    assert await airline.release(key="b11:release", hold_key="b11:hold") is False
    clock.advance(300)
    with pytest.raises(HoldExpiredError):
        await hotel.confirm(key="b11:room-confirm", hold_key="b11:room")
    with pytest.raises(SupplierDeclinedError, match="no hold"):
        await airline.issue(key="b11:ticket-2", hold_key="b11:never")


async def test_inventory_sells_out_and_comes_back(
    ledger: SandboxLedger, inventory: Inventory, clock: Clock
) -> None:
    airline = SandboxBookingAirline(ledger, clock=clock, seats_per_flight=4)
    await hold_flight(airline, "b12:a", seats=3, ttl_s=60)
    with pytest.raises(SoldOutError):
        await hold_flight(airline, "b12:b", seats=2)
    await airline.release(key="b12:a-release", hold_key="b12:a")
    await hold_flight(airline, "b12:c", seats=2)
    await airline.issue(key="b12:c-ticket", hold_key="b12:c")
    await hold_flight(airline, "b12:d", seats=2, ttl_s=60)
    with pytest.raises(SoldOutError):
        await hold_flight(airline, "b12:e", seats=1)
    clock.advance(61)  # d's hold lapses; c's ticket still takes two seats
    await hold_flight(airline, "b12:f", seats=2)

    hotel = NetworkHotel(ledger, inventory=inventory, clock=clock)
    prop = inventory.catalogue.get(HOTEL)
    assert prop is not None
    inventory.set(prop, RoomType.STANDARD, STAY + dt.timedelta(days=1), available=2)
    await hold_room(hotel, "b12:room-1", rooms=2, ttl_s=60)
    with pytest.raises(SoldOutError):
        await hold_room(hotel, "b12:room-2")
    clock.advance(61)  # the hold lapses and its rooms go back on sale
    await hold_room(hotel, "b12:room-3", rooms=2)


async def test_two_connections_racing_one_key_make_one_operation(
    ledger: SandboxLedger, tmp_path: Path
) -> None:
    other = await SandboxLedger.open(tmp_path / "sandbox.db")
    try:
        gateways = [SandboxPayments(ledger), SandboxPayments(other)]
        captures = await asyncio.gather(
            *(
                gateways[i % 2].charge(key="b13:charge", payer="t-1", amount_paise=2_500_00)
                for i in range(16)
            )
        )
        assert len(set(captures)) == 1
        summary = await other.summary("b13:")
        assert (summary.captures, summary.captured_paise) == (1, 2_500_00)

        # A fault armed through one connection is consumed exactly once across both.
        await other.set_fault("payments.charge", fail_next=5)
        results = await asyncio.gather(
            *(
                gateways[i % 2].charge(key=f"b13:c{i}", payer="t-1", amount_paise=100)
                for i in range(16)
            ),
            return_exceptions=True,
        )
        assert sum(isinstance(r, SupplierError) for r in results) == 5
        assert (await ledger.fault("payments.charge")).fail_next == 0
    finally:
        await other.close()


_RACER = """
import asyncio, sys
from bookings.suppliers.sandbox import SandboxLedger, SandboxPayments

async def main() -> None:
    ledger = await SandboxLedger.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()  # the starting gun: every racer is connected by now
    capture = await SandboxPayments(ledger).charge(key="b14:charge", payer="t", amount_paise=999)
    print(capture.capture_id, flush=True)
    await ledger.close()

asyncio.run(main())
"""


async def test_processes_racing_one_key_make_one_operation(
    ledger: SandboxLedger, tmp_path: Path
) -> None:
    db = str(tmp_path / "sandbox.db")
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RACER,
            db,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert await asyncio.wait_for(racer.stdout.readline(), 10) == b"ready\n"
    outputs = await asyncio.gather(*(racer.communicate(b"go\n") for racer in racers))
    assert [racer.returncode for racer in racers] == [0, 0, 0, 0]
    capture_ids = {out.strip() for out, _ in outputs}
    assert len(capture_ids) == 1
    local = await SandboxPayments(ledger).charge(key="b14:charge", payer="t", amount_paise=999)
    assert {local.capture_id.encode()} == capture_ids
    assert (await ledger.summary("b14:")).captures == 1


async def test_totals_show_open_holds_and_repeat_charges(
    ledger: SandboxLedger,
    airline: SandboxBookingAirline,
    hotel: NetworkHotel,
    payments: SandboxPayments,
) -> None:
    # b15 completes; b16 fails half-way and leaves a hold and an authorisation; b17 pays twice.
    await hold_flight(airline, "b15:hold")
    await airline.issue(key="b15:ticket", hold_key="b15:hold")
    await payments.authorise(key="b15:auth", payer="t", amount_paise=7_000_00)
    await payments.capture(key="b15:capture", auth_key="b15:auth", amount_paise=7_000_00)
    room = await hold_room(hotel, "b16:room")
    await payments.authorise(key="b16:auth", payer="t", amount_paise=7_000_00)
    await payments.charge(key="b17:charge-1", payer="t", amount_paise=1_000_00)
    await payments.charge(key="b17:charge-2", payer="t", amount_paise=1_000_00)

    totals = await ledger.totals(now=NOW)
    assert [(h.kind, h.key, h.hold_id) for h in totals.open_holds] == [("hotel", "b16:room", room)]
    assert totals.captures_by_booking == {"b15": 1, "b17": 2}
    assert totals.captured_more_than_once == {"b17": 2}
    assert totals.uncaptured_authorisations == ("b16:auth",)
    assert (totals.captured_paise, totals.refunded_paise) == (9_000_00, 0)
    failed = await ledger.summary("b16:", now=NOW)
    assert (failed.open_hotel_holds, failed.uncaptured_authorisations, failed.captures) == (1, 1, 0)


async def test_faults_are_only_for_known_ops(ledger: SandboxLedger) -> None:
    with pytest.raises(InvalidRequestError):
        await ledger.set_fault("airline.hodl", fail_next=1)
    assert "payments.charge" in OPS and len(OPS) == 13
