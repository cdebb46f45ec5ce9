"""Markdown: headings, paragraphs, list items and pipe tables via markdown-it-py; metadata from
YAML front matter."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.formats.common import (
    decode_text,
    front_matter,
    normalize,
    table_block,
)
from ingest.limits import UploadLimits, check_text_elements
from ingest.metadata import RawMeta
from ingest.models import Block

_MARKDOWN = MarkdownIt("commonmark").enable("table")


def parse(data: bytes, filename: str, limits: UploadLimits) -> tuple[RawMeta, list[Block]]:
    raw, body = front_matter(decode_text(data, filename), filename)
    # markdown-it builds every token before the first is read: their number is checked first.
    check_text_elements(body, limits, filename, inline=True)
    blocks: list[Block] = []
    items: list[list[str]] = []  # text of each open list item, innermost last
    rows: list[tuple[str, ...]] | None = None
    row: list[str] = []
    heading_level = 0

    def flush_item() -> None:
        if items and (text := normalize(" ".join(items[-1]))):
            blocks.append(Block(kind="list_item", text=text))
        if items:
            items[-1].clear()

    for token in _MARKDOWN.parse(body):
        kind = token.type
        if kind == "heading_open":
            heading_level = int(token.tag[1])
        elif kind == "heading_close":
            heading_level = 0
        elif kind in ("bullet_list_open", "ordered_list_open"):
            flush_item()  # a parent item's own text comes before its nested items
        elif kind == "list_item_open":
            items.append([])
        elif kind == "list_item_close":
            flush_item()
            items.pop()
        elif kind == "table_open":
            rows = []
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and rows is not None:
            rows.append(tuple(row))
        elif kind == "table_close" and rows is not None:
            if rows := [r for r in rows if any(r)]:
                blocks.append(table_block(rows))
            rows = None
        elif kind in ("inline", "fence", "code_block"):
            text = _markdown_inline(token) if kind == "inline" else normalize(token.content)
            if rows is not None:
                row.append(text)
            elif heading_level and text:
                blocks.append(Block(kind="heading", text=text, level=heading_level))
            elif items:
                items[-1].append(text)
            elif text:
                blocks.append(Block(kind="paragraph", text=text))
    return raw, blocks


def _markdown_inline(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return normalize("".join(parts))
