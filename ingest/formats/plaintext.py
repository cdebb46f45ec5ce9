"""Plain text: YAML front matter, then headings, lists and ASCII tables found by layout
(underlined or ALL CAPS headings, `+---+` grid and `| a | b |` tables)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from ingest.formats.common import (
    decode_text,
    front_matter,
    normalize,
    table_block,
)
from ingest.limits import UploadLimits, check_text_elements
from ingest.metadata import RawMeta
from ingest.models import Block

_UNDERLINE_LEVEL = {"=": 1, "-": 2, "~": 3}
_GRID_BORDER = re.compile(r"\+(?:[-=:]+\+)+")
_PIPE_ROW = re.compile(r"\|.*\|")
_PIPE_RULE = re.compile(r"\|?(?:\s*:?-{3,}:?\s*\|)+(?:\s*:?-{3,}:?\s*)?")
_BULLET_ITEM = re.compile(r"[*\-\u2022]\s+(\S.*)")
_NUMBERED_ITEM = re.compile(r"\d{1,2}[.)]\s+(\S.*)")
_NUMBERED_HEADING = re.compile(r"(\d+(?:\.\d+)*)\.?\s+([^a-z]*[A-Z][^a-z]*)")


def parse(data: bytes, filename: str, limits: UploadLimits) -> tuple[RawMeta, list[Block]]:
    raw, body = front_matter(decode_text(data, filename), filename)
    check_text_elements(body, limits, filename, inline=False)
    return raw, _text_blocks(body.splitlines())


def _text_blocks(lines: Sequence[str]) -> list[Block]:
    blocks: list[Block] = []
    buffer: list[str] = []  # lines of the open paragraph or list item
    buffer_kind: Literal["paragraph", "list_item"] = "paragraph"

    def flush() -> None:
        if text := normalize(" ".join(buffer)):
            blocks.append(Block(kind=buffer_kind, text=text))
        buffer.clear()

    i = 0
    while i < len(lines):
        line = lines[i].strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        starts_block = not buffer
        i += 1
        if not line:
            flush()
        elif len(following) >= 3 and len(set(following)) == 1 and following[0] in _UNDERLINE_LEVEL:
            flush()
            blocks.append(Block(kind="heading", text=line, level=_UNDERLINE_LEVEL[following[0]]))
            i += 1
        elif _GRID_BORDER.fullmatch(line) or _PIPE_ROW.fullmatch(line):
            flush()
            end = i
            while end < len(lines) and (
                _GRID_BORDER.fullmatch(s := lines[end].strip()) or _PIPE_ROW.fullmatch(s)
            ):
                end += 1
            if rows := _ascii_table_rows([ln.strip() for ln in lines[i - 1 : end]]):
                blocks.append(table_block(rows))
            i = end
        elif starts_block and not following and (numbered := _NUMBERED_HEADING.fullmatch(line)):
            blocks.append(
                Block(
                    kind="heading",
                    text=numbered.group(2).strip(),
                    level=2 + numbered.group(1).count("."),
                )
            )
        elif starts_block and not following and line.isupper() and len(line) <= 80:
            blocks.append(Block(kind="heading", text=line.rstrip(":"), level=2))
        elif (item := _BULLET_ITEM.fullmatch(line)) or (
            # "2. working days" inside a wrapped paragraph is not a list item.
            (starts_block or buffer_kind == "list_item")
            and (item := _NUMBERED_ITEM.fullmatch(line))
        ):
            flush()
            buffer_kind = "list_item"
            buffer.append(item.group(1))
        else:
            if starts_block:
                buffer_kind = "paragraph"
            buffer.append(line)
    flush()
    return blocks


def _ascii_table_rows(lines: Sequence[str]) -> list[tuple[str, ...]]:
    """Rows of a `+---+` grid or `| a | b |` table; the first row is the header.

    When borders separate every row (RST-style grid), the lines between two borders are one row
    whose cells wrap; with borders only around the header, each line is a row.
    """
    segments: list[list[str]] = [[]]
    for line in lines:
        if _GRID_BORDER.fullmatch(line) or _PIPE_RULE.fullmatch(line):
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(line)
    segments = [s for s in segments if s]
    physical = [line for segment in segments for line in segment]
    logical = segments if len(segments) > 2 else [[line] for line in physical]
    rows: list[tuple[str, ...]] = []
    for group in logical:
        split = [[c.strip() for c in line.strip("|").split("|")] for line in group]
        width = max(len(cells) for cells in split)
        merged = tuple(
            normalize(" ".join(cells[col] for cells in split if col < len(cells)))
            for col in range(width)
        )
        if any(merged):
            rows.append(merged)
    return rows
