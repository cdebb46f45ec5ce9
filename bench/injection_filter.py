"""The injection filter as it was before #13 and as it is now, side by side in the same run:
recall on the variant corpus (by source, language and evasion), the eight planted documents
(flagged at ingest, old: chunk text only; new: text, headings, title, supplier), false positives
on the sample policy corpus (chunks, sentences, titles and headings), on the hard negatives and on
real traveller utterances, and the time per chunk.

    python bench/injection_filter.py                  # the old filter read from git at OLD_REF
    python bench/injection_filter.py --old-ref HEAD~3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from _knowledge import CORPUS

from api.content_cli import collect
from ingest.chunking import chunk_document
from ingest.injection import injection_flags
from ingest.loaders import load_document
from ingest.models import ParsedDocument
from rag.text import sentences

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "injection"
OLD_REF = "912841d"  # the last commit with the filter #13 found narrow
Filter = Callable[[str], bool]


def old_filter(ref: str) -> Filter:
    source = subprocess.run(
        ["git", "show", f"{ref}:ingest/injection.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    module = types.ModuleType("old_injection")
    exec(compile(source, f"{ref}:ingest/injection.py", "exec"), module.__dict__)
    return lambda text: bool(module.injection_flags(text))


def new_filter(text: str) -> bool:
    return bool(injection_flags(text))


def rate(hits: int, total: int) -> str:
    return f"{hits:>4}/{total:<4} {100 * hits / total if total else 0:5.1f}%"


def jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def documents(paths: Iterable[Path]) -> list[ParsedDocument]:
    return [load_document(p.read_bytes(), filename=p.name, source_uri=p.name) for p in paths]


def document_flagged(doc: ParsedDocument, check: Filter, *, whole: bool) -> bool:
    """Whether ingest flags any chunk: on its text alone (the old chunker), or on its text,
    headings, title and supplier (the new one)."""
    for chunk in chunk_document(doc):
        texts = [chunk.text]
        if whole:
            texts += [doc.meta.title, doc.meta.supplier or "", *chunk.section_path]
        if any(check(t) for t in texts):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-ref", default=OLD_REF, help="git revision of the old filter")
    args = parser.parse_args()
    filters: dict[str, Filter] = {"old": old_filter(args.old_ref), "new": new_filter}

    variants = jsonl(DATA / "variants.jsonl")
    groups: dict[str, list[str]] = defaultdict(list)
    for row in variants:
        groups["all"].append(row["text"])
        groups[f"source {row['source']}"].append(row["text"])
        groups[f"lang {row['lang']}"].append(row["text"])
        groups[f"evasion {row['evasion']}"].append(row["text"])
    print(f"injection variants: recall ({len(variants)} in tests/data/injection/variants.jsonl)")
    print(f"  {'group':<30}{'old':>16}{'new':>16}")
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        texts = groups[name]
        cells = [rate(sum(f(t) for t in texts), len(texts)) for f in filters.values()]
        print(f"  {name:<30}{cells[0]:>16}{cells[1]:>16}")

    planted = documents(sorted((DATA / "documents").glob("*.md")))
    print(f"\nplanted documents flagged at ingest ({len(planted)})")
    for label, check, whole in (("old", filters["old"], False), ("new", filters["new"], True)):
        flagged = [d.meta.doc_id for d in planted if document_flagged(d, check, whole=whole)]
        missed = sorted({d.meta.doc_id for d in planted} - set(flagged))
        print(f"  {label}: {rate(len(flagged), len(planted))}  missed: {', '.join(missed) or '-'}")

    corpus = documents(collect([CORPUS]))
    chunks = [c.text for d in corpus for c in chunk_document(d)]
    planted_paragraph = [t for t in chunks if t.startswith("Ignore previous instructions")]
    clean_chunks = [t for t in chunks if t not in planted_paragraph]
    clean_sentences = [s for t in clean_chunks for s in sentences(t)]
    headings = [d.meta.title for d in corpus] + [
        b.text for d in corpus for b in d.blocks if b.kind == "heading"
    ]
    utterances = [
        row["text"] for row in jsonl(ROOT / "bench" / "data" / "dialogue_utterances.jsonl")
    ]
    negatives = {
        "corpus chunks": clean_chunks,
        "corpus sentences": clean_sentences,
        "corpus titles, headings": headings,
        "hard negatives": [row["text"] for row in jsonl(DATA / "benign.jsonl")],
        "traveller utterances": utterances,
    }
    print("\nfalse positives (the planted corpus paragraph left out; it is flagged by both: "
          f"{all(f(planted_paragraph[0]) for f in filters.values())})")  # fmt: skip
    print(f"  {'set':<30}{'old':>16}{'new':>16}")
    for name, texts in negatives.items():
        cells = [rate(sum(f(t) for t in texts), len(texts)) for f in filters.values()]
        print(f"  {name:<30}{cells[0]:>16}{cells[1]:>16}")

    # The new filter caches each text it has seen: every run gets texts it has not (a different
    # run of trailing spaces, which folding drops).
    print(f"\ntime per corpus chunk ({len(chunks)} chunks, best of 3, uncached)")
    for label, check in filters.items():
        best = min(_timed(check, [t + " " * run for t in chunks]) for run in range(1, 4))
        print(f"  {label}: {1e6 * best / len(chunks):7.1f} µs")


def _timed(check: Filter, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        check(text)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
