"""What one uploaded document may cost to parse, checked before any parser builds a tree: the
bytes as uploaded, what a container (a DOCX's zip, a PDF's streams) expands to, how many entries
and containers inside containers it holds, and how many blocks and markup elements a text
format carries. A file over a limit fails alone (``too_large``) and fast: the checks read a zip's
central directory, count characters, or decompress into a counter, never into a parser.

Measured costs these defaults bound (bench/upload_bombs.py): python-docx keeps ~20 bytes of tree
per byte of XML; BeautifulSoup and markdown-it ~1 KB per element or token.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ingest.models import IngestError, IngestErrorReason

MIB = 2**20

T = TypeVar("T")

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP_MAGIC = b"PK\x03\x04"
_MARKUP_SUFFIXES = (".xml", ".rels")
# Below this an entry's ratio is not judged: a small run of padding compresses far.
_RATIO_FLOOR_BYTES = MIB
# A line that starts a block in Markdown or plain text: after a blank line, or a block marker.
_BLOCK_MARKER = re.compile(r"[ \t]*(?:[#>|*+-]|\d{1,9}[.)])")
_INLINE_MARKS = "*_`[<|"


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Per-file limits of an upload; the first three are settings (YATRI_UPLOAD_...)."""

    max_bytes: int = 20 * MIB  # the file as uploaded (also the document API's request body)
    max_expanded_bytes: int = 64 * MIB  # a container decompressed: zip entries, PDF streams
    max_pdf_pages: int = 2_000
    max_markup_bytes: int = 16 * MIB  # the XML a DOCX's parser builds trees of
    max_elements: int = 200_000  # blocks, and markup elements (tags, inline marks)
    max_entries: int = 1_000  # entries of one zip container
    max_ratio: int = 100  # a zip entry's uncompressed to compressed size, above 1 MiB
    max_containers: int = 2  # a container, and containers inside it (an embedded workbook)
    max_nesting: int = 64  # depth of nested markup elements (HTML)
    max_pdf_objects: int = 100_000


def too_large(detail: str, filename: str) -> IngestError:
    return IngestError(detail, reason=IngestErrorReason.TOO_LARGE, filename=filename)


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n >= MIB else f"{n} bytes"


def check_size(data: bytes, limits: UploadLimits, filename: str) -> None:
    if len(data) > limits.max_bytes:
        raise too_large(f"file exceeds {_size(limits.max_bytes)}", filename)


def capped(items: Iterable[T], limits: UploadLimits, filename: str) -> Iterator[T]:
    """``items``, refusing the document past ``limits.max_elements`` of them."""
    for count, item in enumerate(items, start=1):
        if count > limits.max_elements:
            raise too_large(f"more than {limits.max_elements} blocks", filename)
        yield item


def check_text_elements(text: str, limits: UploadLimits, filename: str, *, inline: bool) -> None:
    """Refuse Markdown or plain text whose blocks (and, with ``inline``, inline marks such as
    emphasis, links and table cells) would outnumber ``max_elements``, before it is parsed."""
    count = sum(text.count(mark) for mark in _INLINE_MARKS) if inline else 0
    after_blank = True
    for line in text.splitlines():
        if not line.strip():
            after_blank = True
            continue
        if after_blank or _BLOCK_MARKER.match(line):
            count += 1
        after_blank = False
        if count > limits.max_elements:
            raise too_large(f"more than {limits.max_elements} blocks and inline marks", filename)
    if count > limits.max_elements:
        raise too_large(f"more than {limits.max_elements} blocks and inline marks", filename)


def check_tag_count(data: bytes, limits: UploadLimits, filename: str) -> None:
    """Refuse HTML with more tags than ``max_elements`` before a tree is built of them."""
    if data.count(b"<") > 2 * limits.max_elements:  # an element opens and closes
        raise too_large(f"more than {limits.max_elements} elements", filename)


def check_zip(data: bytes, limits: UploadLimits, filename: str, *, kind: str) -> None:
    """Refuse a zip container (DOCX) whose entries are too many, expand too far (in total, as
    XML, or by ratio), or nest containers too deep. Reads the central directory's declared sizes,
    which bound what Python's zipfile will ever return for an entry, so nothing is expanded to
    check them except a nested container's own directory."""
    totals = _ZipTotals()
    _check_container(data, limits, filename, kind=kind, depth=1, totals=totals)


@dataclass(slots=True)
class _ZipTotals:
    expanded: int = 0
    markup: int = 0


def _check_container(
    data: bytes, limits: UploadLimits, filename: str, *, kind: str, depth: int, totals: _ZipTotals
) -> None:
    declared = declared_entries(data)
    if declared is not None and declared > limits.max_entries:
        raise too_large(f"{kind} has {declared} entries, more than {limits.max_entries}", filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as e:
        raise IngestError(
            f"unreadable {kind}: {type(e).__name__}: {e}",
            reason=IngestErrorReason.CORRUPT,
            filename=filename,
        ) from e
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise too_large(
                f"{kind} has {len(entries)} entries, more than {limits.max_entries}", filename
            )
        nested: list[zipfile.ZipInfo] = []
        for entry in entries:
            totals.expanded += entry.file_size
            if entry.filename.lower().endswith(_MARKUP_SUFFIXES):
                totals.markup += entry.file_size
            elif entry.file_size >= len(_ZIP_MAGIC) and _starts_a_zip(archive, entry):
                nested.append(entry)
            ratio = entry.file_size // max(entry.compress_size, 1)
            if entry.file_size > _RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
                raise too_large(f"{kind} entry {entry.filename!r} expands {ratio} times, more "
                                f"than {limits.max_ratio}", filename)  # fmt: skip
        if totals.expanded > limits.max_expanded_bytes:
            raise too_large(f"{kind} expands past {_size(limits.max_expanded_bytes)}", filename)
        if totals.markup > limits.max_markup_bytes:
            raise too_large(f"{kind} holds more than {_size(limits.max_markup_bytes)} of XML",
                            filename)  # fmt: skip
        for entry in nested:
            if depth >= limits.max_containers:
                raise too_large(
                    f"{kind} nests containers more than {limits.max_containers} deep "
                    f"({entry.filename!r})",
                    filename,
                )
            _check_container(archive.read(entry), limits, filename, kind=kind, depth=depth + 1,
                             totals=totals)  # fmt: skip


def _starts_a_zip(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bool:
    try:
        with archive.open(entry) as stream:
            return stream.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError):
        return False  # an entry that cannot be read is the parser's to report


def declared_entries(data: bytes) -> int | None:
    """The entry count a zip's end-of-central-directory record declares (zip64 too), read
    before the directory itself is parsed; None when there is no such record."""
    at = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or at + 22 > len(data):
        return None
    count: int = struct.unpack_from("<H", data, at + 10)[0]
    locator = at - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        record: int = struct.unpack_from("<Q", data, locator + 8)[0]
        if 0 <= record <= len(data) - 40:
            zip64_count: int = struct.unpack_from("<Q", data, record + 32)[0]
            return zip64_count
    return count
