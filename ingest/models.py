"""What ingest produces: parsed documents and their chunks, and its per-file errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from core.errors import YatriError


class Vertical(StrEnum):
    FLIGHTS = "flights"
    HOTELS = "hotels"
    BUSES = "buses"
    TRAINS = "trains"
    GENERAL = "general"


class IngestErrorReason(StrEnum):
    EMPTY = "empty"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    UNSUPPORTED = "unsupported_format"
    BAD_METADATA = "bad_metadata"
    TOO_LARGE = "too_large"


class IngestError(YatriError):
    """One file could not be ingested; the rest of a batch goes on."""

    problem_type = "invalid-document"
    title = "Invalid document"
    status = 422

    def __init__(self, detail: str, *, reason: IngestErrorReason, filename: str) -> None:
        super().__init__(detail, reason=reason.value, filename=filename)
        self.reason = reason
        self.filename = filename


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    doc_id: str  # stable slug
    title: str
    vertical: Vertical
    supplier: str | None
    language: str  # ISO 639-1, "en" by default
    version: int
    effective_date: dt.date | None
    supersedes: str | None  # doc_id this document replaces
    source_uri: str
    format: Literal["pdf", "html", "markdown", "docx", "text"]
    # Free text found beside a parsed value: {"effective_date": "revised refund requirements"}.
    notes: Mapping[str, str] = field(default_factory=dict)
    # Fields Yatri does not use, and values it could not read as their field, as written.
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetadataWarning:
    """A metadata value taken other than as written (kept as text, read in another form)."""

    field: str
    detail: str


@dataclass(frozen=True, slots=True)
class Block:
    """One structural element in reading order."""

    kind: Literal["heading", "paragraph", "list_item", "table"]
    text: str  # for a table: the rows rendered as "a | b | c" lines
    level: int = 0  # heading level (1 = title); 0 otherwise
    rows: tuple[tuple[str, ...], ...] = ()  # tables only; rows[0] is the header


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    meta: DocumentMeta
    blocks: tuple[Block, ...]
    content_hash: str  # sha256 of the file's bytes
    warnings: tuple[MetadataWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable piece of a document version."""

    chunk_id: str  # uuid, stable for (doc_id, version, ordinal, content_hash)
    doc_id: str
    version: int
    ordinal: int  # position in the document
    section_path: tuple[str, ...]  # headings above it, title excluded
    kind: Literal["text", "table_row", "table"]
    text: str  # what is quoted in an answer
    embed_text: str  # what is embedded: title and section path prepended to the text
    content_hash: str  # sha256 of embed_text: the embedding cache key
    flags: tuple[str, ...] = ()  # e.g. ("prompt_injection",)
