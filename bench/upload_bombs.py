"""Crafted uploads against the upload limits: time and peak memory of parsing each file, with the
limits (what ingest does) and without them (every limit lifted: what the parsers alone would
cost, as before the limits), each run in a fresh process so its peak RSS is its own.

Cases: a zip bomb DOCX (109 KB that unpacks to 50 MB of XML, the finding) and its peer, an
ordinary DOCX of the same compressed size; a PDF whose one content stream decodes to 96 MiB, and
its peer; a Markdown file of 300,000 emphasis marks and its peer (ordinary prose, same size).

    python bench/upload_bombs.py [--cases docx-bomb docx-peer ...] [--modes limits unlimited]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx

sys.path.insert(0, str(Path(__file__).parent.parent))

from ingest.limits import UploadLimits  # noqa: E402
from ingest.loaders import load_document  # noqa: E402
from ingest.models import IngestError  # noqa: E402
from tests.upload_support import pdf_bytes, rezip_docx  # noqa: E402

WORDS = ("refund", "cancellation", "fare", "baggage", "passenger", "ticket", "booking",
         "airline", "departure", "hours", "charge", "policy", "traveller", "infant", "seat",
         "hotel", "night", "guest", "payment")  # fmt: skip
UNLIMITED = UploadLimits(**dict.fromkeys(UploadLimits.__dataclass_fields__, sys.maxsize))


def _prose(rnd: random.Random) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 60))) + "."


def _docx_bytes(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_bomb(xml_bytes: int = 50_000_000, text: int = 2500) -> bytes:
    """A DOCX whose body is ``xml_bytes`` of identical paragraphs of ``text`` letters."""
    paragraph = b"<w:p><w:r><w:t>" + b"a" * text + b"</w:t></w:r></w:p>"
    body = paragraph * (xml_bytes // len(paragraph))
    return rezip_docx(_docx_bytes(docx.Document()), body=body)


def docx_peer(compressed_bytes: int) -> bytes:
    """An ordinary policy DOCX (headings, prose) of about ``compressed_bytes``."""
    rnd = random.Random(7)
    document = docx.Document()
    document.add_heading("Cancellation and refunds", level=1)
    paragraphs = max(1, compressed_bytes // 62)  # ~62 compressed bytes per paragraph
    for i in range(paragraphs):
        if i % 30 == 0:
            document.add_heading(f"Section {i // 30 + 1}", level=2)
        document.add_paragraph(_prose(rnd))
    return _docx_bytes(document)


def pdf_bomb() -> bytes:
    text = b"BT /F1 10 Tf 72 720 Td (Refunds reach you in 7 days.) Tj ET\n"
    return pdf_bytes([text + b"% padding\n" * (96 * 2**20 // 10)])


def pdf_peer(compressed_bytes: int) -> bytes:
    """Ordinary pages of prose lines, about ``compressed_bytes`` in all."""
    rnd = random.Random(7)
    pages = []
    for _ in range(max(1, compressed_bytes // 1_270)):  # ~1.27 KB per compressed page
        lines = [
            b"BT /F1 10 Tf 72 %d Td (%s.) Tj ET" % (760 - 18 * i, _prose(rnd)[:90].encode())
            for i in range(40)
        ]
        pages.append(b"\n".join(lines))
    return pdf_bytes(pages)


def markdown_bomb() -> bytes:
    return b"# Rules\n\n" + b"*a* " * 300_000


def markdown_peer() -> bytes:
    rnd = random.Random(7)
    parts, size = ["# Rules\n"], 0
    while size < 1_200_000:
        parts.append(_prose(rnd))
        size += len(parts[-1]) + 2
    return "\n\n".join(parts).encode()


CASES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "docx-bomb": ("bomb.docx", docx_bomb),
    "docx-peer": ("peer.docx", lambda: docx_peer(len(docx_bomb()))),
    "pdf-bomb": ("bomb.pdf", pdf_bomb),
    "pdf-peer": ("peer.pdf", lambda: pdf_peer(len(pdf_bomb()))),
    "markdown-bomb": ("bomb.md", markdown_bomb),
    "markdown-peer": ("peer.md", markdown_peer),
}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent that made the files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(case: str, mode: str, path: Path) -> dict[str, object]:
    """Parse one case (made beforehand, read from ``path``) in this process; its size, outcome,
    seconds and peak RSS."""
    filename, _ = CASES[case]
    data = path.read_bytes()
    expanded = (
        sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
        if filename.endswith(".docx")
        else None
    )
    limits = UploadLimits() if mode == "limits" else UNLIMITED
    before_mb = _peak_rss_mb()
    started = time.perf_counter()
    try:
        doc = load_document(data, filename=filename, source_uri="bench", limits=limits)
        outcome = f"parsed: {len(doc.blocks)} blocks"
    except IngestError as e:
        outcome = f"refused ({e.reason.value}): {e.detail}"
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    return {
        "case": case, "mode": mode, "bytes": len(data), "expanded_bytes": expanded,
        "outcome": outcome, "seconds": round(seconds, 2), "rss_before_mb": round(before_mb),
        "peak_rss_mb": round(peak_mb), "growth_mb": round(peak_mb - before_mb),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--modes", nargs="+", choices=["limits", "unlimited"],
                        default=["limits", "unlimited"])  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600, help="Seconds per case.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, mode, path = args.child
        print(json.dumps(child(case, mode, Path(path))))
        return
    folder = Path(tempfile.mkdtemp(prefix="yatri-bombs-"))
    for case in args.cases:
        (folder / case).write_bytes(CASES[case][1]())
    for mode in args.modes:
        for case in args.cases:
            try:
                run = subprocess.run(
                    [sys.executable, __file__, "--child", case, mode, str(folder / case)],
                    capture_output=True, text=True, timeout=args.timeout, check=True,
                )  # fmt: skip
                print(run.stdout.strip().splitlines()[-1], flush=True)
            except subprocess.TimeoutExpired:
                print(json.dumps({"case": case, "mode": mode, "outcome": "timed out",
                                  "seconds": args.timeout}), flush=True)  # fmt: skip
            except subprocess.CalledProcessError as e:
                print(json.dumps({"case": case, "mode": mode, "outcome": "crashed",
                                  "error": e.stderr[-500:]}), flush=True)  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
