"""What the format parsers share: metadata lines and properties, front matter, text clean-up."""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

from ingest.metadata import META_KEYS, RawMeta, normalize_key
from ingest.models import Block, IngestError, IngestErrorReason, MetadataWarning, Vertical

_VERTICALS = frozenset(vertical.value for vertical in Vertical)
_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "document"})
_META_LINE = re.compile(r"([A-Za-z][A-Za-z0-9_ -]{0,40}?)\s*:\s*(.*)")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


class _TextLoader(yaml.SafeLoader):
    """YAML whose scalars stay as written: a date, a number or `no` is read by its field, so a
    value YAML would refuse (2025-13-01) or change (1.10 -> 1.1) reaches it intact."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def front_matter(text: str, filename: str) -> tuple[RawMeta, str]:
    """Split YAML front matter off `text`. Front matter that is not valid YAML is read as
    `key: value` lines, with a warning; it never refuses the document."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return RawMeta(), text
    body = text[match.end() :]
    try:
        loaded = yaml.load(match.group(1), Loader=_TextLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        where = ""
        if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:
            where = f" at line {e.problem_mark.line + 1}"
        raw = RawMeta(fields=_meta_lines(match.group(1).splitlines()))
        raw.warnings.append(
            MetadataWarning(
                field="front_matter", detail=f"not valid YAML{where}: read line by line"
            )
        )
        return raw, body
    if loaded is None:
        return RawMeta(), body
    if not isinstance(loaded, dict):
        warning = MetadataWarning(field="front_matter", detail="not a list of fields: ignored")
        return RawMeta(warnings=[warning]), body
    fields = {normalize_key(str(key)): _as_text(value) for key, value in loaded.items()}
    return RawMeta(fields={k: v for k, v in fields.items() if k and v}), body


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(filter(None, map(_as_text, value)))
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return str(value)


def _meta_lines(lines: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        match = _META_LINE.fullmatch(line.strip())
        if match is not None and (key := normalize_key(match.group(1))):
            fields[key] = match.group(2).strip().strip("\"'")
    return fields


def take_meta_lines(texts: Sequence[str]) -> tuple[dict[str, str], int]:
    """Read the `doc_id: ...` metadata lines that open some DOCX/PDF bodies; count them. After
    `doc_id`, a known field in any spelling (`Effective Date:`) or another snake_case key."""
    raw: dict[str, str] = {}
    for count, text in enumerate(texts):
        match = _META_LINE.fullmatch(text.strip())
        key = normalize_key(match.group(1)) if match else ""
        if (
            match is None
            or ("doc_id" not in raw and key != "doc_id")
            or (key not in META_KEYS and not _SNAKE.fullmatch(match.group(1)))
        ):
            return raw, count
        raw[key] = match.group(2)
    return raw, len(texts)


def property_meta(
    *, title: str | None, subject: str | None, keywords: str | None
) -> dict[str, str]:
    """Metadata from DOCX core properties or a PDF info dict; keywords hold `doc_id=...;...` pairs.

    Authoring tools fill title and subject with placeholders ("untitled", "unspecified"), so the
    subject counts as the vertical only when it names one.
    """
    raw: dict[str, str] = {}
    if title and title.strip().casefold() not in _PLACEHOLDER_TITLES:
        raw["title"] = title
    if subject and subject.strip().lower() in _VERTICALS:
        raw["vertical"] = subject
    pairs = (part.partition("=") for part in (keywords or "").split(";"))
    return raw | {normalize_key(k): v.strip() for k, sep, v in pairs if sep and normalize_key(k)}


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
