"""Understanding accuracy on a labelled set written apart from the examples
(`bench/data/dialogue_utterances.jsonl`: SGD user turns mapped to Yatri's intents, CC BY-SA 4.0,
plus hand-written English, Hinglish and Devanagari utterances with slot labels). Prints intent
accuracy (all, by language, by source) and slot F1 per slot for the retrieval parser and, in the
same run, the rule-based baseline (`intents/nlu.py` behind the parser port).

    python bench/intent_eval.py [--errors]

Today is fixed at 2026-11-25 (the labels' dates depend on it). No policy documents are indexed
here, so policy questions are recognised by their examples alone.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.airports import load_airports  # noqa: E402
from intents.classifier import ExampleIndex  # noqa: E402
from intents.legacy import RuleParser  # noqa: E402
from intents.parse import IntentParser, ParseContext  # noqa: E402
from intents.parser import RetrievalIntentParser  # noqa: E402
from intents.places import common_words  # noqa: E402
from rag.edge import EdgeStore  # noqa: E402
from rag.embeddings import EmbeddingPool, OnnxMiniLM  # noqa: E402

DATA = Path(__file__).with_name("data") / "dialogue_utterances.jsonl"
TODAY = dt.date(2026, 11, 25)


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


async def evaluate(
    name: str, parser: IntentParser, rows: list[dict[str, Any]], *, errors: bool
) -> None:
    right = 0
    by: dict[str, Counter[str]] = defaultdict(Counter)
    slot_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        context = ParseContext(**row["context"]) if row.get("context") else None
        parse = await parser.parse(row["text"], today=TODAY, context=context)
        # A few turns are fairly read two ways ("yes, go ahead" to "shall I book it?").
        ok = parse.intent.value in (row["intent"], *row.get("also", ()))
        right += ok
        for group in ("language", "source"):
            by[f"{group}={row[group]}"]["n"] += 1
            by[f"{group}={row[group]}"]["ok"] += ok
        if errors and not ok:
            print(f"  intent  {row['text']!r}: {parse.intent.value} (want {row['intent']})")
        if row["slots"] is None:
            continue
        gold = {(n, key(v)) for n, v in row["slots"].items()}
        said = {(s.name, key(s.normalized)) for s in parse.slots}
        for n, _ in gold | said:
            slot_counts[n]["tp"] += len({g for g in gold & said if g[0] == n})
            slot_counts[n]["fp"] += len({p for p in said - gold if p[0] == n})
            slot_counts[n]["fn"] += len({g for g in gold - said if g[0] == n})
        if errors and gold != said:
            print(
                f"  slots   {row['text']!r}: missing {sorted(gold - said)} extra {sorted(said - gold)}"
            )
    print(f"\n{name}: intent accuracy {100 * right / len(rows):.1f} % ({right}/{len(rows)})")
    for group, c in sorted(by.items()):
        print(f"  {group:22} {100 * c['ok'] / c['n']:5.1f} % of {c['n']}")
    total = Counter[str]()
    print("  slot F1 (per slot, over labelled rows):")
    for n in sorted(slot_counts):
        c = slot_counts[n]
        total.update(c)
        print(f"    {n:18} {100 * f1(c):5.1f} %  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})")
    print(f"  slot F1 (micro, all slots): {100 * f1(total):.1f} %")


def f1(c: Counter[str]) -> float:
    denominator = 2 * c["tp"] + c["fp"] + c["fn"]
    return 2 * c["tp"] / denominator if denominator else 1.0


async def main() -> None:
    parser_args = argparse.ArgumentParser(description=__doc__)
    parser_args.add_argument("--errors", action="store_true", help="print every miss")
    args = parser_args.parse_args()
    rows = load()
    airports = load_airports()
    store = EdgeStore.open(Path(tempfile.mkdtemp(prefix="yatri-intents-")), collection="intents")
    pool = EmbeddingPool(OnnxMiniLM.load())
    try:
        retrieval = await RetrievalIntentParser.start(
            index=ExampleIndex(store=store, embeddings=pool),
            airports=airports,
            common_words=common_words(),
        )
        print(f"{len(rows)} utterances; {len(retrieval.catalogue.examples)} examples indexed")
        await evaluate("retrieval parser (intents/parser.py)", retrieval, rows, errors=args.errors)
        await evaluate("baseline: rules (intents/nlu.py)", RuleParser(airports), rows, errors=False)
    finally:
        await store.close()
        pool.close()


if __name__ == "__main__":
    asyncio.run(main())
