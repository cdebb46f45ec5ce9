#!/usr/bin/env python3
"""Consistency checker for the sample policy corpus and its question set.

Checks:
  * every document (md, txt, html, docx, pdf) carries the required metadata
    (doc_id, title, vertical, supplier, language, version, effective_date);
    DOCX/PDF also need the keywords property and a first "doc_id: ..." line;
  * doc_ids are unique and match the file name; ``supersedes`` targets exist
    and are older;
  * every question's gold doc exists, is not superseded, its section heading
    appears verbatim in that document, and every ``answer_contains`` string
    occurs (case-sensitive, whitespace-normalised) in that section;
  * no_answer questions have null doc/section and no answers;
  * minimum counts per format, vertical and question kind are met;
  * the _bad/ fixtures fail the way the ingest tests expect.

Needs: python-docx, pypdf (generation/check-time only).
Usage: python examples/policies/_build/check_questions.py   (exit 1 on errors)
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS = {".md", ".txt", ".html", ".docx", ".pdf"}
VERTICALS = {"flights", "hotels", "buses", "trains", "general"}
REQUIRED = ["doc_id", "title", "vertical", "supplier", "language", "version", "effective_date"]
KINDS = {"direct", "paraphrase", "hinglish", "no_answer"}
SKIP_NAMES = {"README.md"}


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


class Doc:
    def __init__(self, path: Path):
        self.path = path
        self.meta: dict[str, str] = {}
        self.extra: dict[str, str] = {}  # format-specific evidence (first line, keywords)
        self.headings: list[tuple[int, str]] = []  # (level, text)
        self.sections: list[tuple[int, str, str]] = []  # (level, heading, own text)
        self.text = ""

    def scope(self, idx: int) -> str:
        """Text of section idx including its sub-sections."""
        level = self.sections[idx][0]
        parts = [self.sections[idx][2]]
        for lvl, _h, body in self.sections[idx + 1:]:
            if lvl <= level:
                break
            parts.append(_h + " " + body)
        return norm(" ".join(parts))


# --------------------------------------------------------------------------- front matter
def parse_front_matter(text: str) -> tuple[dict, str]:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return {}, text
    meta = {}
    for line in m.group(1).splitlines():
        if ":" not in line:
            continue
        k, _, v = line.partition(":")
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
            v = v[1:-1]
        meta[k.strip()] = v
    return meta, text[m.end():]


def sections_from_lines(doc: Doc, items: list[tuple[int | None, str]]) -> None:
    """items: (heading_level or None for body text, text) in document order."""
    cur_level, cur_head, buf = 0, "", []
    for level, text in items:
        if level:
            doc.sections.append((cur_level, cur_head, norm(" ".join(buf))))
            doc.headings.append((level, text))
            cur_level, cur_head, buf = level, text, []
        else:
            buf.append(text)
    doc.sections.append((cur_level, cur_head, norm(" ".join(buf))))
    doc.sections = [s for s in doc.sections if s[0] or s[2]]
    doc.text = norm(" ".join([h for _, h in doc.headings] + [s[2] for s in doc.sections]))


# --------------------------------------------------------------------------- per format
def load_md(doc: Doc) -> None:
    meta, body = parse_front_matter(doc.path.read_text(encoding="utf-8"))
    doc.meta = meta
    items = []
    for line in body.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            items.append((len(m.group(1)), m.group(2).strip()))
        else:
            items.append((None, line.replace("**", "").replace("|", " ")))
    sections_from_lines(doc, items)


def load_txt(doc: Doc) -> None:
    meta, body = parse_front_matter(doc.path.read_text(encoding="utf-8"))
    doc.meta = meta
    lines = body.splitlines()
    underline = {"=": 1, "-": 2, "~": 3}
    items = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (line.strip() and nxt and len(set(nxt.strip())) == 1 and nxt.strip()[0] in underline
                and len(nxt.strip()) >= 3):
            items.append((underline[nxt.strip()[0]], line.strip()))
            i += 2
            continue
        if re.fullmatch(r"\+[-+]+\+", line.strip()):  # ASCII table border
            i += 1
            continue
        items.append((None, line.replace("|", " ")))
        i += 1
    sections_from_lines(doc, items)


class _HTML(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.items: list[tuple[int | None, str]] = []
        self._heading: int | None = None
        self._buf: list[str] = []
        self._in_body = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
        elif tag == "body":
            self._in_body = True
        elif tag in ("script", "style"):
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag in ("p", "li", "tr", "td", "th", "br", "table", "ul", "ol", "div"):
            self._buf.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        elif re.fullmatch(r"h[1-6]", tag) and self._heading:
            self.items.append((self._heading, norm("".join(self._buf))))
            self._buf, self._heading = [], None
        elif tag in ("p", "li", "td", "th", "tr"):
            self._buf.append(" ")

    def handle_data(self, data):
        if self._in_body and not self._skip:
            self._buf.append(data)

    def _flush(self):
        if self._buf:
            self.items.append((None, "".join(self._buf)))
            self._buf = []

    def close(self):
        super().close()
        self._flush()


def load_html(doc: Doc) -> None:
    p = _HTML()
    p.feed(doc.path.read_text(encoding="utf-8"))
    p.close()
    doc.meta = dict(p.meta)
    sections_from_lines(doc, p.items)


def load_docx(doc: Doc) -> None:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(str(doc.path))
    cp = d.core_properties
    kw = dict(part.split("=", 1) for part in (cp.keywords or "").split(";") if "=" in part)
    doc.meta = {"title": cp.title or "", "vertical": cp.subject or "",
                "language": cp.language or "", **kw}
    doc.extra["keywords"] = cp.keywords or ""
    items = []
    first_line = None
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, d)
            text = para.text.strip()
            if first_line is None and text:
                first_line = text
            m = re.match(r"Heading (\d)", para.style.name or "")
            if m and text:
                items.append((int(m.group(1)), text))
            else:
                items.append((None, text))
        elif tag == "tbl":
            table = Table(child, d)
            for row in table.rows:
                items.append((None, " ".join(c.text for c in row.cells)))
    doc.extra["first_line"] = first_line or ""
    sections_from_lines(doc, items)


def load_pdf(doc: Doc) -> None:
    from pypdf import PdfReader

    r = PdfReader(str(doc.path))
    info = r.metadata or {}
    kw_raw = str(info.get("/Keywords", "") or "")
    kw = dict(part.split("=", 1) for part in kw_raw.split(";") if "=" in part)
    doc.meta = {"title": str(info.get("/Title", "") or ""),
                "vertical": str(info.get("/Subject", "") or ""), **kw}
    doc.extra["keywords"] = kw_raw
    raw = "\n".join(page.extract_text() or "" for page in r.pages)
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    doc.extra["first_line"] = lines[0] if lines else ""
    # language comes from the first-lines metadata block
    for ln in lines[:10]:
        if ln.startswith("language:"):
            doc.meta["language"] = ln.split(":", 1)[1].strip()

    outline: list[tuple[int, str]] = []

    def walk(nodes, depth):
        for n in nodes:
            if isinstance(n, list):
                walk(n, depth + 1)
            else:
                outline.append((depth + 1, str(n.title)))
    walk(r.outline, 0)

    # Split the extracted lines at outline headings, in order.
    # Long headings may wrap over several extracted lines.
    items: list[tuple[int | None, str]] = []
    oi = 0
    i = 0
    while i < len(lines):
        matched = 0
        if oi < len(outline):
            target = norm(outline[oi][1])
            acc = ""
            for j in range(i, min(i + 4, len(lines))):
                acc = norm(acc + " " + lines[j])
                if acc == target:
                    matched = j - i + 1
                    break
                if not target.startswith(acc):
                    break
        if matched:
            items.append(outline[oi])
            oi += 1
            i += matched
        else:
            items.append((None, lines[i]))
            i += 1
    if oi != len(outline):
        doc.extra["outline_error"] = f"heading not found in text: {outline[oi][1]!r}"
    sections_from_lines(doc, items)


LOADERS = {".md": load_md, ".txt": load_txt, ".html": load_html, ".docx": load_docx,
           ".pdf": load_pdf}


# --------------------------------------------------------------------------- checks
def check_bad(errors: list[str]) -> None:
    bad = ROOT / "_bad"
    expected = ["empty.md", "corrupt.pdf", "encrypted.pdf", "broken.docx"]
    for name in expected:
        if not (bad / name).exists():
            errors.append(f"_bad/{name}: missing fixture")
    if (bad / "empty.md").exists() and (bad / "empty.md").stat().st_size != 0:
        errors.append("_bad/empty.md: should be empty")
    import logging
    from pypdf import PdfReader
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        r = PdfReader(str(bad / "corrupt.pdf"))
        _ = [p.extract_text() for p in r.pages]
        errors.append("_bad/corrupt.pdf: unexpectedly parsed")
    except Exception:
        pass
    try:
        if not PdfReader(str(bad / "encrypted.pdf")).is_encrypted:
            errors.append("_bad/encrypted.pdf: not encrypted")
    except Exception as e:  # noqa: BLE001
        errors.append(f"_bad/encrypted.pdf: unreadable header ({e})")
    try:
        import docx
        docx.Document(str(bad / "broken.docx"))
        errors.append("_bad/broken.docx: unexpectedly parsed")
    except Exception:
        pass


def main() -> int:
    errors: list[str] = []
    warnings: list[str] = []
    docs: dict[str, Doc] = {}
    fmt_count: Counter = Counter()
    vert_count: Counter = Counter()

    for path in sorted(ROOT.iterdir()):
        if not path.is_file() or path.suffix not in FORMATS or path.name in SKIP_NAMES:
            continue
        doc = Doc(path)
        try:
            LOADERS[path.suffix](doc)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{path.name}: failed to load ({e})")
            continue
        name = path.name
        for key in REQUIRED:
            if key not in doc.meta or (key != "supplier" and not str(doc.meta[key]).strip()):
                errors.append(f"{name}: missing metadata field {key!r}")
        did = doc.meta.get("doc_id", "")
        if did and did != path.stem:
            errors.append(f"{name}: doc_id {did!r} does not match file name")
        if doc.meta.get("vertical") not in VERTICALS:
            errors.append(f"{name}: bad vertical {doc.meta.get('vertical')!r}")
        if not re.fullmatch(r"\d+", str(doc.meta.get("version", ""))):
            errors.append(f"{name}: version must be an integer")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(doc.meta.get("effective_date", ""))):
            errors.append(f"{name}: effective_date must be YYYY-MM-DD")
        if doc.meta.get("language") != "en":
            errors.append(f"{name}: language must be 'en'")
        if path.suffix in (".docx", ".pdf"):
            if not doc.extra.get("first_line", "").startswith(f"doc_id: {did}"):
                errors.append(f"{name}: first line must be 'doc_id: {did}'")
            if not doc.extra.get("keywords", "").startswith(f"doc_id={did};"):
                errors.append(f"{name}: keywords property malformed")
        if "outline_error" in doc.extra:
            errors.append(f"{name}: {doc.extra['outline_error']}")
        if not doc.headings or doc.headings[0][0] != 1:
            errors.append(f"{name}: must start with an H1 heading")
        elif norm(doc.headings[0][1]) != norm(doc.meta.get("title", "")):
            warnings.append(f"{name}: H1 differs from title metadata")
        words = len(doc.text.split())
        if not 300 <= words <= 1300:
            warnings.append(f"{name}: {words} words (target 300-1200)")
        if did in docs:
            errors.append(f"{name}: duplicate doc_id {did}")
        docs[did] = doc
        fmt_count[path.suffix] += 1
        vert_count[doc.meta.get("vertical")] += 1

    superseded = set()
    for did, doc in docs.items():
        sup = doc.meta.get("supersedes")
        if sup:
            if sup not in docs:
                errors.append(f"{did}: supersedes unknown doc {sup}")
            elif docs[sup].meta["effective_date"] >= doc.meta["effective_date"]:
                errors.append(f"{did}: supersedes a doc that is not older")
            superseded.add(sup)
    if len(superseded) < 3:
        errors.append(f"only {len(superseded)} superseded pairs (need >= 3)")
    for f in FORMATS:
        if fmt_count[f] < 4:
            errors.append(f"format {f}: only {fmt_count[f]} docs (need >= 4)")
    for v in VERTICALS:
        if vert_count[v] < 4:
            errors.append(f"vertical {v}: only {vert_count[v]} docs (need >= 4)")
    injected = [d for d, doc in docs.items() if "ignore previous instructions" in doc.text.lower()]
    if not injected:
        errors.append("no document contains the prompt-injection sample")

    # ---------------------------------------------------------------- questions
    kinds: Counter = Counter()
    ids = set()
    qpath = ROOT / "questions.jsonl"
    for n, line in enumerate(qpath.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"questions.jsonl:{n}: invalid JSON ({e})")
            continue
        qid = q.get("id", f"line{n}")
        for key in ("id", "question", "doc_id", "section", "answer_contains", "kind", "filters"):
            if key not in q:
                errors.append(f"{qid}: missing key {key}")
        if qid in ids:
            errors.append(f"{qid}: duplicate id")
        ids.add(qid)
        kind = q.get("kind")
        if kind not in KINDS:
            errors.append(f"{qid}: bad kind {kind!r}")
        kinds[kind] += 1
        filt = q.get("filters") or {}
        if filt and set(filt) - {"vertical"}:
            errors.append(f"{qid}: unexpected filter keys {sorted(filt)}")
        if kind == "no_answer":
            if q.get("doc_id") is not None or q.get("section") is not None or q.get("answer_contains"):
                errors.append(f"{qid}: no_answer must have null doc_id/section and no answers")
            continue
        did = q.get("doc_id")
        if did not in docs:
            errors.append(f"{qid}: unknown doc_id {did!r}")
            continue
        doc = docs[did]
        if did in superseded:
            errors.append(f"{qid}: targets superseded doc {did}")
        if filt.get("vertical") and filt["vertical"] != doc.meta.get("vertical"):
            errors.append(f"{qid}: filter vertical {filt['vertical']} != doc vertical")
        sec = q.get("section")
        idxs = [i for i, s in enumerate(doc.sections) if s[0] and norm(s[1]) == norm(sec or "")]
        if not idxs:
            errors.append(f"{qid}: section {sec!r} not a heading in {did}")
            continue
        answers = q.get("answer_contains") or []
        if not answers:
            errors.append(f"{qid}: answer_contains is empty")
        for a in answers:
            if norm(a) not in doc.text:
                errors.append(f"{qid}: {a!r} not found in {did}")
            elif not any(norm(a) in doc.scope(i) for i in idxs):
                errors.append(f"{qid}: {a!r} not under section {sec!r} of {did}")

    need = {"no_answer": 25, "hinglish": 25}
    for k, v in need.items():
        if kinds[k] < v:
            errors.append(f"only {kinds[k]} {k} questions (need >= {v})")
    if kinds["direct"] + kinds["paraphrase"] < 100:
        errors.append("fewer than 100 direct/paraphrase questions")
    if sum(kinds.values()) < 170:
        errors.append("fewer than 170 questions")

    check_bad(errors)

    print(f"documents: {len(docs)}")
    print("  by format:   " + ", ".join(f"{k}={fmt_count[k]}" for k in sorted(fmt_count)))
    print("  by vertical: " + ", ".join(f"{k}={vert_count[k]}" for k in sorted(vert_count)))
    print(f"  superseded:  {sorted(superseded)}")
    print(f"  injection sample in: {injected}")
    print(f"questions: {sum(kinds.values())}  " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    for w in warnings:
        print(f"WARNING: {w}")
    for e in errors:
        print(f"ERROR: {e}")
    print(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
