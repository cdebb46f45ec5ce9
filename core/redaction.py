"""Personal-data redaction for log lines and stored transcripts.

Redacted: emails (Unicode ones, and spelt out: "asha dot rao at gmail dot com"), UPI ids, phone
numbers (Indian mobiles and landlines, international numbers; digits split by spaces, dots,
dashes or brackets), card numbers, Aadhaar numbers and PANs, with digits in any script (४१११).
Cards are redacted only when Luhn-valid and Aadhaar numbers only when valid (Verhoeff check
digit, first digit 2-9, not a palindrome; both checks from python-stdnum), and dates, decimals and
IPv4 addresses are never read as phone numbers, so that prices, flight numbers, times and booking
references stay readable.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from stdnum import luhn
from stdnum.in_ import aadhaar


# Matching runs on a copy of the text with the same length: every decimal digit (Devanagari,
# fullwidth, Bengali ...) as its ASCII digit, look-alike separators as ASCII. Spans found in the
# copy are the spans to replace in the original.
@functools.cache
def _fold_table() -> dict[int, str]:
    table = {
        ord(c): str(unicodedata.decimal(c))
        for c in re.findall(r"\d", "".join(map(chr, range(0x80, 0x20000))))
    }
    table |= {ord(c): " " for c in "\u00a0\u2007\u2009\u202f\u2002\u2003\u3000"}
    table |= {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"}
    return table | {ord(a): b for a, b in zip("＠﹫．＋（）", "@@.+()", strict=True)}


# Letters of an address: \w (Unicode), combining marks and the Indic blocks' vowel signs.
_ADDR = r"\w\u0300-\u036f\u0900-\u0dff\u200c\u200d"
_EMAIL = re.compile(
    rf"(?<![{_ADDR}.%+'-])[{_ADDR}.%+'-]+@(?:[{_ADDR}-]+\.)+(?:[^\W\d_]|[\u0300-\u036f\u0900-\u0dff]){{2,}}"
)
_TLDS = r"(?:com|in|co\.in|org|net|co|io|edu|gov|info|me|biz|us|uk)"
_SPOKEN_DOT = r"(?:\.|\s*[(\[{]\s*dot\s*[)\]}]\s*|\s+dot\s+)"
# Bounded repeats: "at dot at dot ..." must not backtrack without end.
_SPOKEN_EMAIL = re.compile(
    rf"\b[\w.]{{1,64}}(?:\s+dot\s+\w{{1,64}}){{0,3}}(?:\s*[(\[{{]\s*at\s*[)\]}}]\s*|\s+at\s+)"
    rf"[a-z][\w-]{{0,62}}(?:{_SPOKEN_DOT}[a-z][\w-]{{0,62}}){{0,3}}{_SPOKEN_DOT}{_TLDS}\b",
    re.IGNORECASE,
)
# A UPI id is a handle at a bank's short name, with no dot after the @ ("asha.rao@okaxis").
_UPI = re.compile(r"(?<![\w.@+-])[\w.-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}(?![\w@-]|\.\w)")
# A run of digits that separators (up to three of space, dot, dash) hold together, opened by
# "+" or not, with bracketed groups of up to five digits ("+1 (415) 555-0132", "(+91) 98765
# 43210"): a phone, card or Aadhaar number, or anything else numeric.
_BRACKETED = r"\(\s?\+?\d{1,5}\s?\)"
_NUMBER = re.compile(
    rf"(?<![\w+.])(?:\+\s?\d|{_BRACKETED}|\d)(?:[ .\-]{{0,3}}(?:\d|{_BRACKETED}))*(?!\w)"
)
_DATE = re.compile(r"(\d{4})[./-](\d{1,2})[./-](\d{1,2})|(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_AT_WORD = re.compile(r"(?:\s|[(\[{])at(?:\s|[)\]}])", re.IGNORECASE)
_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}")
_PAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?![A-Za-z0-9])")
_MAX_GROUPS = 8  # the most space-separated groups one number is read from ("+1 (415) 555 0132")
_MAX_CHARS = 40  # the longest one number is written: "+91 (987) 654 - 3210", "4111 - 1111 - ..."


def redact_text(text: str) -> str:
    """Replace emails, UPI ids, cards, Aadhaar numbers, PANs and phone numbers in ``text``."""
    folded = text if text.isascii() else text.translate(_fold_table())
    if "@" in folded or _AT_WORD.search(folded):
        text, folded = _sub(_EMAIL, lambda _: "[EMAIL]", text, folded)
        text, folded = _sub(_SPOKEN_EMAIL, lambda _: "[EMAIL]", text, folded)
        text, folded = _sub(_UPI, lambda _: "[UPI]", text, folded)
    text, folded = _sub(_NUMBER, _number_spans, text, folded)
    text, folded = _sub(_PAN, lambda _: "[PAN]", text, folded)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside nested mappings and sequences; other values pass through."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


# A replacement: either one label for the whole match, or (start, end, label) spans inside it.
_Replacement = str | list[tuple[int, int, str]]


def _sub(
    pattern: re.Pattern[str],
    replace: Callable[[re.Match[str]], _Replacement],
    text: str,
    folded: str,
) -> tuple[str, str]:
    """Replace in `text` what `pattern` finds in `folded`, keeping the two the same length
    apart from the labels (which both get)."""
    out, out_folded, at = [], [], 0
    for match in pattern.finditer(folded):
        replacement = replace(match)
        spans = (
            [(match.start(), match.end(), replacement)]
            if isinstance(replacement, str)
            else replacement
        )
        for start, end, label in spans:
            out += [text[at:start], label]
            out_folded += [folded[at:start], label]
            at = end
    if at == 0:
        return text, folded
    out.append(text[at:])
    out_folded.append(folded[at:])
    return "".join(out), "".join(out_folded)


def _number_spans(match: re.Match[str]) -> list[tuple[int, int, str]]:
    """The personal numbers within one run of digits: the whole run first, then, when two
    numbers stand side by side ("seat 12 98765 43210"), the longest windows of its groups."""
    if len(match.group()) < 8 or sum(c.isdigit() for c in match.group()) < 8:
        return []  # too short for any of them: prices, flight numbers, dates
    groups = [(g.start() + match.start(), g.end() + match.start())
              for g in re.finditer(r"\S+", match.group())]  # fmt: skip
    folded = match.string
    digits_before = [0]  # digits in the groups before each group
    for start, end in groups:
        digits_before.append(digits_before[-1] + sum(c.isdigit() for c in folded[start:end]))
    spans = []
    first = 0
    while first < len(groups):
        for last in range(min(len(groups), first + _MAX_GROUPS) - 1, first - 1, -1):
            start, end = groups[first][0], groups[last][1]
            if end - start > _MAX_CHARS or digits_before[last + 1] - digits_before[first] < 8:
                continue
            label = _classify(folded[start:end])
            if label is not None:
                spans.append((start, end, label))
                first = last + 1
                break
        else:
            first += 1
    return spans


def _classify(candidate: str) -> str | None:
    """ "[PHONE]", "[CARD]" or "[AADHAAR]" for a number written with separators; None when it
    is something else (a date, a decimal, an address, a count)."""
    digits = re.sub(r"\D", "", candidate)
    n = len(digits)
    if n < 8:
        return None
    if candidate.lstrip("( ").startswith("+"):
        return "[PHONE]" if n <= 15 else None
    if _holds_a_date(candidate) or _IPV4.fullmatch(candidate):
        return None
    if candidate.count(".") == 1 and not re.search(r"[ ()\-]", candidate):
        return None  # a decimal: 9876543.21
    if digits.startswith("00"):
        return "[PHONE]" if 8 <= n - 2 <= 15 else None
    if n == 12 and aadhaar.is_valid(digits):
        return "[AADHAAR]"
    if 13 <= n <= 19 and luhn.is_valid(digits):
        return "[CARD]"
    mobile = (
        (n == 10 and digits[0] in "6789")
        or (n == 11 and digits[0] == "0" and digits[1] in "6789")
        or (n == 12 and digits.startswith("91") and digits[2] in "6789")
    )
    landline = 10 <= n <= 12 and digits[0] == "0" and digits[1] != "0"
    if mobile or landline or _NANP.fullmatch(candidate):
        return "[PHONE]"
    return None


def _holds_a_date(candidate: str) -> bool:
    """Whether one of its space-separated groups is a date ("05.12.2026 10.30")."""
    for group in candidate.split():
        m = _DATE.fullmatch(group.strip("()"))
        if m is None:
            continue
        if m.group(1):  # year first
            if 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31:
                return True
            continue
        a, b = int(m.group(4)), int(m.group(5))
        if 1 <= min(a, b) <= 12 and max(a, b) <= 31:
            return True
    return False
