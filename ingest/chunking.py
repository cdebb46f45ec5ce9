"""Split a ParsedDocument into retrievable chunks that follow its structure.

Text is grouped per section (the headings above it) up to a size limit, never cutting a sentence
or list item, and a table ends the text chunk before it; each table row becomes a self-contained
"Header: value; ..." chunk, and a table that fits also becomes one chunk of its own.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.injection import injection_flags
from ingest.models import Block, Chunk, ParsedDocument

# Fixed forever: chunk ids are uuid5 names in this namespace, so re-ingesting gives the same ids.
CHUNK_NAMESPACE = uuid.UUID("0d3c8a52-6f0e-4d57-9a1b-7c2e5b9f4e13")

_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "no", "nos", "rs", "mr", "mrs", "ms", "dr", "st", "vs", "approx"}
    | {"incl", "viz", "sr", "jr", "govt", "dept", "min", "max", "hrs", "yrs", "fig"}
)
_SENTENCE_BREAK = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True, slots=True)
class _Draft:
    section_path: tuple[str, ...]
    kind: Literal["text", "table_row", "table"]
    text: str


@dataclass(frozen=True, slots=True)
class _Piece:
    """A sentence, or a whole list item, of the text chunk being packed."""

    block: int  # index of its block within the section, so pieces re-join per paragraph
    text: str


def chunk_document(
    doc: ParsedDocument, *, max_chars: int = 900, overlap_sentences: int = 1
) -> list[Chunk]:
    """Chunks of `doc` in reading order; text chunks stay within `max_chars` where sentences allow."""
    if max_chars < 1 or overlap_sentences < 0:
        raise ValueError("max_chars must be positive and overlap_sentences not negative")
    drafts: list[_Draft] = []
    headings: list[tuple[int, str]] = []  # (level, text) of the open headings, outermost first
    section: list[Block] = []  # text blocks since the last heading or table

    def flush_text() -> None:
        path = tuple(text for _, text in headings)
        for text in _pack(section, max_chars=max_chars, overlap=overlap_sentences):
            drafts.append(_Draft(section_path=path, kind="text", text=text))
        section.clear()

    title_seen = False
    for block in doc.blocks:
        if block.kind == "heading":
            flush_text()
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            # The document title is the first level-1 heading (or one repeating the title);
            # every chunk carries the title anyway, so it stays out of the section path.
            is_title = block.level == 1 and (not title_seen or block.text == doc.meta.title)
            title_seen = True
            if not is_title:
                headings.append((block.level, block.text))
        elif block.kind == "table" and block.rows:
            flush_text()
            path = tuple(text for _, text in headings)
            drafts.extend(_table_drafts(block, section_path=path, max_chars=max_chars))
        else:
            section.append(block)
    flush_text()
    return [_chunk(doc, draft, ordinal=ordinal) for ordinal, draft in enumerate(drafts)]


def _chunk(doc: ParsedDocument, draft: _Draft, *, ordinal: int) -> Chunk:
    meta = doc.meta
    embed_text = " > ".join((meta.title, *draft.section_path)) + "\n" + draft.text
    content_hash = hashlib.sha256(embed_text.encode()).hexdigest()
    name = f"{meta.doc_id}:{meta.version}:{ordinal}:{content_hash}"
    return Chunk(
        chunk_id=str(uuid.uuid5(CHUNK_NAMESPACE, name)),
        doc_id=meta.doc_id,
        version=meta.version,
        ordinal=ordinal,
        section_path=draft.section_path,
        kind=draft.kind,
        text=draft.text,
        embed_text=embed_text,
        content_hash=content_hash,
        # All a citation shows is scanned: an instruction in a title or heading is one too.
        flags=injection_flags(draft.text, meta.title, meta.supplier or "", *draft.section_path),
    )


def _table_drafts(block: Block, *, section_path: tuple[str, ...], max_chars: int) -> list[_Draft]:
    header, *body = block.rows
    drafts = []
    if len(block.text) <= max_chars or not body:  # a header-only table has no rows to fall back on
        drafts.append(_Draft(section_path=section_path, kind="table", text=block.text))
    for row in body:
        drafts.append(
            _Draft(section_path=section_path, kind="table_row", text=_row_text(header, row))
        )
    return drafts


def _row_text(header: Sequence[str], row: Sequence[str]) -> str:
    """Render a row as "Header1: value1; Header2: value2" so that it still reads alone."""
    pairs = []
    for column, value in enumerate(row):
        name = header[column] if column < len(header) else ""
        if value:
            pairs.append(f"{name}: {value}" if name and name != value else value)
    return "; ".join(pairs)


def _pack(blocks: Sequence[Block], *, max_chars: int, overlap: int) -> list[str]:
    """Group paragraphs and list items into texts of at most `max_chars`.

    A block goes whole into the current text, or opens the next one; only a block longer than
    `max_chars` is spread over several, at sentence boundaries. A text that continues a block or
    section from the previous one repeats its last `overlap` sentences.
    """
    texts: list[str] = []
    current: list[_Piece] = []
    fresh = 0  # pieces in `current` not carried over from the previous text

    def fits(pieces: list[_Piece]) -> bool:
        return len(_render(pieces)) <= max_chars

    def emit_then_carry(following: list[_Piece]) -> None:
        nonlocal current, fresh
        texts.append(_render(current))
        carried = current[-overlap:] if overlap else []
        while carried and not fits(carried + following):
            carried = carried[1:]
        current, fresh = carried, 0

    for index, block in enumerate(blocks):
        if block.kind == "list_item":
            pieces = [_Piece(index, block.text)]
        else:
            pieces = [_Piece(index, sentence) for sentence in _sentences(block.text)]
        if fresh and not fits(current + pieces):
            emit_then_carry(pieces if fits(pieces) else pieces[:1])
        if fits(current + pieces):
            current += pieces
            fresh += len(pieces)
            continue
        # Longer than a chunk on its own: place it sentence by sentence.
        for piece in (part for unit in pieces for part in _split_long(unit, max_chars)):
            if fresh and not fits([*current, piece]):
                emit_then_carry([piece])
            current.append(piece)
            fresh += 1
    if fresh:
        texts.append(_render(current))
    return texts


def _split_long(piece: _Piece, max_chars: int) -> list[_Piece]:
    """Split a list item into sentences, and a sentence over `max_chars` at word boundaries."""
    parts = _sentences(piece.text) if len(piece.text) > max_chars else [piece.text]
    out: list[_Piece] = []
    for part in parts:
        # A run-on "sentence" longer than a chunk has no boundary left to respect but words.
        while len(part) > max_chars:
            cut = part.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            out.append(_Piece(piece.block, part[:cut].rstrip()))
            part = part[cut:].lstrip()
        if part:
            out.append(_Piece(piece.block, part))
    return out


def _render(pieces: Sequence[_Piece]) -> str:
    lines: list[str] = []
    for position, piece in enumerate(pieces):
        if position and pieces[position - 1].block == piece.block:
            lines[-1] += " " + piece.text
        else:
            lines.append(piece.text)
    return "\n".join(lines)


def _sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(text):
        words = text[start : match.start()].split()
        last_word = words[-1].lower().lstrip("\"'([") if words else ""
        # "e.g. Aadhaar", "No. 5", "A. Kumar": a period that ends an abbreviation, not a sentence.
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    if tail := text[start:].strip():
        sentences.append(tail)
    return sentences
