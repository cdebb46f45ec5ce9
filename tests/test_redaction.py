"""Personal data never reaches a log line or a stored transcript: examples, and generated
variants of each kind (separators, prefixes, scripts) as properties."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import luhn, verhoeff

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
        # Found in stored transcripts (#13): dots as separators, brackets, a Unicode address.
        ("card 4111.1111.1111.1111", "card [CARD]"),
        ("call 98.765.432.10", "call [PHONE]"),
        ("mail jöhn@exämple.com", "mail [EMAIL]"),
        ("US office +1 (415) 555-0132", "US office [PHONE]"),
        ("jo\u0308hn@example.com", "[EMAIL]"),  # the same address, decomposed
        ("लिखें राम@उदाहरण.भारत पर", "लिखें [EMAIL] पर"),
        ("asha dot rao at gmail dot com", "[EMAIL]"),
        ("asha[at]example[dot]in", "[EMAIL]"),
        ("pay asha.rao@okaxis or 9876543210@ybl", "pay [UPI] or [UPI]"),
        ("मेरा नंबर ९८७६५४३२१० है", "मेरा नंबर [PHONE] है"),
        ("＋９１ ９８７６５ ４３２１０", "[PHONE]"),
        ("(+91) 98765-43210", "[PHONE]"),
        ("0091 98765 43210", "[PHONE]"),
        ("(022) 2345 6789", "[PHONE]"),
        ("+44 20 7946 0958", "[PHONE]"),
        ("415.555.0132", "[PHONE]"),
        ("seat 12 98765 43210", "seat 12 [PHONE]"),
        ("on 2026-12-05 9876543210", "on 2026-12-05 [PHONE]"),
        ("aadhaar 2341.2341.2346", "aadhaar [AADHAAR]"),
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
        "on 05.12.2026 10.30, back 07.12.2026",  # dates and times with dots
        "similarity 0.9876543210, latency 9876543.21 ms",  # decimals
        "client 99.12.145.201",  # an IPv4 address, not a dotted phone
        "IX 1972 05:30 07:35, 2025-2026 season, ₹1,23,456",
        "email the desk at noon. In the morning",  # "at" and "in" as words
        "@yatri on social media, user@ alone",
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


# --------------------------------------------------------------------------- generated variants

LABELS = r"\[(?:PHONE|CARD|AADHAAR|EMAIL|UPI)\]"
# Decimal digits of other scripts Indian travellers type: Devanagari, Bengali, fullwidth.
SCRIPTS = ("0123456789", "०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "０１２３４５６７８９")


def _in_script(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", script))


def _redacted_alone(number: str, label: str | None = None) -> None:
    """`number` inside a sentence comes back as one label and nothing of it is left."""
    out = redact_text(f"note {number} ok")
    assert re.fullmatch(rf"note {label or LABELS} ok", out), (number, out)


@st.composite
def indian_mobiles(draw: st.DrawFn) -> str:
    digits = draw(st.sampled_from("6789")) + draw(st.text("0123456789", min_size=9, max_size=9))
    # Groups of two to five digits (98765 43210, 987 654 3210, 98 76 54 32 10), one separator.
    sizes: list[int] = []
    while sum(sizes) < 10:
        sizes.append(min(draw(st.integers(2, 5)), 10 - sum(sizes)))
    assume(sizes[-1] >= 2)
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    # A single dot reads as a decimal point ("98765.43210"): left as a number.
    assume(not (sep == "." and len(sizes) == 2))
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    number = sep.join(
        digits[start : start + size] for start, size in zip(starts, sizes, strict=True)
    )
    prefix = draw(st.sampled_from(["", "+91", "+91 ", "+91-", "0", "91", "91 ", "0091 ", "(+91) "]))
    return _in_script(prefix + number, draw(st.sampled_from(SCRIPTS)))


@given(indian_mobiles())
@settings(max_examples=300, deadline=None)
def test_indian_mobiles_are_redacted_however_written(number: str) -> None:
    _redacted_alone(number)


@st.composite
def international_numbers(draw: st.DrawFn) -> str:
    country = draw(st.from_regex(r"[1-9]\d{0,2}", fullmatch=True))
    national = draw(st.from_regex(r"[1-9]\d{6,10}", fullmatch=True))
    assume(8 <= len(country) + len(national) <= 15)
    sep = draw(st.sampled_from([" ", "-", ".", ""]))
    cut = draw(st.integers(min_value=2, max_value=min(4, len(national) - 4)))
    area, rest = national[:cut], national[cut:]
    middle = draw(st.integers(min_value=2, max_value=len(rest) - 2))
    area = draw(st.sampled_from([area, f"({area})"]))
    return f"{draw(st.sampled_from(['+', '00']))}{country} {area}{sep}{rest[:middle]}{sep}{rest[middle:]}"


@given(international_numbers())
@settings(max_examples=300, deadline=None)
def test_international_numbers_are_redacted(number: str) -> None:
    _redacted_alone(number, r"\[PHONE\]")


def _with_check_digit(
    draw: st.DrawFn, *, first: str, length: int, check: Callable[[str], str], seps: list[str]
) -> str:
    """`length` digits opening with one of `first` and closed by `check`'s digit, in fours."""
    body = draw(st.sampled_from(first)) + draw(st.text("0123456789", min_size=length - 2,
                                                         max_size=length - 2))  # fmt: skip
    digits = body + check(body)
    assume(digits != digits[::-1])  # a palindrome is never an Aadhaar number
    return draw(st.sampled_from(seps)).join(digits[i : i + 4] for i in range(0, length, 4))


@st.composite
def cards(draw: st.DrawFn) -> str:
    seps = ["", " ", "-", ".", " - "]
    number = _with_check_digit(draw, first="45", length=16, check=luhn.calc_check_digit, seps=seps)
    return _in_script(number, draw(st.sampled_from(SCRIPTS)))


@given(cards())
@settings(max_examples=200, deadline=None)
def test_luhn_valid_cards_are_redacted_with_any_separator(number: str) -> None:
    _redacted_alone(number, r"\[CARD\]")


@st.composite
def aadhaar_numbers(draw: st.DrawFn) -> str:
    return _with_check_digit(draw, first="23456789", length=12,
                             check=verhoeff.calc_check_digit, seps=["", " ", "-", "."])  # fmt: skip


@given(aadhaar_numbers())
@settings(max_examples=200, deadline=None)
def test_valid_aadhaar_numbers_are_redacted_with_any_separator(number: str) -> None:
    _redacted_alone(number, r"\[AADHAAR\]")


_LETTERS = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzäöüéèçñøåßāīū") + ["क", "ख", "म", "र", "ा", "ि", "े", "्"]
)


def _word(min_size: int = 1) -> st.SearchStrategy[str]:
    return st.lists(_LETTERS, min_size=min_size, max_size=8).map("".join)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(_word()) + draw(st.sampled_from(["", ".", "_", "+", "-"])) + draw(_word())
    labels = draw(st.lists(_word(), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "in", "co.in", "भारत", "org", "इंडिया"]))
    address = f"{local}@{'.'.join(labels)}.{tld}"
    form = draw(st.sampled_from(["NFC", "NFD"]))
    return unicodedata.normalize(form, address)  # type: ignore[arg-type]


@given(emails())
@settings(max_examples=300, deadline=None)
def test_unicode_emails_are_redacted(address: str) -> None:
    _redacted_alone(address, r"\[EMAIL\]")


@given(
    st.from_regex(r"[a-z0-9][a-z0-9._-]{1,20}", fullmatch=True),
    st.sampled_from(["okaxis", "oksbi", "okhdfcbank", "okicici", "ybl", "paytm", "upi", "ibl"]),
)
@settings(max_examples=200, deadline=None)
def test_upi_ids_are_redacted(handle: str, bank: str) -> None:
    _redacted_alone(f"{handle}@{bank}", r"\[UPI\]")


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_redaction_is_idempotent_and_never_fails(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


@st.composite
def travel_lines(draw: st.DrawFn) -> str:
    fare = draw(st.integers(min_value=500, max_value=99_99_999))
    day, month = draw(st.integers(1, 28)), draw(st.integers(1, 12))
    date = draw(st.sampled_from([f"2026-{month:02}-{day:02}", f"{day:02}/{month:02}/2026",
                                 f"{day:02}.{month:02}.2026", f"{day} December 2026"]))  # fmt: skip
    time = draw(st.sampled_from(["10:30", "22.45", "05:30 to 07:35"]))
    flight = draw(st.sampled_from(["6E 2134", "AI 101", "IX 1972", "QP 6795", "SG 6250"]))
    pnr = draw(st.from_regex(r"[A-Z0-9]{6}", fullmatch=True))
    seats = draw(st.integers(1, 9))
    train = draw(st.integers(10_000, 99_999))
    return (
        f"{flight} on {date} at {time}, ₹{fare:,} ({fare * 100} paise), PNR {pnr}, "
        f"{seats} seats, train {train}, {draw(st.integers(1, 60))} kg"
    )


@given(travel_lines())
@settings(max_examples=300, deadline=None)
def test_travel_data_is_never_redacted(line: str) -> None:
    assert redact_text(line) == line
