"""Placing a reviewed order from a conversation: the step flights and hotels share."""

from __future__ import annotations

from bookings.service import BookingAnswer, BookingOrder, BookingService, actor_name, booking_id_for
from core.errors import YatriError
from sessions.turn import Turn


async def place_order(
    bookings: BookingService, turn: Turn, order: BookingOrder, *, traveller_id: str, review_id: str
) -> BookingAnswer | None:
    """Book the order the traveller reviewed; None after telling them it could not be booked.
    One booking per session and reviewed price: a repeated "yes" attaches to the same one."""
    booking_id = booking_id_for(actor=actor_name(traveller_id=traveller_id),
                                idempotency_key=f"chat:{turn.session_id}:{review_id}")  # fmt: skip
    try:
        return await bookings.book(booking_id=booking_id, traveller_id=traveller_id,
                                   order=order)  # fmt: skip
    except YatriError as e:
        turn.say(f"I couldn't book it: {e.detail}. Nothing was charged.")
        return None
