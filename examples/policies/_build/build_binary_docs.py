#!/usr/bin/env python3
"""Regenerate the DOCX and PDF policy documents (and the _bad/ fixtures).

Sources live in _build/src/*.md. Each source is a small Markdown file with a
YAML-style front-matter block. The extra front-matter key ``output`` (docx|pdf)
selects the output format; it is not copied into the generated document.

Supported Markdown subset: ``#``/``##``/``###`` headings, paragraphs, ``-``/``*``
bullet lists, ``1.`` numbered lists and pipe tables (first row = header).

Generation-only dependencies (not needed by the Yatri runtime):
    pip install python-docx reportlab pypdf

Usage (from anywhere):
    python examples/policies/_build/build_binary_docs.py [--force-bad]

Output is byte-reproducible (fixed PDF/zip timestamps), except _bad/encrypted.pdf,
which is only rewritten when missing or when --force-bad is given.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "src"
OUT_DIR = HERE.parent
BAD_DIR = OUT_DIR / "_bad"

META_ORDER = ["doc_id", "title", "vertical", "supplier", "language", "version",
              "effective_date", "supersedes"]
AUTHOR = "Yatri content team"


# --------------------------------------------------------------------------- parsing
def parse_source(path: Path) -> tuple[dict, list[tuple]]:
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        raise ValueError(f"{path}: missing front matter")
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key.strip()] = value
    body = text[m.end():]

    blocks: list[tuple] = []
    lines = body.splitlines()
    i = 0
    para: list[str] = []

    def flush_para():
        if para:
            blocks.append(("p", " ".join(s.strip() for s in para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        hm = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if not stripped:
            flush_para()
            i += 1
        elif hm:
            flush_para()
            blocks.append(("h", len(hm.group(1)), hm.group(2).strip()))
            i += 1
        elif stripped.startswith("|"):
            flush_para()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append(("table", rows))
        elif re.match(r"^([-*]|\d+\.)\s+", stripped):
            flush_para()
            ordered = bool(re.match(r"^\d+\.", stripped))
            items = []
            while i < len(lines) and re.match(r"^([-*]|\d+\.)\s+", lines[i].strip()):
                items.append(re.sub(r"^([-*]|\d+\.)\s+", "", lines[i].strip()))
                i += 1
            blocks.append(("list", ordered, items))
        else:
            para.append(line)
            i += 1
    flush_para()
    return meta, blocks


def keywords(meta: dict) -> str:
    parts = [f"doc_id={meta['doc_id']}", f"version={meta['version']}",
             f"effective_date={meta['effective_date']}", f"supplier={meta.get('supplier', '')}"]
    if meta.get("supersedes"):
        parts.append(f"supersedes={meta['supersedes']}")
    return ";".join(parts)


def meta_lines(meta: dict) -> list[str]:
    return [f"{k}: {meta[k]}" for k in META_ORDER if k in meta and (meta[k] or k == "supplier")]


# --------------------------------------------------------------------------- DOCX
def build_docx(meta: dict, blocks: list[tuple], out: Path | io.BytesIO) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    cp = doc.core_properties
    cp.title = meta["title"]
    cp.subject = meta["vertical"]
    cp.keywords = keywords(meta)
    cp.author = AUTHOR
    cp.last_modified_by = AUTHOR
    cp.language = meta.get("language", "en")
    cp.category = "policy"
    cp.revision = int(meta["version"])
    eff = dt.datetime.strptime(meta["effective_date"], "%Y-%m-%d")
    cp.created = eff
    cp.modified = eff

    # Metadata block: first paragraph is "doc_id: ...", one field per paragraph.
    for line in meta_lines(meta):
        p = doc.add_paragraph(line)
        for run in p.runs:
            run.font.size = Pt(8)

    for block in blocks:
        kind = block[0]
        if kind == "h":
            doc.add_heading(block[2], level=block[1])
        elif kind == "p":
            doc.add_paragraph(block[1])
        elif kind == "list":
            style = "List Number" if block[1] else "List Bullet"
            for item in block[2]:
                doc.add_paragraph(item, style=style)
        elif kind == "table":
            rows = block[1]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell_text in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = cell_text
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
    buf = io.BytesIO()
    doc.save(buf)
    data = _normalise_zip(buf.getvalue())
    if isinstance(out, io.BytesIO):
        out.write(data)
    else:
        Path(out).write_bytes(data)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX zip with fixed timestamps so rebuilds are byte-identical."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- PDF
def build_pdf(meta: dict, blocks: list[tuple], out: Path) -> None:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (ListFlowable, ListItem, Paragraph, SimpleDocTemplate,
                                    Spacer, Table, TableStyle)
    from xml.sax.saxutils import escape

    styles = getSampleStyleSheet()
    small = ParagraphStyle("meta", parent=styles["Normal"], fontSize=7.5, leading=9,
                           textColor=colors.grey)
    cell_style = ParagraphStyle("cell", parent=styles["Normal"], fontSize=9, leading=11,
                                alignment=TA_LEFT)
    head_style = ParagraphStyle("cellhead", parent=cell_style, fontName="Helvetica-Bold")

    class OutlineDoc(SimpleDocTemplate):
        """Adds a PDF outline (bookmark) entry for every heading."""

        _n = 0

        def afterFlowable(self, flowable):
            if isinstance(flowable, Paragraph) and flowable.style.name in (
                    "Heading1", "Heading2", "Heading3"):
                level = int(flowable.style.name[-1]) - 1
                text = flowable.getPlainText()
                OutlineDoc._n += 1
                key = f"h{OutlineDoc._n}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(text, key, level=level, closed=False)

    doc = OutlineDoc(
        str(out), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
        topMargin=18 * mm, bottomMargin=18 * mm,
        title=meta["title"], subject=meta["vertical"], keywords=keywords(meta),
        author=AUTHOR, creator="Yatri content team build_binary_docs.py",
        lang=meta.get("language", "en"), invariant=1,
    )
    story = []
    # First line(s): metadata, one field per line, starting with doc_id.
    for line in meta_lines(meta):
        story.append(Paragraph(escape(line), small))
    story.append(Spacer(1, 6))

    for block in blocks:
        kind = block[0]
        if kind == "h":
            story.append(Paragraph(escape(block[2]), styles[f"Heading{block[1]}"]))
        elif kind == "p":
            story.append(Paragraph(escape(block[1]), styles["BodyText"]))
        elif kind == "list":
            items = [ListItem(Paragraph(escape(t), styles["BodyText"])) for t in block[2]]
            story.append(ListFlowable(items, bulletType="1" if block[1] else "bullet",
                                      leftIndent=12))
        elif kind == "table":
            rows = block[1]
            data = [[Paragraph(escape(c), head_style if r == 0 else cell_style) for c in row]
                    for r, row in enumerate(rows)]
            ncols = len(rows[0])
            width = A4[0] - 40 * mm
            t = Table(data, colWidths=[width / ncols] * ncols, repeatRows=1)
            t.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]))
            story.append(t)
            story.append(Spacer(1, 8))
    doc.build(story)


# --------------------------------------------------------------------------- _bad fixtures
def build_bad() -> None:
    BAD_DIR.mkdir(exist_ok=True)
    # 1. empty markdown file
    (BAD_DIR / "empty.md").write_bytes(b"")

    # 2. corrupt PDF: a PDF header followed by garbage bytes
    rng = random.Random(1234)
    garbage = bytes(rng.randrange(256) for _ in range(2048))
    (BAD_DIR / "corrupt.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + garbage)

    # 3. password-protected PDF (user password: yatri-secret). pypdf encryption
    #    uses random salts, so it is only rebuilt when missing or with --force-bad.
    if (BAD_DIR / "encrypted.pdf").exists() and "--force-bad" not in sys.argv:
        pass
    else:
        _write_encrypted_pdf()

    # 4. truncated DOCX: a valid DOCX cut to 40% of its length
    meta = {"doc_id": "broken-docx", "title": "Broken document", "vertical": "general",
            "supplier": "", "language": "en", "version": "1", "effective_date": "2025-01-01"}
    blocks = [("h", 1, "Broken document"),
              ("p", "This document was truncated on purpose to test per-file ingest errors.")]
    buf = io.BytesIO()
    build_docx(meta, blocks, buf)
    data = buf.getvalue()
    (BAD_DIR / "broken.docx").write_bytes(data[: int(len(data) * 0.4)])


def _write_encrypted_pdf() -> None:
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.setTitle("Confidential supplier rate sheet")
    c.drawString(72, 760, "doc_id: confidential-rate-sheet")
    c.drawString(72, 740, "Confidential supplier net rates. Not for distribution.")
    c.showPage()
    c.save()
    buf.seek(0)
    writer = PdfWriter(clone_from=PdfReader(buf))
    writer.encrypt(user_password="yatri-secret", owner_password="yatri-owner",
                   algorithm="AES-128")
    with open(BAD_DIR / "encrypted.pdf", "wb") as fh:
        writer.write(fh)


def main() -> int:
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        print(f"no sources in {SRC_DIR}", file=sys.stderr)
        return 1
    for src in sources:
        meta, blocks = parse_source(src)
        fmt = meta.pop("output", "").lower()
        missing = [k for k in ("doc_id", "title", "vertical", "language", "version",
                               "effective_date") if not meta.get(k)]
        if missing:
            raise ValueError(f"{src.name}: missing metadata {missing}")
        if fmt == "docx":
            out = OUT_DIR / f"{src.stem}.docx"
            build_docx(meta, blocks, out)
        elif fmt == "pdf":
            out = OUT_DIR / f"{src.stem}.pdf"
            build_pdf(meta, blocks, out)
        else:
            raise ValueError(f"{src.name}: front-matter 'output' must be docx or pdf")
        print(f"wrote {out.relative_to(OUT_DIR)}")
    build_bad()
    print(f"wrote fixtures in {BAD_DIR.relative_to(OUT_DIR)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
