"""Crafted documents for the upload-limit tests and bench/upload_bombs.py: a DOCX rebuilt with
another body or extra entries, a zip, and a PDF written by hand (one page per content stream)."""

from __future__ import annotations

import io
import zipfile
import zlib


def rezip_docx(
    data: bytes,
    *,
    body: bytes | None = None,
    extra: dict[str, bytes] | None = None,
    stored: bool = False,
) -> bytes:
    """``data`` (a DOCX) with its body's paragraphs replaced by ``body`` and ``extra`` entries
    added; deflated at the highest level unless ``stored``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w", method, compresslevel=9) as archive:
        for info in source.infolist():
            part = source.read(info.filename)
            if body is not None and info.filename == "word/document.xml":
                head, opening, rest = part.partition(b"<w:body>")
                _, section, tail = rest.partition(b"<w:sectPr")
                part = head + opening + body + section + tail
            archive.writestr(info.filename, part)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def pdf_bytes(contents: list[bytes]) -> bytes:
    """A PDF of one page per content stream in ``contents``, each FlateDecode, Helvetica as F1."""
    pages = range(len(contents))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in pages), len(contents)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, content in enumerate(contents):
        stream = zlib.compress(content, 9)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
            + b"\nendstream"
        )  # fmt: skip
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()
