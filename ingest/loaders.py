"""Turn one policy file's bytes into a ParsedDocument: metadata plus structural blocks in reading order.

Dispatches on the file extension to a parser in ingest/formats/ (PDF, HTML, Markdown, DOCX, plain
text) and reads the metadata it found leniently (ingest/metadata.py: a value it cannot use is kept
as text with a warning). Every failure is an IngestError with a reason; no library exception
escapes. The upload limits (ingest/limits.py) are checked before and while parsing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePath

from ingest.formats import html, markdown, pdf, plaintext, word
from ingest.limits import UploadLimits, check_size
from ingest.metadata import Format, RawMeta, build_meta
from ingest.models import Block, IngestError, IngestErrorReason, ParsedDocument

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
    meta, warnings = build_meta(
        raw, blocks=blocks, filename=filename, source_uri=source_uri, fmt=fmt
    )
    return ParsedDocument(
        meta=meta,
        blocks=tuple(blocks),
        content_hash=hashlib.sha256(data).hexdigest(),
        warnings=warnings,
    )
