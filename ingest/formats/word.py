"""DOCX: body paragraphs and tables in document order via python-docx; metadata from the core
properties and the leading `doc_id: ...` paragraphs."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.table import Table

from ingest.formats.common import (
    corrupt,
    normalize,
    property_meta,
    table_block,
    take_meta_lines,
)
from ingest.limits import UploadLimits, capped, check_zip
from ingest.metadata import RawMeta
from ingest.models import Block, IngestError


def parse(data: bytes, filename: str, limits: UploadLimits) -> tuple[RawMeta, list[Block]]:
    # python-docx reads every part into memory and builds a tree of every XML part: what the
    # zip expands to is checked from its directory first.
    check_zip(data, limits, filename, kind="DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
        props = document.core_properties
        primary = property_meta(title=props.title, subject=props.subject, keywords=props.keywords)
        primary["language"] = props.language or ""
        blocks = list(capped(_docx_blocks(document), limits, filename))
    except IngestError:
        raise
    except Exception as e:  # a damaged zip or XML part surfaces as many library exception types
        raise corrupt("DOCX", filename, e) from e
    # The leading "doc_id: ..." paragraphs are metadata, not content.
    body_meta, taken = take_meta_lines([b.text if b.kind == "paragraph" else "" for b in blocks])
    return RawMeta(fields=body_meta | {k: v for k, v in primary.items() if v}), blocks[taken:]


def _docx_blocks(document: Document) -> Iterator[Block]:
    """Paragraphs and tables interleaved as in the body; Heading N and List styles kept."""
    # python-docx resolves a paragraph's style by scanning every style in the document, per
    # paragraph (~2 ms each): a name per style id, looked up once, keeps parsing linear and fast.
    style_names: dict[str | None, str] = {}
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [tuple(normalize(cell.text) for cell in row.cells) for row in item.rows]
            if rows := [row for row in rows if any(row)]:
                yield table_block(rows)
            continue
        text = normalize(item.text)
        if not text:
            continue
        style_id = item._p.style
        if style_id not in style_names:
            found = item.style
            style_names[style_id] = (found.name if found is not None else "") or ""
        style = style_names[style_id]
        heading = re.fullmatch(r"Heading (\d)", style)
        numbered = item._p.pPr is not None and item._p.pPr.numPr is not None
        if style == "Title":
            yield Block(kind="heading", text=text, level=1)
        elif heading:
            yield Block(kind="heading", text=text, level=int(heading.group(1)))
        elif style.startswith("List") or numbered:
            yield Block(kind="list_item", text=text)
        else:
            yield Block(kind="paragraph", text=text)
