"""Real documents with messy metadata are accepted and reported, never refused for it: a note in
a date, an unknown field, a non-date in the effective date, front matter that is not YAML. Only a
file that cannot be read is refused. `yatri ingest --check` (the API's `dry_run`) shows what
ingesting would change, chunk by chunk, against a real server and publishes nothing."""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docx
import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api.app import create_app
from api.content_cli import cli
from core.embedded import EmbeddedTemporal, EmbeddedValkey, Endpoints
from core.settings import Settings
from ingest.check import ChunkChanges, diff_chunks
from ingest.loaders import load_document
from ingest.metadata import read_date
from ingest.models import IngestError, IngestErrorReason, ParsedDocument, Vertical

BAD = Path(__file__).resolve().parent.parent / "examples" / "policies" / "_bad"
KEY = "dev-content-key"
AUTH = {"authorization": f"Bearer {KEY}"}

RAILWAY_REFUNDS = """---
doc_id: {doc_id}
title: Indian Railways Cancellation and Refund Rules
vertical: Railways
supplier: IRCTC
effective_date: 2026-03-26 (revised refund requirements); earlier 2025-11-01
source: Railway Passengers (Cancellation of Ticket and Refund of Fare) Rules, 2015
reviewed_by: Refunds desk, Delhi
---
# Indian Railways Cancellation and Refund Rules

## Confirmed tickets

A confirmed ticket cancelled more than 48 hours before departure is refunded after a
cancellation charge of Rs 240 per passenger in AC First Class and Rs 60 in Second Class.

## Tatkal tickets

No refund is granted on cancellation of a confirmed Tatkal ticket.

## Waitlisted tickets

A waitlisted e-ticket that stays waitlisted after charting is cancelled automatically and the
fare refunded to the original account, less a clerkage of Rs 60.
"""


def railway_refunds(doc_id: str = "railway-refunds") -> bytes:
    return RAILWAY_REFUNDS.format(doc_id=doc_id).encode()


def load(data: bytes, filename: str) -> ParsedDocument:
    return load_document(data, filename=filename, source_uri="upload://" + filename)


# --------------------------------------------------------------------------- the loader


def test_a_date_with_a_note_keeps_the_date_and_the_note() -> None:
    doc = load(railway_refunds(), "railway-refunds.md")
    assert doc.meta.effective_date == dt.date(2026, 3, 26)
    assert doc.meta.notes == {"effective_date": "revised refund requirements; earlier 2025-11-01"}
    assert (doc.meta.vertical, doc.meta.supplier) == (Vertical.TRAINS, "IRCTC")
    fields = [w.field for w in doc.warnings]
    assert fields.count("effective_date") >= 1 and "vertical" in fields


def test_unknown_fields_are_kept_as_text_with_a_warning() -> None:
    doc = load(railway_refunds(), "railway-refunds.md")
    assert doc.meta.extra == {
        "source": "Railway Passengers (Cancellation of Ticket and Refund of Fare) Rules, 2015",
        "reviewed_by": "Refunds desk, Delhi",
    }
    assert {"source", "reviewed_by"} <= {w.field for w in doc.warnings}


def test_a_non_date_in_the_effective_date_is_kept_as_text_and_the_document_is_live_now() -> None:
    text = (
        "---\ndoc_id: gst-on-travel\nvertical: general\neffective_date: to be notified by CBIC\n"
        "---\nGST on air tickets\n\nEconomy class air travel attracts GST at 5 percent.\n"
    )
    doc = load(text.encode(), "gst-on-travel.txt")
    assert doc.meta.effective_date is None
    assert doc.meta.extra == {"effective_date": "to be notified by CBIC"}
    assert [w.field for w in doc.warnings] == ["effective_date"]
    assert "kept as text" in doc.warnings[0].detail


@pytest.mark.parametrize(
    ("written", "date", "note"),
    [
        ("2026-03-26", dt.date(2026, 3, 26), None),
        ("26/03/2026", dt.date(2026, 3, 26), None),
        ("26-03-2026", dt.date(2026, 3, 26), None),
        ("26.03.2026", dt.date(2026, 3, 26), None),
        ("26 March 2026", dt.date(2026, 3, 26), None),
        ("26th March, 2026", dt.date(2026, 3, 26), None),
        ("March 26, 2026", dt.date(2026, 3, 26), None),
        ("26-Mar-2026", dt.date(2026, 3, 26), None),
        ("Sept 5 2026", dt.date(2026, 9, 5), None),
        ("2026-03-26T10:00:00+05:30", dt.date(2026, 3, 26), None),
        ("03/04/2026", dt.date(2026, 4, 3), None),  # ambiguous: day-first, the Indian way
        ("03/26/2026", dt.date(2026, 3, 26), None),  # only month-first can be right
        ("w.e.f. 1st April 2026", dt.date(2026, 4, 1), None),
        ("1 April 2026 [board approval pending]", dt.date(2026, 4, 1), "board approval pending"),
        ("26/03/2026; supersedes the 2024 circular", dt.date(2026, 3, 26),
         "supersedes the 2024 circular"),
    ],
)  # fmt: skip
def test_dates_are_read_in_their_common_written_forms(
    written: str, date: dt.date, note: str | None
) -> None:
    reading = read_date(written)
    assert reading is not None and (reading.date, reading.note) == (date, note)


@pytest.mark.parametrize("written", ["2026-02-30", "31/31/2026", "soon", "Q2 FY27"])
def test_what_is_not_a_date_reads_as_none(written: str) -> None:
    assert read_date(written) is None


def test_an_ambiguous_or_partial_date_says_how_it_was_read() -> None:
    reading = read_date("03/04/2026")
    assert reading is not None and any("day-first" in c for c in reading.caveats)
    month = read_date("March 2026")
    assert month is not None and month.date == dt.date(2026, 3, 1) and month.caveats


def test_docx_metadata_lines_in_real_spelling_are_read() -> None:
    document = docx.Document()
    for line in (
        "doc_id: indigo-baggage",
        "Effective Date: 1st April 2026 (monsoon schedule)",
        "Vertical: Airline",
        "owner: Customer experience",
    ):
        document.add_paragraph(line)
    document.add_heading("IndiGo Baggage", level=1)
    document.add_paragraph("Each passenger may carry one cabin bag of up to 7 kg.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = load(buffer.getvalue(), "indigo-baggage.docx")
    assert doc.meta.doc_id == "indigo-baggage"
    assert doc.meta.effective_date == dt.date(2026, 4, 1)
    assert doc.meta.notes == {"effective_date": "monsoon schedule"}
    assert doc.meta.vertical is Vertical.FLIGHTS
    assert doc.meta.extra == {"owner": "Customer experience"}
    assert [b.kind for b in doc.blocks] == ["heading", "paragraph"]


def test_html_meta_names_in_other_spellings_are_read() -> None:
    page = (
        b'<html lang="en-IN"><head><title>OYO Refunds</title>'
        b'<meta name="effective-date" content="26 March 2026">'
        b'<meta name="Version" content="v3"></head>'
        b"<body><h1>OYO Refunds</h1><p>Refunds reach the source account in 5-7 days.</p></body>"
        b"</html>"
    )
    doc = load(page, "oyo-refunds.html")
    assert (doc.meta.effective_date, doc.meta.version) == (dt.date(2026, 3, 26), 3)
    assert doc.meta.language == "en"
    assert [w.field for w in doc.warnings] == ["version"]


def test_front_matter_that_is_not_yaml_is_read_line_by_line() -> None:
    text = (
        b"---\ndoc_id: dgca-charter\ntitle: DGCA Passenger Charter: delays\n"
        b"effective_date: 26 March 2026\nnotes: [draft\n---\n# Delays\n\n"
        b"Meals are offered when a flight is delayed by 2 hours or more.\n"
    )
    doc = load(text, "dgca-charter.md")
    assert doc.meta.doc_id == "dgca-charter"
    assert doc.meta.title == "DGCA Passenger Charter: delays"
    assert doc.meta.effective_date == dt.date(2026, 3, 26)
    assert doc.meta.extra == {"notes": "[draft"}
    assert doc.warnings[0].field == "front_matter"


def test_a_doc_id_that_is_not_a_slug_is_read_as_one() -> None:
    doc = load(b"---\ndoc_id: SpiceJet Pets Policy\n---\nSmall pets travel in the hold.\n", "p.txt")
    assert doc.meta.doc_id == "spicejet-pets-policy"
    assert [w.field for w in doc.warnings] == ["doc_id"]


def test_a_clean_document_has_no_warnings() -> None:
    text = b"---\ndoc_id: clean\nvertical: buses\neffective_date: 2026-01-01\n---\nText.\n"
    doc = load(text, "clean.txt")
    assert doc.warnings == () and doc.meta.extra == {} and doc.meta.notes == {}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("corrupt.pdf", IngestErrorReason.CORRUPT),
        ("encrypted.pdf", IngestErrorReason.ENCRYPTED),
        ("broken.docx", IngestErrorReason.CORRUPT),
        ("empty.md", IngestErrorReason.EMPTY),
    ],
)
def test_a_file_that_cannot_be_read_is_still_refused(name: str, reason: IngestErrorReason) -> None:
    with pytest.raises(IngestError) as caught:
        load((BAD / name).read_bytes(), name)
    assert caught.value.reason is reason


def test_text_that_is_not_utf8_is_still_refused() -> None:
    with pytest.raises(IngestError) as caught:
        load(b"---\ndoc_id: x\n---\n\xff\xfe\xfa broken", "x.txt")
    assert caught.value.reason is IngestErrorReason.CORRUPT


# --------------------------------------------------------------------------- chunk changes


def test_chunk_diff_tells_edits_from_insertions_and_removals() -> None:
    assert diff_chunks([], ["a", "b"]) == ChunkChanges(added=2, updated=0, unchanged=0, removed=0)
    assert diff_chunks(["a", "b", "c"], ["a", "B", "c", "d"]) == ChunkChanges(
        added=1, updated=1, unchanged=2, removed=0
    )
    assert diff_chunks(["a", "b", "c"], ["a", "c"]) == ChunkChanges(
        added=0, updated=0, unchanged=2, removed=1
    )


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def server(
    redis_server: EmbeddedValkey,
    temporal_server: EmbeddedTemporal,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The whole app over HTTP on a free port, as `yatri ingest` talks to it."""
    data_dir = tmp_path_factory.mktemp("metadata")
    settings = Settings(
        data_dir=data_dir,
        redis_namespace=f"t{uuid.uuid4().hex[:8]}",
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        retire_grace_s=0.2,
    )
    endpoints = Endpoints(
        redis_url=redis_server.url,
        temporal_address=temporal_server.address,
        qdrant_url=None,
        qdrant_path=data_dir / "qdrant",
    )
    app = create_app(settings, endpoints=endpoints)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=60)
    sock.close()


def upload(url: str, name: str, data: bytes, *, dry_run: bool = False) -> dict[str, object]:
    r = httpx.post(
        url + "/v1/documents", headers=AUTH, files={"files": (name, data)},
        params={"dry_run": "true"} if dry_run else None, timeout=120,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()["results"][0]
    return result


def test_the_api_reports_warnings_and_keeps_notes_and_extra_fields(server: str) -> None:
    result = upload(server, "railway-refunds.md", railway_refunds("api-railway-refunds"))
    assert result["outcome"] == "added"
    warnings = result["warnings"]
    assert isinstance(warnings, list) and {w["field"] for w in warnings} >= {
        "effective_date", "source", "reviewed_by",
    }  # fmt: skip
    record = httpx.get(server + "/v1/documents/api-railway-refunds", headers=AUTH).json()
    assert record["effective_date"] == "2026-03-26"
    assert record["notes"]["effective_date"].startswith("revised refund requirements")
    assert record["extra"]["reviewed_by"] == "Refunds desk, Delhi"
    again = upload(server, "railway-refunds.md", railway_refunds("api-railway-refunds"))
    assert again["outcome"] == "unchanged" and again["warnings"] == warnings


def test_the_openapi_documents_warnings_and_dry_run(server: str) -> None:
    schema = httpx.get(server + "/openapi.json").json()
    result = schema["components"]["schemas"]["FileResultOut"]["properties"]
    assert "never fails a document" in result["warnings"]["description"]
    assert "dry_run" in result["changes"]["description"]
    params = schema["paths"]["/v1/documents"]["post"]["parameters"]
    assert any(p["name"] == "dry_run" for p in params)


def test_a_dry_run_compares_chunk_by_chunk_and_publishes_nothing(server: str) -> None:
    doc_id = f"check-{uuid.uuid4().hex[:6]}"
    first = railway_refunds(doc_id)
    new = upload(server, "r.md", first, dry_run=True)
    assert new["outcome"] == "added"
    assert new["changes"] == {"added": new["chunks"], "updated": 0, "unchanged": 0, "removed": 0}
    assert httpx.get(f"{server}/v1/documents/{doc_id}", headers=AUTH).status_code == 404

    assert upload(server, "r.md", first)["outcome"] == "added"
    same = upload(server, "r.md", first, dry_run=True)
    assert same["outcome"] == "unchanged"
    assert same["changes"] == {"added": 0, "updated": 0, "unchanged": same["chunks"], "removed": 0}

    edited = first.replace(b"No refund is granted", b"No refund at all is granted") + (
        b"\n## Lost tickets\n\nA duplicate ticket is issued for a fee of Rs 50.\n"
    )
    changed = upload(server, "r.md", edited, dry_run=True)
    assert changed["outcome"] == "updated"
    changes = changed["changes"]
    assert isinstance(changes, dict)
    assert changes["updated"] >= 1 and changes["added"] >= 1 and changes["unchanged"] >= 1
    assert changes["removed"] == 0
    assert upload(server, "r.md", first)["outcome"] == "unchanged"  # the live one is the first


def test_yatri_ingest_check_shows_what_would_change(server: str, tmp_path: Path) -> None:
    doc_id = f"cli-{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "refunds.md").write_bytes(railway_refunds(doc_id))
    runner = CliRunner()
    check = runner.invoke(cli, ["ingest", "--check", str(folder), "--url", server])
    assert check.exit_code == 0, check.output
    assert "nothing published" in check.output
    assert "+" in check.output and "added=1" in check.output
    assert "metadata warnings" in check.output and "reviewed_by" in check.output
    assert httpx.get(f"{server}/v1/documents/{doc_id}", headers=AUTH).status_code == 404

    done = runner.invoke(cli, ["ingest", str(folder), "--url", server])
    assert done.exit_code == 0, done.output
    assert "added=1" in done.output and "effective_date" in done.output

    path = folder / "refunds.md"
    path.write_bytes(path.read_bytes().replace(b"Rs 240", b"Rs 250"))
    (folder / "unreadable.pdf").write_bytes((BAD / "corrupt.pdf").read_bytes())
    again = runner.invoke(cli, ["ingest", "--check", str(folder), "--url", server])
    assert again.exit_code == 1, again.output  # the unreadable file fails the check
    assert "updated=1" in again.output and "failed=1" in again.output
    assert "~1 " in again.output  # one chunk edited in place
    assert httpx.get(f"{server}/v1/documents/{doc_id}", headers=AUTH).json()["chunks"] >= 1
