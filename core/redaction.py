"""Personal-data redaction for log lines and stored transcripts.

Cards are redacted only when Luhn-valid and Aadhaar numbers only when valid (Verhoeff check
digit, first digit 2-9, not a palindrome; both checks from python-stdnum), so that prices,
flight numbers and booking references stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stdnum import luhn
from stdnum.in_ import aadhaar

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_DIGIT_RUN = re.compile(r"(?<![\dA-Za-z])\d(?:[ -]?\d){11,18}(?![\dA-Za-z])")
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:(?:\+|00)\d{1,3}[ -]?)?(?:[6-9](?:[ -]?\d){9}|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4})"
    r"(?![\dA-Za-z])"
)
_PAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![A-Za-z0-9])")


def _redact_digit_run(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 12 and aadhaar.is_valid(digits):
        return "[AADHAAR]"
    if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
        return "[CARD]"
    return raw


def redact_text(text: str) -> str:
    """Replace emails, cards, Aadhaar numbers, PANs and phone numbers in ``text``."""
    text = _EMAIL.sub("[EMAIL]", text)
    text = _DIGIT_RUN.sub(_redact_digit_run, text)
    text = _PAN.sub("[PAN]", text)
    return _PHONE.sub("[PHONE]", text)


def redact_value(value: Any) -> Any:
    """Redact strings inside nested mappings and sequences; other values pass through."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
