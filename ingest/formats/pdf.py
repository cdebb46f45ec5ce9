"""PDF: text and ruled tables via pdfplumber, headings from the outline (or font size), metadata
from the info dict; pypdf tells an encrypted file from a damaged one, and counts the pages,
objects and decoded stream bytes against the upload limits before pdfplumber reads a page."""

from __future__ import annotations

import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pdfplumber
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from ingest.formats.common import (
    corrupt,
    normalize,
    property_meta,
    table_block,
    take_meta_lines,
)
from ingest.limits import UploadLimits, capped, too_large
from ingest.metadata import RawMeta
from ingest.models import Block, IngestError, IngestErrorReason


@dataclass(frozen=True, slots=True)
class _PdfLine:
    text: str
    page: int
    top: float
    bottom: float
    size: float
    font: str


@dataclass(frozen=True, slots=True)
class _PdfTable:
    rows: tuple[tuple[str, ...], ...]
    page: int
    top: float


_BULLET = re.compile(r"[\u2022\u25cf\u25aa\u2013*-]\s+(\S.*)")
_PAGE_NUMBER = re.compile(r"(?:page\s*)?\d+(?:\s*(?:of|/)\s*\d+)?", re.I)


def parse(data: bytes, filename: str, limits: UploadLimits) -> tuple[RawMeta, list[Block]]:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as e:  # pypdf raises many exception types on malformed input
        raise corrupt("PDF", filename, e) from e
    if encrypted:
        try:
            unlocked = bool(reader.decrypt(""))  # an empty user password still opens the file
        except Exception as e:  # an unsupported cipher is as unreadable as a wrong password
            raise IngestError(str(e), reason=IngestErrorReason.ENCRYPTED, filename=filename) from e
        if not unlocked:
            raise IngestError(
                "PDF is password-protected", reason=IngestErrorReason.ENCRYPTED, filename=filename
            )
    try:
        _check_limits(reader, limits, filename)
        info = reader.metadata
        primary: dict[str, str] = {}
        if info is not None:
            primary = property_meta(title=info.title, subject=info.subject, keywords=info.keywords)
        outline = _pdf_outline(reader.outline, depth=1)
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            items = list(capped(_pdf_items(pdf), limits, filename))
    except IngestError:
        raise
    except Exception as e:  # pdfminer, like pypdf, fails in many ways on a damaged file
        raise corrupt("PDF", filename, e) from e
    items = [i for i in items if not (isinstance(i, _PdfLine) and _PAGE_NUMBER.fullmatch(i.text))]
    body_meta, taken = take_meta_lines([i.text if isinstance(i, _PdfLine) else "" for i in items])
    fields = body_meta | {k: v for k, v in primary.items() if v}
    return RawMeta(fields=fields), _pdf_blocks(items[taken:], outline)


def _check_limits(reader: PdfReader, limits: UploadLimits, filename: str) -> None:
    """Refuse a PDF with too many objects or pages, or whose streams (text, forms, fonts; not
    images, which are never decoded here) decode past ``max_expanded_bytes``. Pages are the
    file's page objects, counted, not its page tree's /Count (which can lie, and pdfminer finds
    the page objects without the tree)."""
    refs = [(idnum, generation) for generation, entries in reader.xref.items() for idnum in entries]
    refs += [(idnum, 0) for idnum in reader.xref_objStm]
    if len(refs) > limits.max_pdf_objects:
        raise too_large(
            f"PDF has {len(refs)} objects, more than {limits.max_pdf_objects}", filename
        )
    pages, budget = 0, limits.max_expanded_bytes
    for idnum, generation in refs:
        obj = IndirectObject(idnum, generation, reader).get_object()
        if not isinstance(obj, DictionaryObject):
            continue
        if obj.get("/Type") == "/Page":
            pages += 1
            if pages > limits.max_pdf_pages:
                raise too_large(f"PDF has more than {limits.max_pdf_pages} pages", filename)
        if isinstance(obj, StreamObject) and obj.get("/Subtype") != "/Image":
            budget -= _decoded_size(obj, budget)
            if budget < 0:
                raise too_large(
                    f"PDF streams decode past {limits.max_expanded_bytes // 2**20} MiB", filename
                )


def _decoded_size(stream: StreamObject, budget: int) -> int:
    """What ``stream`` decodes to, counted up to just past ``budget``; a FlateDecode stream is
    decompressed into a counter, never held whole."""
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, ArrayObject) else [str(filters)]
    # The stream's bytes as stored (decrypted when the file was); pypdf has no public name for it.
    raw: bytes = stream._data
    if filters is None:
        return len(raw)
    if names == ["/FlateDecode"]:
        decompressor, size, pending = zlib.decompressobj(), 0, raw
        try:
            while pending and size <= budget:
                size += len(decompressor.decompress(pending, 2**20))
                pending = decompressor.unconsumed_tail
        except zlib.error:
            pass  # a damaged stream decodes to what came before the damage
        return size
    # Other filters (and chains) through pypdf's decoders, which cap each stream's output.
    try:
        return len(stream.get_data())
    except Exception:  # an undecodable stream is pdfminer's to skip
        return len(raw)


def _pdf_items(pdf: Any) -> Iterator[_PdfLine | _PdfTable]:
    """Every page's items in reading order; each page's parsed objects are let go after it."""
    for page in pdf.pages:
        yield from _pdf_page_items(page)
        page.close()


def _pdf_outline(nodes: Sequence[Any], *, depth: int) -> list[tuple[int, str]]:
    """(level, title) of every bookmark in reading order; a nested list holds the children."""
    entries: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, list):
            entries += _pdf_outline(node, depth=depth + 1)
        else:
            entries.append((depth, normalize(str(node.title))))
    return entries


def _pdf_page_items(page: Any) -> list[_PdfLine | _PdfTable]:
    """The page's tables and its text lines outside them, top to bottom."""
    tables = page.find_tables()
    boxes = [table.bbox for table in tables]

    def outside_tables(obj: dict[str, Any]) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    items: list[_PdfLine | _PdfTable] = []
    for table in tables:
        rows = tuple(tuple(normalize(cell or "") for cell in row) for row in table.extract())
        if rows := tuple(row for row in rows if any(row)):
            items.append(_PdfTable(rows=rows, page=page.page_number, top=table.bbox[1]))
    for line in (page.filter(outside_tables) if boxes else page).extract_text_lines():
        chars = line["chars"]
        items.append(
            _PdfLine(
                text=normalize(line["text"]),
                page=page.page_number,
                top=line["top"],
                bottom=line["bottom"],
                size=round(max(char["size"] for char in chars), 1),
                font=chars[0]["fontname"],
            )
        )
    return sorted(items, key=lambda item: item.top)


def _pdf_blocks(
    items: Sequence[_PdfLine | _PdfTable], outline: Sequence[tuple[int, str]]
) -> list[Block]:
    """Group lines into paragraphs; headings come from the outline, or from font size without one."""
    runs = _pdf_runs(items)
    sizes: Counter[float] = Counter()  # characters per font size: the body's size has the most
    for run in runs:
        for line in run if isinstance(run, list) else ():
            sizes[line.size] += len(line.text)
    body_size = sizes.most_common(1)[0][0] if sizes else 0.0
    heading_sizes = sorted((size for size in sizes if size >= body_size + 1), reverse=True)
    pending = list(outline)  # bookmarks not yet matched, in reading order
    size_levels: dict[float, int] = {}  # font size -> level, learnt from bookmarked headings
    blocks: list[Block] = []
    for run in runs:
        if isinstance(run, _PdfTable):
            blocks.append(table_block(run.rows))
            continue
        text = normalize(" ".join(line.text for line in run))
        size = run[0].size
        if level := _match_outline(text, pending):
            size_levels.setdefault(size, level)
        elif size in heading_sizes and len(text) <= 200:
            # Not bookmarked (or no outline at all): a larger font than the body is a heading.
            level = size_levels.get(size) or min(heading_sizes.index(size) + 1, 6)
        if level:
            blocks.append(Block(kind="heading", text=text, level=level))
        elif bullet := _BULLET.fullmatch(text):
            blocks.append(Block(kind="list_item", text=bullet.group(1)))
        else:
            blocks.append(Block(kind="paragraph", text=text))
    return blocks


def _match_outline(text: str, pending: list[tuple[int, str]]) -> int:
    """Level of the bookmark among the next few that `text` is, consuming it; 0 if none."""
    for index, (level, title) in enumerate(pending[:3]):
        if title.casefold() == text.casefold():
            del pending[: index + 1]
            return level
    return 0


def _pdf_runs(items: Sequence[_PdfLine | _PdfTable]) -> list[list[_PdfLine] | _PdfTable]:
    """Consecutive lines of one style and spacing form a run; a table split by a page joins up."""
    runs: list[list[_PdfLine] | _PdfTable] = []
    for item in items:
        last = runs[-1] if runs else None
        if isinstance(item, _PdfTable):
            if (
                isinstance(last, _PdfTable)
                and item.page == last.page + 1
                and len(item.rows[0]) == len(last.rows[0])
            ):
                # The continuation repeats the header row (reportlab repeatRows, Word's option).
                more = item.rows[1:] if item.rows[0] == last.rows[0] else item.rows
                runs[-1] = _PdfTable(rows=last.rows + more, page=item.page, top=last.top)
            else:
                runs.append(item)
        elif isinstance(last, list) and _continues(last[-1], item):
            last.append(item)
        else:
            runs.append([item])
    return runs


def _continues(previous: _PdfLine, line: _PdfLine) -> bool:
    if (previous.size, previous.font) != (line.size, line.font) or _BULLET.fullmatch(line.text):
        return False
    if line.page == previous.page:
        return line.top - previous.bottom <= 0.6 * line.size
    # A paragraph broken by a page ends its first part mid-sentence.
    return line.page == previous.page + 1 and not previous.text.endswith((".", "!", "?", ":"))
