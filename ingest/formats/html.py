"""HTML: headings, paragraphs, list items and tables via BeautifulSoup and lxml; metadata from
`<meta name=...>` tags and `<title>`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from ingest.formats.common import (
    corrupt,
    normalize,
    table_block,
)
from ingest.limits import UploadLimits, capped, check_tag_count, too_large
from ingest.metadata import META_KEYS, RawMeta, normalize_key
from ingest.models import Block

_HTML_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd"}
    | {"mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
)
_HTML_DROP = ["script", "style", "nav", "noscript", "template", "svg"]


def parse(data: bytes, filename: str, limits: UploadLimits) -> tuple[RawMeta, list[Block]]:
    check_tag_count(data, limits, filename)
    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as e:  # lxml rarely fails, but a decoder error must not escape either
        raise corrupt("HTML", filename, e) from e
    raw: dict[str, str] = {}
    if soup.html is not None and (lang := soup.html.get("lang")):
        raw["language"] = str(lang)
    if soup.title is not None and soup.title.string:
        raw["title"] = normalize(soup.title.string)
    for meta in soup.find_all("meta"):
        name = normalize_key(str(meta.get("name") or ""))
        if name in META_KEYS:
            raw[name] = str(meta.get("content") or "")
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    walk = _HtmlWalk(limits=limits, filename=filename)
    return RawMeta(fields=raw), list(capped(walk.blocks(soup.body or soup), limits, filename))


class _HtmlWalk:
    """Blocks of a parsed page, refusing one nested deeper than ``limits.max_nesting``."""

    def __init__(self, *, limits: UploadLimits, filename: str) -> None:
        self._limits = limits
        self._filename = filename

    def blocks(self, element: Tag, depth: int = 0) -> Iterator[Block]:
        if depth > self._limits.max_nesting:
            raise too_large(
                f"elements nested more than {self._limits.max_nesting} deep", self._filename
            )
        return _html_blocks(element, lambda child: self.blocks(child, depth + 1))


def _html_blocks(element: Tag, descend: Callable[[Tag], Iterator[Block]]) -> Iterator[Block]:
    inline: list[str] = []  # loose text and inline tags directly inside a container
    for child in element.children:
        if isinstance(child, PreformattedString):  # comments, doctype, CDATA
            continue
        if isinstance(child, NavigableString) or (
            isinstance(child, Tag) and child.name in _HTML_INLINE
        ):
            inline.append(child.get_text())
            continue
        if not isinstance(child, Tag):
            continue
        if text := normalize("".join(inline)):
            yield Block(kind="paragraph", text=text)
        inline.clear()
        name = child.name
        if re.fullmatch(r"h[1-6]", name):
            if text := normalize(child.get_text()):
                yield Block(kind="heading", text=text, level=int(name[1]))
        elif name in ("p", "pre", "dt", "dd", "caption", "figcaption"):
            if text := normalize(child.get_text()):
                yield Block(kind="paragraph", text=text)
        elif name == "li":
            nested = [
                c for c in child.children if isinstance(c, Tag) and c.name in ("ul", "ol", "table")
            ]
            own = "".join(c.get_text() for c in child.children if c not in nested)
            if text := normalize(own):
                yield Block(kind="list_item", text=text)
            for sub in nested:
                yield from descend(sub) if sub.name != "table" else _html_table(sub)
        elif name == "table":
            yield from _html_table(child)
        else:
            yield from descend(child)
    if text := normalize("".join(inline)):
        yield Block(kind="paragraph", text=text)


def _html_table(table: Tag) -> Iterator[Block]:
    rows: list[tuple[str, ...]] = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:  # a nested table's row
            continue
        cells: list[str] = []
        for cell in tr.find_all(["th", "td"], recursive=False):
            span = str(cell.get("colspan") or "1")
            cells.extend([normalize(cell.get_text())] * (int(span) if span.isdigit() else 1))
        if any(cells):
            rows.append(tuple(cells))
    if rows:
        yield table_block(rows)
