"""Loaders on the real sample corpus (examples/policies): metadata, structure, tables, bad files."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import docx
import pytest

from ingest.loaders import load_document
from ingest.models import Block, IngestError, IngestErrorReason, ParsedDocument, Vertical

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "policies"
SUFFIXES = {".md", ".txt", ".html", ".docx", ".pdf"}
FORMAT_OF = {".md": "markdown", ".txt": "text", ".html": "html", ".docx": "docx", ".pdf": "pdf"}


def corpus_files() -> list[Path]:
    """The 30 corpus documents: README.md, questions.jsonl, _build/ and _bad/ are not documents."""
    return sorted(
        path
        for path in CORPUS.iterdir()
        if path.is_file() and path.suffix in SUFFIXES and path.name != "README.md"
    )


def load(path: Path) -> ParsedDocument:
    return load_document(path.read_bytes(), filename=path.name, source_uri=path.as_uri())


@pytest.fixture(scope="module")
def corpus() -> dict[str, ParsedDocument]:
    return {path.stem: load(path) for path in corpus_files()}


def readme_rows() -> list[dict[str, str]]:
    """The README's table of documents, which states each one's metadata."""
    lines = (CORPUS / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| doc_id | format | vertical | title | effective | supersedes |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(
            dict(
                zip(
                    ("doc_id", "format", "vertical", "title", "effective", "supersedes"),
                    cells,
                    strict=True,
                )
            )
        )
    return rows


def table_with(doc: ParsedDocument, cell: str) -> Block:
    return next(b for b in doc.blocks if b.kind == "table" and any(cell in row for row in b.rows))


# --------------------------------------------------------------------------- metadata


def test_corpus_is_30_documents_in_five_formats(corpus: dict[str, ParsedDocument]) -> None:
    formats = [doc.meta.format for doc in corpus.values()]
    assert len(corpus) == 30
    assert {f: formats.count(f) for f in set(formats)} == {
        "markdown": 7,
        "text": 7,
        "html": 6,
        "docx": 5,
        "pdf": 5,
    }


@pytest.mark.parametrize("row", readme_rows(), ids=lambda row: row["doc_id"])
def test_metadata_matches_the_corpus_readme(
    corpus: dict[str, ParsedDocument], row: dict[str, str]
) -> None:
    meta = corpus[row["doc_id"]].meta
    assert meta.doc_id == row["doc_id"]
    assert meta.format == {"md": "markdown", "txt": "text"}.get(row["format"], row["format"])
    assert meta.vertical == Vertical(row["vertical"])
    assert meta.title == row["title"]
    assert meta.effective_date == dt.date.fromisoformat(row["effective"])
    assert meta.supersedes == (row["supersedes"] or None)
    assert meta.language == "en"


@pytest.mark.parametrize(
    ("doc_id", "version", "supplier"),
    [
        ("skyindia-baggage-2026", 2, "SkyIndia Airways"),  # markdown front matter
        ("staybright-cancellation-2026", 2, "StayBright Hotels & Resorts"),  # text front matter
        ("yatri-convenience-fees-2025", 1, None),  # supplier: "" in front matter
        ("tulsi-heritage-house-rules", 3, "Tulsi Heritage Stays"),  # <meta name=...>
        ("yatri-convenience-fees-2026", 2, None),  # <meta name="supplier" content="">
        ("indiglide-date-name-change", 1, "IndiGlide"),  # DOCX core properties keywords
        ("yatri-group-bookings", 1, None),
        ("rail-concessions-children", 1, "Indian Railways (IRCTC e-ticket)"),  # PDF info dict
        ("yatri-special-assistance", 1, None),
    ],
)
def test_version_and_supplier_per_format(
    corpus: dict[str, ParsedDocument], doc_id: str, version: int, supplier: str | None
) -> None:
    assert (corpus[doc_id].meta.version, corpus[doc_id].meta.supplier) == (version, supplier)


def test_every_document_opens_with_its_title_and_keeps_no_metadata_lines(
    corpus: dict[str, ParsedDocument],
) -> None:
    for doc in corpus.values():
        assert doc.blocks[0] == Block(kind="heading", text=doc.meta.title, level=1)
        assert not [b for b in doc.blocks if b.text.startswith(("doc_id", "effective_date:"))]


def test_content_hash_and_source_uri() -> None:
    path = CORPUS / "yatri-force-majeure.md"
    doc = load_document(path.read_bytes(), filename=path.name, source_uri="s3://policies/fm.md")
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.meta.source_uri == "s3://policies/fm.md"


def test_defaults_when_a_file_carries_no_metadata() -> None:
    data = b"Baggage Rules\n=============\n\nOne cabin bag of 7 kg is allowed.\n"
    doc = load_document(data, filename="My Policy (Draft).txt", source_uri="upload")
    meta = doc.meta
    assert (meta.doc_id, meta.title, meta.vertical) == (
        "my-policy-draft",
        "Baggage Rules",
        "general",
    )
    assert (meta.version, meta.language, meta.effective_date, meta.supplier) == (
        1,
        "en",
        None,
        None,
    )
    untitled = load_document(b"Just one line.", filename="notes.txt", source_uri="upload")
    assert untitled.meta.title == "notes"


def test_metadata_lines_in_a_docx_body_are_a_fallback_for_missing_properties() -> None:
    document = docx.Document()
    for line in ("doc_id: lounge-access", "vertical: flights", "version: 4"):
        document.add_paragraph(line)
    document.add_heading("Lounge Access", level=1)
    document.add_paragraph("Business class passengers may use the lounge.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = load_document(buffer.getvalue(), filename="x.docx", source_uri="upload")
    assert (doc.meta.doc_id, doc.meta.vertical, doc.meta.version) == ("lounge-access", "flights", 4)
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph"]


@pytest.mark.parametrize(
    ("filename", "data", "field", "kept"),
    [
        ("a.md", b"---\nversion: two\n---\n# T\n\nText.\n", "version", "two"),
        ("a.md", b"---\nversion: 0\n---\n# T\n\nText.\n", "version", "0"),
        ("a.md", b"---\nvertical: cruises\n---\n# T\n\nText.\n", "vertical", "cruises"),
        ("a.txt", b"---\neffective_date: 2025-13-01\n---\nText.\n", "effective_date", "2025-13-01"),
        (
            "a.html",
            b'<html><head><meta name="version" content="1.5"></head><body><p>x</p></body></html>',
            "version",
            "1.5",
        ),
        (
            "a.html",
            b'<html><head><meta name="language" content="Klingon"></head><body><p>x</p></body></html>',
            "language",
            "Klingon",
        ),
    ],
)
def test_metadata_values_that_are_not_their_fields_kind_are_kept_as_text(
    filename: str, data: bytes, field: str, kept: str
) -> None:
    doc = load_document(data, filename=filename, source_uri="upload")
    assert doc.meta.extra[field] == kept
    assert any(w.field == field and repr(kept) in w.detail for w in doc.warnings)


# --------------------------------------------------------------------------- structure


def test_pdf_headings_come_from_the_bookmarks(corpus: dict[str, ParsedDocument]) -> None:
    headings = [
        (b.level, b.text) for b in corpus["skyindia-infants-children"].blocks if b.kind == "heading"
    ]
    assert headings == [
        (1, "SkyIndia Airways Infants, Children and Expectant Mothers"),  # wraps over two lines
        (2, "Age Categories"),
        (2, "Infant Fares and Allowances"),
        (3, "Infant Fare"),
        (3, "Infant Baggage"),
        (3, "Infant Seating Rules"),
        (2, "Unaccompanied Minors"),
        (3, "Eligibility"),
        (3, "UMNR Service Charges"),
        (3, "Conditions"),  # first line of page 2
        (2, "Expectant Mothers"),
        (2, "Documents for Children"),
    ]


def test_pdf_paragraph_lines_are_joined(corpus: dict[str, ParsedDocument]) -> None:
    doc = corpus["yatri-bus-breakdown-delay"]
    assert (
        Block(
            kind="paragraph",
            text="If the passenger reached the boarding point after the bus left on time, it is a "
            "no-show and no refund is given.",
        )
        in doc.blocks
    )


def test_docx_keeps_document_order_of_headings_paragraphs_and_tables(
    corpus: dict[str, ParsedDocument],
) -> None:
    kinds = [(b.kind, b.level) for b in corpus["yatri-group-bookings"].blocks[:6]]
    assert kinds == [
        ("heading", 1),
        ("paragraph", 0),
        ("heading", 2),
        ("table", 0),
        ("paragraph", 0),
        ("heading", 2),
    ]


def test_docx_title_and_list_styles() -> None:
    document = docx.Document()
    document.add_heading("Pet Policy", level=0)  # the "Title" style
    document.add_paragraph("Accepted pets:")
    document.add_paragraph("Dogs up to 10 kg", style="List Bullet")
    document.add_paragraph("Cats", style="List Number")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = load_document(buffer.getvalue(), filename="pets.docx", source_uri="upload")
    assert doc.blocks == (
        Block(kind="heading", text="Pet Policy", level=1),
        Block(kind="paragraph", text="Accepted pets:"),
        Block(kind="list_item", text="Dogs up to 10 kg"),
        Block(kind="list_item", text="Cats"),
    )


def test_list_items_in_markdown_html_and_text(corpus: dict[str, ParsedDocument]) -> None:
    def items(doc_id: str) -> list[str]:
        return [b.text for b in corpus[doc_id].blocks if b.kind == "list_item"]

    assert items("yatri-force-majeure")[-3:] == [
        'Open the booking in My Trips and select "Raise a disruption request".',
        "Upload any supporting proof (screenshot of the airline SMS, government notice, news link).",
        "Yatri will reply within 48 hours with the options available.",
    ]
    assert len(items("yatri-convenience-fees-2026")) == 3
    assert items("yatri-refund-timelines-payment")[1] == (  # a numbered item wrapped over 2 lines
        "Yatri requests the refund from the supplier (airline, hotel, bus operator or IRCTC)."
    )
    assert items("rail-waitlist-rac-tdr") == [
        "Train late by more than 3 hours and passenger did not travel.",
        "AC failure in the coach during the journey.",
        "Passenger given a lower class than booked.",
        "Party partially travelled and the rest did not travel.",
    ]


def test_text_headings_from_underlines(corpus: dict[str, ParsedDocument]) -> None:
    headings = [
        (b.level, b.text) for b in corpus["neelkamal-travels-policy"].blocks if b.kind == "heading"
    ]
    assert headings[:5] == [
        (1, "NeelKamal Travels - Passenger Terms for Sleeper and Seater Buses"),
        (2, "Boarding"),
        (3, "Reporting time"),
        (3, "Boarding point changes"),
        (3, "ID proof"),
    ]


def test_text_headings_in_capitals_and_numbered_sections() -> None:
    data = (
        b"1. CANCELLATION\n\nFree up to 24 hours.\n\nLUGGAGE\n\nTwo bags. NOT MORE\nthan 20 kg.\n"
    )
    doc = load_document(data, filename="t.txt", source_uri="upload")
    assert doc.blocks == (
        Block(kind="heading", text="CANCELLATION", level=2),
        Block(kind="paragraph", text="Free up to 24 hours."),
        Block(kind="heading", text="LUGGAGE", level=2),
        Block(kind="paragraph", text="Two bags. NOT MORE than 20 kg."),
    )


def test_markdown_inline_markup_is_removed(corpus: dict[str, ParsedDocument]) -> None:
    texts = [b.text for b in corpus["yatri-force-majeure"].blocks]
    assert any("and overbooking are not force majeure;" in text for text in texts)
    assert not any("**" in text for text in texts)


def test_html_ignores_script_style_and_nav() -> None:
    data = b"""<html><head><title>Lounge</title><style>p {color: red}</style></head><body>
    <nav><a href="/">Home</a> <a href="/help">Help</a></nav>
    <h1>Lounge</h1><script>var tracking = 1;</script>
    <div>Loose text in a <b>div</b>.</div>
    <ul><li>Item one<ul><li>Nested</li></ul></li></ul>
    <table><thead><tr><th>Class</th><th>Access</th></tr></thead>
    <tbody><tr><td>Business</td><td>Free</td></tr></tbody></table></body></html>"""
    doc = load_document(data, filename="lounge.html", source_uri="upload")
    assert doc.meta.title == "Lounge"
    assert doc.blocks == (
        Block(kind="heading", text="Lounge", level=1),
        Block(kind="paragraph", text="Loose text in a div."),
        Block(kind="list_item", text="Item one"),
        Block(kind="list_item", text="Nested"),
        Block(
            kind="table",
            text="Class | Access\nBusiness | Free",
            rows=(("Class", "Access"), ("Business", "Free")),
        ),
    )


def test_windows_line_endings_parse_the_same(corpus: dict[str, ParsedDocument]) -> None:
    path = CORPUS / "staybright-cancellation-2026.txt"
    data = path.read_bytes().replace(b"\n", b"\r\n")
    doc = load_document(data, filename=path.name, source_uri="upload")
    assert doc.blocks == corpus["staybright-cancellation-2026"].blocks
    assert doc.meta.supersedes == "staybright-cancellation-2025"


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("doc_id", "header", "row"),
    [
        (
            "skyindia-infants-children",  # PDF, a cell wrapped over two lines
            ("Stage of pregnancy", "Domestic flights", "International flights"),
            (
                "28 to 35 weeks",
                "Fitness certificate needed",
                "Fitness certificate up to 32 weeks; not allowed after 32 weeks",
            ),
        ),
        (
            "yatri-group-bookings",  # DOCX
            ("Product", "Minimum group size", "Maximum per request"),
            ("Domestic flights", "10 passengers", "150 passengers"),
        ),
        (
            "tulsi-heritage-house-rules",  # HTML thead/tbody
            ("Cancellation received", "Standard rate", "Festival and peak dates"),
            ("7 to 14 days before check-in", "1 night's charge", "50% of total booking value"),
        ),
        (
            "skyindia-baggage-2026",  # Markdown pipe table
            ("Fare family", "Free checked allowance", "Maximum per piece"),
            ("Economy Lite", "Nil (cabin bag only)", "32 kg"),
        ),
        (
            "neelkamal-travels-policy",  # text +---+ grid
            ("Time before departure", "Cancellation charge"),
            ("8 to 24 hours", "35% of ticket fare"),
        ),
    ],
)
def test_tables_are_kept_as_rows_with_the_header_first(
    corpus: dict[str, ParsedDocument], doc_id: str, header: tuple[str, ...], row: tuple[str, ...]
) -> None:
    doc = corpus[doc_id]
    table = table_with(doc, row[0])
    assert table.rows[0] == header
    assert row in table.rows
    assert " | ".join(row) in table.text.splitlines()
    # The table's text is not repeated as paragraphs.
    assert not [
        b for b in doc.blocks if b.kind != "table" and row[0] in b.text and row[1] in b.text
    ]


def test_every_corpus_table_is_rectangular(corpus: dict[str, ParsedDocument]) -> None:
    tables = [b for doc in corpus.values() for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 53
    for table in tables:
        assert len(table.rows) >= 2
        assert len({len(row) for row in table.rows}) == 1, table.text


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.md", IngestErrorReason.EMPTY),
        ("corrupt.pdf", IngestErrorReason.CORRUPT),
        ("encrypted.pdf", IngestErrorReason.ENCRYPTED),
        ("broken.docx", IngestErrorReason.CORRUPT),
    ],
)
def test_bad_fixtures_fail_with_their_reason(name: str, reason: IngestErrorReason) -> None:
    path = CORPUS / "_bad" / name
    with pytest.raises(IngestError) as caught:
        load(path)
    assert caught.value.reason is reason
    assert caught.value.filename == name
    assert caught.value.extensions == {"reason": reason.value, "filename": name}
    if reason is IngestErrorReason.CORRUPT:
        assert caught.value.__cause__ is not None  # the library error is chained, not lost


@pytest.mark.parametrize("filename", ["rates.xlsx", "policy.doc", "README", "notes.rtf"])
def test_unsupported_extensions(filename: str) -> None:
    with pytest.raises(IngestError) as caught:
        load_document(b"some bytes", filename=filename, source_uri="upload")
    assert caught.value.reason is IngestErrorReason.UNSUPPORTED


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("blank.txt", b"  \n\n\t\n"),
        ("only-meta.md", b"---\ndoc_id: x\n---\n"),
        ("only-heading.md", b"# Title\n"),
        ("empty.html", b"<html><body><script>x()</script></body></html>"),
    ],
)
def test_files_without_text_are_empty(filename: str, data: bytes) -> None:
    with pytest.raises(IngestError) as caught:
        load_document(data, filename=filename, source_uri="upload")
    assert caught.value.reason is IngestErrorReason.EMPTY


def test_text_that_is_not_utf8_is_corrupt() -> None:
    with pytest.raises(IngestError) as caught:
        load_document(b"Caf\xe9 rules\xff\xfe", filename="cafe.txt", source_uri="upload")
    assert caught.value.reason is IngestErrorReason.CORRUPT


def test_pdf_without_bookmarks_takes_headings_from_font_size(tmp_path: Path) -> None:
    canvas = pytest.importorskip(  # PDF writer, generation-only
        "reportlab.pdfgen.canvas", reason="pip install -e '.[dev]' (reportlab, in the dev extra)"
    )
    path = tmp_path / "plain.pdf"
    pdf = canvas.Canvas(str(path))
    for y, size, text in [
        (780, 18, "Lounge Policy"),
        (750, 14, "Access"),
        (730, 10, "Business class passengers may use the lounge."),
        (700, 14, "Guests"),
        (680, 10, "One guest is allowed for a fee."),
    ]:
        pdf.setFont("Helvetica", size)
        pdf.drawString(72, y, text)
    pdf.save()
    doc = load(path)
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "Lounge Policy"),
        ("heading", 2, "Access"),
        ("paragraph", 0, "Business class passengers may use the lounge."),
        ("heading", 2, "Guests"),
        ("paragraph", 0, "One guest is allowed for a fee."),
    ]
