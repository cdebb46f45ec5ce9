"""The bookings skill: who is talking, which of their bookings they mean, its status, and
changes and cancellations read back from a quote before the traveller says yes. The same
quotes and rules as the REST API and the agent tools (bookings/service.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from typing import Any

from bookings.models import BookingRecord, BookingStatus
from bookings.service import BookingAnswer, BookingService
from bookings.views import booking_data, quote_summary
from core.airports import AirportDirectory
from core.errors import InvalidRequestError, QuoteMismatchError, YatriError
from core.money import rupees
from sessions.replies import long_date, place
from sessions.state import Frame
from sessions.turn import Next, Turn

_STATUS_WORDS = {
    BookingStatus.PENDING: "being booked",
    BookingStatus.PRICE_CHANGED: "stopped because the price changed (nothing was charged)",
    BookingStatus.CONFIRMED: "confirmed",
    BookingStatus.FAILED: "not booked (nothing was charged)",
    BookingStatus.MODIFYING: "being changed",
    BookingStatus.CANCELLING: "being cancelled",
    BookingStatus.CANCELLED: "cancelled",
}
MAX_LISTED = 5


class BookingsSkill:
    def __init__(self, *, bookings: BookingService | None, airports: AirportDirectory) -> None:
        self._bookings = bookings
        self._airports = airports

    # --- which booking ---------------------------------------------------------------------

    async def choose(self, turn: Turn, frame: Frame) -> bool | None:
        """Fill `booking` from the traveller's own bookings: True when filled, False when the
        traveller must pick (the choices were said), None when there is nothing to pick."""
        assert self._bookings is not None and turn.traveller_id is not None
        records = await self._bookings.list_for(turn.traveller_id, limit=20)
        if frame.flow in ("cancel_booking", "modify_booking"):
            records = [r for r in records if r.status is BookingStatus.CONFIRMED
                       and (frame.flow == "cancel_booking" or r.flight is not None)]  # fmt: skip
        if frame.flow == "modify_booking":
            records = [r for r in records if r.departure is None or r.departure > turn.now]
        ref = frame.slots.pop("booking_ref", None) or {}
        offered = frame.data.get("choices") or []
        if (n := (frame.slots.pop("offer_ref", None) or {}).get("ordinal")) and offered:
            index = int(n) - 1
            ref = {"booking_id": offered[index]} if 0 <= index < len(offered) else ref
        picked = _match(records, ref if isinstance(ref, dict) else {})
        if not records:
            turn.say("I can't find a booking of yours that I can do that for.")
            return None
        if len(picked) == 1:
            frame.slots["booking"] = picked[0].booking_id
            return True
        listed = (picked or records)[:MAX_LISTED]
        frame.data["choices"] = [r.booking_id for r in listed]
        turn.say("Which booking? " + "; ".join(
            f"{i}: {self._describe(r)}" for i, r in enumerate(listed, start=1)) + ".")  # fmt: skip
        turn.data["bookings"] = [booking_data(r) for r in listed]
        return False

    def _describe(self, record: BookingRecord) -> str:
        if record.flight is not None:
            f = record.flight
            return (f"{place(f.origin, self._airports)} to {place(f.destination, self._airports)} "
                    f"on {long_date(f.date)} ({f.flight_number})")  # fmt: skip
        if record.hotel is not None:
            return f"hotel {record.hotel.hotel_id} from {long_date(record.hotel.check_in)}"
        return record.booking_id

    async def _record(self, turn: Turn, frame: Frame) -> BookingRecord:
        assert self._bookings is not None and turn.traveller_id is not None
        return await self._bookings.get(str(frame.slots["booking"]),
                                        traveller_id=turn.traveller_id)  # fmt: skip

    # --- status ----------------------------------------------------------------------------

    async def status(self, turn: Turn, frame: Frame) -> Next:
        record = await self._record(turn, frame)
        pnr = f" (PNR {record.refs.hold_id})" if record.refs.hold_id else ""
        turn.say(f"Your booking {self._describe(record)}{pnr} is "
                 f"{_STATUS_WORDS[record.status]}.")  # fmt: skip
        if record.status is BookingStatus.CONFIRMED and record.paid_paise:
            turn.say(f"You paid {rupees(record.paid_paise)}.")
        turn.data["booking"] = booking_data(record)
        return Next.END

    # --- cancel ----------------------------------------------------------------------------

    async def cancel_quote(self, turn: Turn, frame: Frame) -> Next:
        assert self._bookings is not None and turn.traveller_id is not None
        try:
            quote = await self._bookings.quote_cancel(booking_id=str(frame.slots["booking"]),
                                                      traveller_id=turn.traveller_id)  # fmt: skip
        except YatriError as e:
            turn.say(f"I can't cancel that booking: {e.detail}.")
            return Next.END
        frame.data["quote_id"] = quote.quote_id
        turn.say(quote_summary(quote))
        turn.data["quote"] = quote.model_dump(mode="json", exclude={"traveller_id"})
        return Next.DONE

    async def cancel(self, turn: Turn, frame: Frame) -> Next:
        assert self._bookings is not None and turn.traveller_id is not None
        answer = await self._quoted(turn, frame, self._bookings.cancel(
            booking_id=str(frame.slots["booking"]), traveller_id=turn.traveller_id,
            quote_id=str(frame.data["quote_id"]),
        ), quote_step="cancel_quote", failed="I couldn't cancel it")  # fmt: skip
        if isinstance(answer, Next):
            return answer
        record = answer.record
        turn.data["booking"] = booking_data(record)
        if record.status is BookingStatus.CANCELLED:
            refunded = answer.outcome.detail if answer.outcome else ""
            turn.say("Cancelled." + (f" {_refund_words(refunded)}" if refunded else ""))
        else:
            turn.say(f"Your cancellation is {_STATUS_WORDS[record.status]}.")
        return Next.END

    # --- change date -------------------------------------------------------------------------

    async def modify_quote(self, turn: Turn, frame: Frame) -> Next:
        assert self._bookings is not None and turn.traveller_id is not None
        new_date = dt.date.fromisoformat(str(frame.slots["new_date"]))
        if new_date < turn.today:
            frame.slots.pop("new_date")
            turn.say(f"That date has passed ({long_date(new_date)} {new_date.year}).")
            return Next.RETRY
        try:
            quote = await self._bookings.quote_modify(
                booking_id=str(frame.slots["booking"]), traveller_id=turn.traveller_id,
                new_date=new_date,
            )  # fmt: skip
        except InvalidRequestError as e:
            frame.slots.pop("new_date")
            turn.say(f"I can't move it to {long_date(new_date)}: {e.detail}.")
            return Next.RETRY
        except YatriError as e:
            turn.say(f"I can't change that booking: {e.detail}.")
            return Next.END
        frame.data["quote_id"] = quote.quote_id
        turn.say(quote_summary(quote))
        turn.data["quote"] = quote.model_dump(mode="json", exclude={"traveller_id"})
        return Next.DONE

    async def modify(self, turn: Turn, frame: Frame) -> Next:
        assert self._bookings is not None and turn.traveller_id is not None
        answer = await self._quoted(turn, frame, self._bookings.modify(
            booking_id=str(frame.slots["booking"]), traveller_id=turn.traveller_id,
            request_id=str(frame.data["quote_id"]), quote_id=str(frame.data["quote_id"]),
        ), quote_step="modify_quote", failed="I couldn't change it")  # fmt: skip
        if isinstance(answer, Next):
            return answer
        record, outcome = answer.record, answer.outcome
        turn.data["booking"] = booking_data(record)
        if outcome is not None and outcome.failed_step:
            turn.say(f"The change didn't go through ({outcome.detail}); your original booking "
                     "stands.")  # fmt: skip
        elif outcome is None:  # still running when the request's time ran out
            turn.say(f"Your change is {_STATUS_WORDS[record.status]}; ask me for its status in "
                     "a minute.")  # fmt: skip
        elif record.flight is not None:
            turn.say(f"Done: you're now on {record.flight.flight_number} on "
                     f"{long_date(record.flight.date)}. PNR {record.refs.hold_id}.")  # fmt: skip
        return Next.END

    async def _quoted(
        self,
        turn: Turn,
        frame: Frame,
        change: Awaitable[BookingAnswer],
        *,
        quote_step: str,
        failed: str,
    ) -> BookingAnswer | Next:
        """Run a change the traveller said yes to at a quoted amount; when the amount moved
        meanwhile, nothing happens and the new amount is read back (the flow waits)."""
        try:
            return await change
        except QuoteMismatchError as e:
            return self._requote(turn, frame, e)
        except YatriError as e:
            turn.say(f"{failed}: {e.detail}.")
            return Next.END

    def _requote(self, turn: Turn, frame: Frame, error: QuoteMismatchError) -> Next:
        """The amount moved since it was read back: read the new one and ask again."""
        quote: dict[str, Any] = error.extensions.get("quote") or {}
        frame.data["quote_id"] = quote.get("quote_id")
        frame.done = [d for d in frame.done
                      if d not in ("confirm_cancel", "cancel", "confirm_modify", "modify")]  # fmt: skip
        turn.say("The amount has changed since I read it out, and nothing was charged.",
                 str(quote.get("summary", "")), "Shall I go ahead?")  # fmt: skip
        turn.state.expecting = "confirmation"
        turn.data["quote"] = quote
        return Next.WAIT


def _match(records: list[BookingRecord], ref: dict[str, Any]) -> list[BookingRecord]:
    if booking_id := ref.get("booking_id"):
        return [r for r in records if r.booking_id == booking_id]
    if pnr := ref.get("pnr"):
        return [r for r in records if (r.refs.hold_id or "").upper() == str(pnr).upper()]
    if code := ref.get("place"):
        return [r for r in records
                if (r.flight and code in (r.flight.destination, r.flight.origin))
                or (r.hotel and r.hotel.hotel_id.split("-")[2:3] == [str(code).lower()])]  # fmt: skip
    return records if len(records) == 1 else []


def _refund_words(detail: str) -> str:
    """'refunded 370300 paise after a fee of 300000 paise' in rupees."""
    numbers = [int(n) for n in detail.split() if n.isdigit()]
    if len(numbers) == 2:
        return f"{rupees(numbers[0])} will be refunded after a fee of {rupees(numbers[1])}."
    return detail
