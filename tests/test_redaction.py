"""Personal data never reaches a log line or a stored transcript."""

from __future__ import annotations

import json

import pytest

from core.logging import configure_logging, get_logger
from core.redaction import redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +91 98765 43210", "call me on [PHONE]"),
        ("my number is 9876543210.", "my number is [PHONE]."),
        ("office 022-2345 6789", "office [PHONE]"),
        ("write to priya.k@example.co.in", "write to [EMAIL]"),
        ("card 4111 1111 1111 1111 exp 12/29", "card [CARD] exp 12/29"),
        ("card 5500-0000-0000-0004", "card [CARD]"),
        ("aadhaar 2341 2341 2346", "aadhaar [AADHAAR]"),
        ("PAN ABCPE1234F please", "PAN [PAN] please"),
    ],
)
def test_personal_data_is_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "fare ₹12,345 on 6E 2134 departing 2026-12-05 at 10:30",
        "PNR AB12CD, train 12951, seat 45, 4500000 paise",
        "card 4111 1111 1111 1112 is not a valid card number",  # fails Luhn
        "ref 2341 2341 2347",  # 12 digits failing Verhoeff
    ],
)
def test_travel_data_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111111111111111", "[CARD]"),
        ("4111111111111112", "4111111111111112"),  # Luhn fails
        ("234123412346", "[AADHAAR]"),
        ("234123412347", "234123412347"),  # Verhoeff fails
        ("123412341234", "123412341234"),  # Aadhaar never starts with 0 or 1
    ],
)
def test_check_digits_decide(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_log_lines_are_json_and_redacted(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True)
    get_logger("test").info(
        "traveller contact",
        phone="+91 98765 43210",
        email="a.b@example.com",
        nested={"card": "4111 1111 1111 1111", "items": ["PAN ABCPE1234F"]},
    )
    line = next(
        json.loads(raw) for raw in capfd.readouterr().err.splitlines() if "traveller contact" in raw
    )
    assert line["event"] == "traveller contact"
    assert line["phone"] == "[PHONE]" and line["email"] == "[EMAIL]"
    assert line["nested"] == {"card": "[CARD]", "items": ["PAN [PAN]"]}
    assert "timestamp" in line and line["level"] == "info"
