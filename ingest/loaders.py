"""Turn one policy file's bytes into a ParsedDocument: metadata plus structural blocks in reading order.

Dispatches on the file extension to a parser in ingest/formats/ (PDF, HTML, Markdown, DOCX, plain
text) and validates the metadata it found. Every failure is an IngestError with a reason; no library
exception escapes. The upload limits (ingest/limits.py) are checked before and while parsing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Literal

from ingest.formats import html, markdown, pdf, plaintext, word
from ingest.formats.common import RawMeta
from ingest.limits import UploadLimits, check_size
from ingest.models import (
    Block,
    DocumentMeta,
    IngestError,
    IngestErrorReason,
    ParsedDocument,
    Vertical,
)

Format = Literal["pdf", "html", "markdown", "docx", "text"]
Parser = Callable[[bytes, str, UploadLimits], tuple[RawMeta, list[Block]]]

_FORMATS: dict[str, Format] = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".docx": "docx",
    ".txt": "text",
}
_PARSERS: dict[Format, Parser] = {
    "pdf": pdf.parse,
    "html": html.parse,
    "markdown": markdown.parse,
    "docx": word.parse,
    "text": plaintext.parse,
}
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"([a-z]{2})(?:[-_][a-z0-9]{2,8})*")


def load_document(
    data: bytes, *, filename: str, source_uri: str, limits: UploadLimits | None = None
) -> ParsedDocument:
    """Parse `data` as the format its extension names, within `limits` (the defaults when
    None); raise IngestError if it cannot be used."""
    limits = limits or UploadLimits()
    suffix = PurePath(filename).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise IngestError(
            f"unsupported file type {suffix or '(no extension)'}",
            reason=IngestErrorReason.UNSUPPORTED,
            filename=filename,
        )
    check_size(data, limits, filename)
    if not data.strip():
        raise IngestError("file is empty", reason=IngestErrorReason.EMPTY, filename=filename)
    raw, blocks = _PARSERS[fmt](data, filename, limits)
    if all(block.kind == "heading" for block in blocks):
        raise IngestError("no text content", reason=IngestErrorReason.EMPTY, filename=filename)
    meta = _build_meta(raw, blocks=blocks, filename=filename, source_uri=source_uri, fmt=fmt)
    return ParsedDocument(
        meta=meta, blocks=tuple(blocks), content_hash=hashlib.sha256(data).hexdigest()
    )


def _build_meta(
    raw: RawMeta, *, blocks: Sequence[Block], filename: str, source_uri: str, fmt: Format
) -> DocumentMeta:
    def bad(detail: str) -> IngestError:
        return IngestError(detail, reason=IngestErrorReason.BAD_METADATA, filename=filename)

    def field(key: str) -> str:
        return raw.get(key, "").strip()

    stem = PurePath(filename).stem
    doc_id = field("doc_id") or _slug(stem)
    if not _SLUG.fullmatch(doc_id):
        raise bad(f"doc_id {doc_id!r} is not a lowercase slug")
    supersedes = field("supersedes") or None
    if supersedes is not None and not _SLUG.fullmatch(supersedes):
        raise bad(f"supersedes {supersedes!r} is not a lowercase slug")
    try:
        vertical = Vertical(field("vertical").lower() or Vertical.GENERAL)
    except ValueError as e:
        raise bad(f"unknown vertical {field('vertical')!r}") from e
    version = field("version") or "1"
    if not version.isdigit() or int(version) < 1:
        raise bad(f"version {version!r} is not a positive integer")
    effective_date = None
    if date_text := field("effective_date"):
        try:
            if not _DATE.fullmatch(date_text):
                raise ValueError(date_text)
            effective_date = dt.date.fromisoformat(date_text)
        except ValueError as e:
            raise bad(f"effective_date {date_text!r} is not a YYYY-MM-DD date") from e
    language = _LANGUAGE.fullmatch(field("language").lower() or "en")
    if language is None:
        raise bad(f"language {field('language')!r} is not an ISO 639-1 code")
    first_h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return DocumentMeta(
        doc_id=doc_id,
        title=field("title") or first_h1 or stem,
        vertical=vertical,
        supplier=field("supplier") or None,
        language=language.group(1),
        version=int(version),
        effective_date=effective_date,
        supersedes=supersedes,
        source_uri=source_uri,
        format=fmt,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"
