"""What the format parsers share: metadata lines and properties, front matter, text clean-up."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import yaml

from ingest.models import Block, IngestError, IngestErrorReason, Vertical

RawMeta = dict[str, str]  # metadata field -> text, as found in the file

META_KEYS = frozenset(
    {"doc_id", "title", "vertical", "supplier", "language", "version", "effective_date"}
    | {"supersedes"}
)
_VERTICALS = frozenset(vertical.value for vertical in Vertical)
_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "document"})
_META_LINE = re.compile(r"([a-z_]+)\s*:\s*(.*)")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def front_matter(text: str, filename: str) -> tuple[RawMeta, str]:
    """Split YAML front matter off `text`; only the known metadata keys are kept."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text

    def bad(detail: str) -> IngestError:
        return IngestError(detail, reason=IngestErrorReason.BAD_METADATA, filename=filename)

    try:
        loaded = yaml.safe_load(match.group(1))
    except (yaml.YAMLError, ValueError) as e:  # ValueError: a date-looking value like 2025-13-01
        raise bad(f"front matter is not valid YAML: {e}") from e
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise bad("front matter is not a mapping")
    raw: RawMeta = {}
    for key, value in loaded.items():
        if value is None or str(key) not in META_KEYS:
            continue
        if isinstance(value, list | dict):
            raise bad(f"front matter field {key!r} must be a single value")
        raw[str(key)] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return raw, text[match.end() :]


def take_meta_lines(texts: Sequence[str]) -> tuple[RawMeta, int]:
    """Read the `doc_id: ...` metadata lines that open some DOCX/PDF bodies; count them."""
    raw: RawMeta = {}
    for count, text in enumerate(texts):
        match = _META_LINE.fullmatch(text.strip())
        if (
            match is None
            or match.group(1) not in META_KEYS
            or ("doc_id" not in raw and match.group(1) != "doc_id")
        ):
            return raw, count
        raw[match.group(1)] = match.group(2)
    return raw, len(texts)


def property_meta(*, title: str | None, subject: str | None, keywords: str | None) -> RawMeta:
    """Metadata from DOCX core properties or a PDF info dict; keywords hold `doc_id=...;...` pairs.

    Authoring tools fill title and subject with placeholders ("untitled", "unspecified"), so the
    subject counts as the vertical only when it names one; `vertical=` in keywords is validated.
    """
    raw: RawMeta = {}
    if title and title.strip().casefold() not in _PLACEHOLDER_TITLES:
        raw["title"] = title
    if subject and subject.strip().lower() in _VERTICALS:
        raw["vertical"] = subject
    pairs = (part.partition("=") for part in (keywords or "").split(";"))
    return raw | {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip() in META_KEYS}


def normalize(text: str) -> str:
    """Collapse every run of whitespace (newlines, NBSP) to one space."""
    return " ".join(text.split())


def decode_text(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(
            "text is not valid UTF-8", reason=IngestErrorReason.CORRUPT, filename=filename
        ) from e


def corrupt(kind: str, filename: str, error: Exception) -> IngestError:
    return IngestError(
        f"unreadable {kind}: {type(error).__name__}: {error}",
        reason=IngestErrorReason.CORRUPT,
        filename=filename,
    )


def table_block(rows: Sequence[tuple[str, ...]]) -> Block:
    """A table block; rows[0] is the header."""
    return Block(kind="table", text="\n".join(" | ".join(row) for row in rows), rows=tuple(rows))
