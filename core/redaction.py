"""Personal-data redaction for log lines and stored transcripts.

Cards are redacted only when Luhn-valid and Aadhaar numbers only when Verhoeff-valid, so that
prices, flight numbers and booking references stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_DIGIT_RUN = re.compile(r"(?<![\dA-Za-z])\d(?:[ -]?\d){11,18}(?![\dA-Za-z])")
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:(?:\+|00)\d{1,3}[ -]?)?(?:[6-9](?:[ -]?\d){9}|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4})"
    r"(?![\dA-Za-z])"
)
_PAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![A-Za-z0-9])")

# Verhoeff tables (dihedral group D5), used by Aadhaar's check digit.
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def verhoeff_valid(digits: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def _redact_digit_run(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 12 and digits[0] not in "01" and verhoeff_valid(digits):
        return "[AADHAAR]"
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
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
