"""Phone numbers as one canonical form (E.164, "+919876543210"), so a caller's number, a
profile's number and a number a traveller types match however each was written. India is the
default region: "98765 43210", "098765-43210" and "+91 98765 43210" are one number."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "IN"


def e164(raw: str, *, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when `raw` is not a valid phone number."""
    if not raw or len(raw) > 40:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ending(phone: str, digits: int = 4) -> str:
    """The last digits, which is all a reply says of a number ("ending 3210")."""
    return "".join(c for c in phone if c.isdigit())[-digits:]
