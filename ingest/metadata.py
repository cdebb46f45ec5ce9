"""A document's metadata, read leniently: real documents carry notes in their dates, fields this
project never heard of and values in every common form. A value that cannot be used as its field
asks is kept as text (``DocumentMeta.extra``) and reported as a warning; metadata never refuses a
document. Dates are read in the common written forms, numeric ones day-first (the Indian
convention) unless only month-first can be right."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal

from ingest.models import Block, DocumentMeta, MetadataWarning, Vertical

Format = Literal["pdf", "html", "markdown", "docx", "text"]


@dataclass(slots=True)
class RawMeta:
    """Metadata as a file states it: field (normalized key) -> text, and what was odd on the way."""

    fields: dict[str, str] = field(default_factory=dict)
    warnings: list[MetadataWarning] = field(default_factory=list)


META_KEYS = frozenset(
    {"doc_id", "title", "vertical", "supplier", "language", "version", "effective_date"}
    | {"supersedes"}
)
MAX_EXTRA_FIELDS = 50
MAX_VALUE_CHARS = 1000

_VERTICALS = frozenset(vertical.value for vertical in Vertical)
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_LANGUAGE = re.compile(r"([a-z]{2})(?:[-_][a-z0-9]{2,8})*")
_LANGUAGE_NAMES = {
    "english": "en", "hindi": "hi", "bengali": "bn", "bangla": "bn", "marathi": "mr",
    "tamil": "ta", "telugu": "te", "kannada": "kn", "malayalam": "ml", "gujarati": "gu",
    "punjabi": "pa", "odia": "or", "oriya": "or", "urdu": "ur", "assamese": "as",
    "hinglish": "hi",
}  # fmt: skip
_VERTICAL_WORDS = {
    "flight": Vertical.FLIGHTS, "air": Vertical.FLIGHTS, "airline": Vertical.FLIGHTS,
    "airlines": Vertical.FLIGHTS, "aviation": Vertical.FLIGHTS, "hotel": Vertical.HOTELS,
    "stay": Vertical.HOTELS, "stays": Vertical.HOTELS, "bus": Vertical.BUSES,
    "train": Vertical.TRAINS, "rail": Vertical.TRAINS, "railway": Vertical.TRAINS,
    "railways": Vertical.TRAINS,
}  # fmt: skip

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_B, _E = r"(?<![\w])", r"(?![\w])"
# Each written form of a date, its groups named; the earliest match in a value is its date.
_DATE_FORMS = tuple(
    (kind, re.compile(_B + pattern + _E, re.I))
    for kind, pattern in (
        ("ymd", r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME),
        ("numeric", r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})"),
        ("dmy", r"(?P<d>\d{1,2})" + _ORDINAL + r"[\s./-]*(?:of\s+)?" + _MONTH
         + r"[\s.,/-]*(?P<y>\d{4})"),
        ("mdy", _MONTH + r"[\s./-]*(?P<d>\d{1,2})" + _ORDINAL + r"[\s.,/-]*(?P<y>\d{4})"),
        ("my", _MONTH + r"[\s.,/-]*(?P<y>\d{4})"),
    )
)  # fmt: skip
_LEAD_IN = re.compile(
    r"(?:w\.?e\.?f\.?|with effect from|effective(?: from| on| date)?|in effect from|from|since|"
    r"on|dated|as of|valid from|date)?[\s:.,;-]*",
    re.I,
)
_TRIM = " \t,;:-–—"


@dataclass(frozen=True, slots=True)
class DateReading:
    """A date found in a metadata value, the text around it and how it was read."""

    date: dt.date
    note: str | None  # the value's text other than the date: "revised refund requirements"
    caveats: tuple[str, ...] = ()  # each way the reading was not plain, said for people


def read_date(text: str) -> DateReading | None:
    """The first date written in `text` in a common form, or None when it holds none."""
    found: list[tuple[int, int, dt.date, tuple[str, ...]]] = []
    for kind, pattern in _DATE_FORMS:
        for match in pattern.finditer(text):
            reading = _date_of(kind, match)
            if reading is not None:
                found.append((match.start(), -match.end(), *reading))
    if not found:
        return None
    found.sort()
    start, neg_end, date, caveats = found[0]
    end = -neg_end
    others = {d for s, e, d, _ in found[1:] if s >= end or -e <= start}
    if others:
        caveats += ("took the first of several dates",)
    return DateReading(date=date, note=_note(text[:start], text[end:]), caveats=caveats)


def _date_of(kind: str, match: re.Match[str]) -> tuple[dt.date, tuple[str, ...]] | None:
    groups = match.groupdict()
    caveats: list[str] = []
    if kind == "numeric":
        first, second = int(groups["a"]), int(groups["b"])
        day, month = first, second
        if second > 12 >= first:
            day, month = second, first
            caveats.append(f"{match.group(0)!r} read month-first ({second} cannot be a month)")
        elif first <= 12 and first != second:
            caveats.append(f"{match.group(0)!r} read day-first (Indian convention)")
    else:
        month = _MONTHS[groups["month"].lower()] if groups.get("month") else int(groups["m"])
        day = int(groups["d"]) if groups.get("d") else 1
        if kind == "my":
            caveats.append(f"{match.group(0)!r} names no day: taken as the 1st")
    year = int(groups["y"])
    if year < 100:
        year += 2000
        caveats.append(f"two-digit year read as {year}")
    try:
        return dt.date(year, month, day), tuple(caveats)
    except ValueError:
        return None


def _note(before: str, after: str) -> str | None:
    lead = _LEAD_IN.fullmatch(before.strip())
    before = "" if lead is not None else before.strip(_TRIM)
    after = after.strip(_TRIM)
    if after[:1] in "([" and (close := _closing(after)) > 0:
        after = "; ".join(p for p in (after[1:close].strip(), after[close + 1 :].strip(_TRIM)) if p)
    return "; ".join(p for p in (before, after) if p) or None


def _closing(text: str) -> int:
    """Index of the bracket closing the one `text` opens with; -1 if it is never closed."""
    depth = 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def normalize_key(key: str) -> str:
    """`Effective Date`, `effective-date` -> `effective_date`."""
    return re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_")


def build_meta(
    raw: RawMeta, *, blocks: Sequence[Block], filename: str, source_uri: str, fmt: Format
) -> tuple[DocumentMeta, tuple[MetadataWarning, ...]]:
    """The document's metadata from what its file says, defaults for what it does not, and a
    warning for each value taken other than as written."""
    warnings: list[MetadataWarning] = []
    extra: dict[str, str] = {}
    notes: dict[str, str] = {}

    def warn(key: str, detail: str) -> None:
        warnings.append(MetadataWarning(field=key, detail=detail))

    def keep(key: str, text: str, detail: str) -> None:
        extra[key] = text
        warn(key, f"{text!r} {detail}; kept as text")

    warnings.extend(raw.warnings)
    fields: dict[str, str] = {}
    dropped = 0
    for key, given in raw.fields.items():
        if key not in META_KEYS and len(extra) >= MAX_EXTRA_FIELDS:
            dropped += 1
            continue
        text = " ".join(given.split())
        if len(text) > MAX_VALUE_CHARS:
            warn(key, f"longer than {MAX_VALUE_CHARS} characters: cut")
            text = text[:MAX_VALUE_CHARS]
        if key in META_KEYS:
            fields[key] = text
        elif text:
            extra[key] = text
            warn(key, "not a field Yatri uses; kept as text")
    if dropped:
        warn("metadata", f"{dropped} fields past the first {MAX_EXTRA_FIELDS} others: dropped")

    def value(key: str) -> str:
        return fields.get(key, "")

    stem = PurePath(filename).stem
    doc_id = _slug_value("doc_id", value("doc_id"), warn) or _slug(stem)
    supersedes = _slug_value("supersedes", value("supersedes"), warn) or None
    vertical = _vertical(value("vertical"))
    if vertical is None:
        keep("vertical", value("vertical"), f"is not one of {', '.join(Vertical)}: general")
        vertical = Vertical.GENERAL
    elif value("vertical") and normalize_key(value("vertical")) != vertical.value:
        warn("vertical", f"{value('vertical')!r} read as {vertical.value}")
    version = _number(value("version"))
    if version is None:
        keep("version", value("version"), "is not a positive whole number: version 1")
        version = 1
    elif value("version") and not value("version").isdigit():
        warn("version", f"{value('version')!r} read as {version}")
    effective_date = None
    if date_text := value("effective_date"):
        reading = read_date(date_text)
        if reading is None:
            keep("effective_date", date_text, "is not a date: in effect now")
        else:
            effective_date = reading.date
            if reading.note:
                notes["effective_date"] = reading.note
                warn("effective_date", f"{reading.date.isoformat()}, with the note "
                     f"{reading.note!r} kept beside it")  # fmt: skip
            for caveat in reading.caveats:
                warn("effective_date", f"{reading.date.isoformat()}: {caveat}")
    language = _language(value("language"))
    if language is None:
        keep("language", value("language"), "is not a language code: en")
        language = "en"
    first_h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    meta = DocumentMeta(
        doc_id=doc_id,
        title=value("title") or first_h1 or stem,
        vertical=vertical,
        supplier=value("supplier") or None,
        language=language,
        version=version,
        effective_date=effective_date,
        supersedes=supersedes,
        source_uri=source_uri,
        format=fmt,
        notes=notes,
        extra=extra,
    )
    return meta, tuple(warnings)


def _slug_value(key: str, text: str, warn: Callable[[str, str], None]) -> str:
    if not text or _SLUG.fullmatch(text):
        return text
    slug = _slug(text) if re.search(r"[A-Za-z0-9]", text) else ""
    warn(key, f"{text!r} is not a lowercase slug: " + (f"read as {slug!r}" if slug else "ignored"))
    return slug


def _vertical(text: str) -> Vertical | None:
    word = normalize_key(text)
    if not word:
        return Vertical.GENERAL
    for candidate in (word, word + "s"):
        if candidate in _VERTICALS:
            return Vertical(candidate)
    return _VERTICAL_WORDS.get(word)


def _number(text: str) -> int | None:
    if not text:
        return 1
    match = re.fullmatch(r"(?:v(?:er(?:sion)?)?\.?\s*)?(\d+)(?:\.0+)?", text.strip(), re.I)
    return int(match.group(1)) if match and int(match.group(1)) >= 1 else None


def _language(text: str) -> str | None:
    lowered = text.strip().lower()
    if not lowered:
        return "en"
    if code := _LANGUAGE_NAMES.get(lowered):
        return code
    match = _LANGUAGE.fullmatch(lowered)
    return match.group(1) if match else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"
