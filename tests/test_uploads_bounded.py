"""Uploads are bounded: a crafted file (a zip bomb DOCX, a PDF whose streams or pages run away,
markup with too many elements or nested too deep) fails alone as ``too_large`` before a parser
builds it, and the API, ingest and the CLI agree on one upload size."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import docx
import httpx
import pytest
from typer.testing import CliRunner

from api.commands import cli
from api.content_cli import DEFAULT_MAX_BYTES
from api.routes.knowledge import MULTIPART_ALLOWANCE
from core.embedded import free_port
from core.settings import Settings
from ingest.limits import MIB, UploadLimits, declared_entries
from ingest.loaders import load_document
from ingest.models import IngestError, IngestErrorReason
from tests.upload_support import pdf_bytes, rezip_docx, zip_bytes

AUTH = {"authorization": "Bearer dev-content-key"}
PARAGRAPH = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"


def _docx(paragraphs: int = 3) -> bytes:
    document = docx.Document()
    document.add_heading("Lounge Access", level=1)
    for i in range(paragraphs):
        document.add_paragraph(f"Rule {i}: business class passengers may use the lounge.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _refused(data: bytes, filename: str, limits: UploadLimits | None = None) -> str:
    with pytest.raises(IngestError) as caught:
        load_document(data, filename=filename, source_uri="upload", limits=limits)
    assert caught.value.reason is IngestErrorReason.TOO_LARGE, caught.value.detail
    return caught.value.detail


# --------------------------------------------------------------------------- DOCX and zip


def test_a_docx_zip_bomb_is_refused_before_it_is_parsed() -> None:
    # 60,000 one-letter paragraphs: 2 MiB of XML in a few KiB (the finding's shape, smaller).
    bomb = rezip_docx(_docx(), body=PARAGRAPH * 60_000)
    assert len(bomb) < 64 * 1024
    detail = _refused(bomb, "bomb.docx")
    assert "word/document.xml" in detail and "expands" in detail


def test_a_docx_expanding_past_the_limits_is_refused() -> None:
    media = bytes(range(256)) * (6 * 4096)  # 6 MiB, stored: it compresses nowhere
    big = rezip_docx(_docx(), extra={"word/media/scan.bin": media}, stored=True)
    assert "expands past 4 MiB" in _refused(
        big, "scan.docx", UploadLimits(max_expanded_bytes=4 * MIB)
    )
    xml = rezip_docx(_docx(paragraphs=2000))
    assert "of XML" in _refused(xml, "long.docx", UploadLimits(max_markup_bytes=64 * 1024))


def test_a_zip_with_too_many_entries_is_refused_from_its_directory() -> None:
    many = rezip_docx(_docx(), extra={f"customXml/item{i}.bin": b"x" for i in range(1_001)})
    assert declared_entries(many) == len(zipfile.ZipFile(io.BytesIO(many)).infolist())
    assert "more than 1000" in _refused(many, "many.docx")


def test_containers_nest_one_level_deep_at_most() -> None:
    workbook = zip_bytes({"xl/workbook.xml": b"<workbook/>"})
    embedded = rezip_docx(_docx(), extra={"word/embeddings/sheet.xlsx": workbook})
    assert load_document(embedded, filename="chart.docx", source_uri="upload").blocks
    deeper = zip_bytes({"xl/workbook.xml": b"<workbook/>", "xl/embeddings/inner.zip": workbook})
    nested = rezip_docx(_docx(), extra={"word/embeddings/sheet.xlsx": deeper})
    assert "nests containers" in _refused(nested, "nested.docx")


def test_an_ordinary_long_docx_is_parsed_in_full() -> None:
    doc = load_document(_docx(paragraphs=3000), filename="long.docx", source_uri="upload")
    assert len(doc.blocks) == 3001


# --------------------------------------------------------------------------- PDF


def test_a_pdf_whose_streams_decode_too_far_is_refused() -> None:
    content = b"BT /F1 12 Tf 72 700 Td (Refunds) Tj ET\n" + b" " * (3 * MIB)
    bomb = pdf_bytes([content])
    assert len(bomb) < 16 * 1024
    assert "decode past 2 MiB" in _refused(
        bomb, "bomb.pdf", UploadLimits(max_expanded_bytes=2 * MIB)
    )


def test_a_pdf_with_too_many_pages_or_objects_is_refused() -> None:
    pages = pdf_bytes([b"BT ET"] * 5)
    assert "more than 4 pages" in _refused(pages, "long.pdf", UploadLimits(max_pdf_pages=4))
    assert "objects" in _refused(pages, "long.pdf", UploadLimits(max_pdf_objects=6))


def test_a_pdf_page_tree_that_lies_about_its_count_is_counted() -> None:
    lying = pdf_bytes([b"BT ET"] * 5).replace(b"/Count 5", b"/Count 1")
    assert "more than 4 pages" in _refused(lying, "lying.pdf", UploadLimits(max_pdf_pages=4))


# --------------------------------------------------------------------------- markup


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("emphasis.md", b"# Rules\n\n" + b"*a* " * 250_000),
        ("cells.md", b"# Rules\n\n" + b"|a" * 250_000 + b"|\n"),
        ("tiny.txt", b"RULES\n\n" + b"a\n\n" * 250_000),
        ("spans.html", b"<h1>Rules</h1><p>" + b"<b>a</b>" * 250_000 + b"</p>"),
    ],
)
def test_markup_with_too_many_elements_is_refused_before_it_is_parsed(
    filename: str, data: bytes
) -> None:
    assert "more than 200000" in _refused(data, filename)


def test_html_nested_too_deep_is_refused_not_a_crash() -> None:
    deep = b"<h1>Rules</h1>" + b"<div>" * 5_000 + b"Refunds in 7 days." + b"</div>" * 5_000
    assert "nested more than 64 deep" in _refused(deep, "deep.html")


# --------------------------------------------------------------------------- one upload size


def test_the_limits_agree_across_settings_ingest_and_the_cli() -> None:
    settings, limits = Settings(), UploadLimits()
    assert settings.upload_max_bytes == limits.max_bytes == DEFAULT_MAX_BYTES
    assert settings.upload_max_expanded_bytes == limits.max_expanded_bytes
    assert settings.upload_max_pdf_pages == limits.max_pdf_pages


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "rate_limit_enabled": False, "redis_namespace": f"u{uuid.uuid4().hex[:8]}",
        "upload_max_bytes": 2 * MIB,
    })  # fmt: skip


def _markdown(size: int) -> bytes:
    """A short policy padded to ``size`` bytes with a comment (parsed in no time)."""
    head = b"---\ndoc_id: padded-policy\n---\n# Padded policy\n\nRefunds reach you in 7 days.\n"
    return head + b"<!-- " + b"x" * (size - len(head) - 9) + b" -->\n"


async def test_the_document_api_takes_what_ingest_takes(client: httpx.AsyncClient) -> None:
    # Over the 1 MiB body limit of other routes, within the upload size: ingested.
    r = await client.post("/v1/documents", headers=AUTH,
                          files={"files": ("padded.md", _markdown(1_400_000))})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["outcome"] == "added"
    over = await client.post("/v1/documents", headers=AUTH,
                             files={"files": ("padded.md", _markdown(2 * MIB + MULTIPART_ALLOWANCE))})  # fmt: skip
    assert over.status_code == 413
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["max_bytes"] == 2 * MIB + MULTIPART_ALLOWANCE
    chat = await client.post("/v1/chat", json={"text": "x" * 1_100_000})
    assert chat.status_code == 413


async def test_a_zip_bomb_upload_fails_alone_with_its_reason(client: httpx.AsyncClient) -> None:
    bomb = rezip_docx(_docx(), body=PARAGRAPH * 60_000)
    r = await client.post("/v1/documents", headers=AUTH, files=[
        ("files", ("bomb.docx", bomb)), ("files", ("padded.md", _markdown(10_000)))])  # fmt: skip
    assert r.status_code == 200, r.text
    bombed, fine = r.json()["results"]
    assert (bombed["outcome"], bombed["reason"]) == ("failed", "too_large")
    assert "expands" in bombed["detail"]
    assert fine["outcome"] == "added"


def test_the_cli_reports_a_file_over_the_upload_size_without_sending_it(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_bytes(_markdown(5_000))
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: sending would fail
    result = CliRunner().invoke(cli, ["ingest", str(big), "--url", nowhere, "--max-bytes", "4096"])
    assert result.exit_code == 1, result.output
    assert "too_large" in result.output and "cannot reach" not in result.output
