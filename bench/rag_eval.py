"""Retrieval and answer quality on the shipped question set (examples/policies/questions.jsonl),
with each stage of the answer pipeline switched off in turn: Hinglish / conversational
normalisation, reranking, sentence selection and the brand check.

Every question carries a split: the confidence floor is calibrated on "dev" (the floor that
answers most answerable questions with their gold fact while declining the unanswerable) and
the figures are reported on "test", which calibration never sees; "all" is both. Metrics:
section recall@5, gold facts in the answer (answerable questions whose answer holds every gold
fact), unanswerable declined, brand-mismatch declined (questions about a brand no document
covers), and answerable questions wrongly declined.

    python bench/rag_eval.py [--engine edge|qdrant-local] [--embedding-engine NAME] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from _knowledge import CORPUS, ingest_corpus, knowledge_app

from rag.answers import Stages
from rag.retrieval import Passage

CONFIGS = {
    "all stages": Stages(),
    "no normalisation": Stages(normalise=False),
    "no rerank": Stages(rerank=False),
    "no sentence selection": Stages(select_sentences=False),
    "no brand check": Stages(brands=False),
    "none (round 1)": Stages(normalise=False, rerank=False, select_sentences=False, brands=False),
}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def relevant(passage: Passage, q: dict[str, Any]) -> bool:
    if passage.doc_id != q["doc_id"]:
        return False
    gold = norm(q["section"] or "")
    return not gold or any(gold == norm(s) for s in passage.section) or gold in norm(passage.text)


@dataclass(slots=True)
class Outcome:
    q: dict[str, Any]
    recall5: bool
    confidence: float
    has_fact: bool
    brand_declined: bool  # declined by the brand check, before any confidence rule
    answer: str


async def run(services: Any, questions: list[dict[str, Any]], stages: Stages) -> list[Outcome]:
    answers = services.knowledge.answers
    answers.confidence_floor = -1.0  # every confidence is seen; floors are applied afterwards
    outcomes = []
    for q in questions:
        recall5 = False
        if q["doc_id"]:
            found = (await answers.search(q["question"], k=5, stages=stages)).passages
            recall5 = any(relevant(p, q) for p in found)
        answer = await answers.answer(q["question"], stages=stages)
        facts = q["answer_contains"]
        outcomes.append(
            Outcome(
                q=q,
                recall5=recall5,
                confidence=answer.confidence,
                has_fact=bool(facts) and all(norm(f) in norm(answer.answer) for f in facts),
                brand_declined=not answer.grounded,
                answer=answer.answer,
            )
        )
    return outcomes


def declined(o: Outcome, floor: float) -> bool:
    return o.brand_declined or o.confidence < floor


def metrics(outcomes: list[Outcome], floor: float) -> dict[str, float]:
    answerable = [o for o in outcomes if o.q["doc_id"]]
    unanswerable = [o for o in outcomes if not o.q["doc_id"] and o.q["kind"] != "brand_mismatch"]
    brands = [o for o in outcomes if o.q["kind"] == "brand_mismatch"]

    def share(items: list[Outcome], test: Any) -> float:
        return sum(1 for o in items if test(o)) / len(items) if items else float("nan")

    return {
        "section recall@5": share(answerable, lambda o: o.recall5),
        "gold facts in the answer": share(
            answerable, lambda o: o.has_fact and not declined(o, floor)
        ),
        "unanswerable declined": share(unanswerable, lambda o: declined(o, floor)),
        "brand-mismatch declined": share(brands, lambda o: declined(o, floor)),
        "answerable wrongly declined": share(answerable, lambda o: declined(o, floor)),
    }


def calibrate(outcomes: list[Outcome]) -> float:
    """The floor that does best on the development split: answerable questions answered with
    their gold fact and unanswerable ones declined, each weighted by its share."""
    dev = [o for o in outcomes if o.q["split"] == "dev"]
    floors = sorted({round(o.confidence, 3) for o in dev} | {0.0})
    best, best_score = 0.0, -1.0
    for floor in floors:
        m = metrics(dev, floor)
        score = m["gold facts in the answer"] + m["unanswerable declined"]
        if score > best_score + 1e-9:
            best, best_score = floor, score
    return best


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="edge", choices=["edge", "qdrant-local"])
    parser.add_argument(
        "--embedding-engine", default=None, choices=["onnx", "onnx-l3", "onnx-int8-weights"],
        help="the embedding engine (default: the settings' default)",
    )  # fmt: skip
    parser.add_argument("--misses", action="store_true", help="print every miss (all stages)")
    parser.add_argument("--only", choices=list(CONFIGS), help="run one configuration")
    args = parser.parse_args()
    questions = [
        json.loads(line)
        for line in (CORPUS / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    configs = {args.only: CONFIGS[args.only]} if args.only else CONFIGS
    overrides = {"embedding_engine": args.embedding_engine} if args.embedding_engine else {}
    async with knowledge_app(vector_engine=args.engine, **overrides) as services:
        chunks, seconds = await ingest_corpus(services)
        results = {name: await run(services, questions, s) for name, s in configs.items()}
    floors = {name: calibrate(outcomes) for name, outcomes in results.items()}
    kinds = Counter(q["kind"] for q in questions)
    splits = Counter(q["split"] for q in questions)
    print(f"corpus: {chunks} chunks ingested in {seconds:.1f} s; engine {args.engine}; hybrid; "
          f"embedding engine {args.embedding_engine or 'default'}")  # fmt: skip
    print(
        f"questions: {len(questions)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"
    )
    print(f"split: dev {splits['dev']} (confidence floor calibrated here), test {splits['test']}")
    for split in ("test", "dev", "all"):
        print(f"\n[{split}]{'':<30}" + "".join(f"{name[:14]:>16}" for name in results))
        print(
            f"{'confidence floor (from dev)':<37}" + "".join(f"{floors[n]:>16.3f}" for n in results)
        )
        rows: dict[str, list[float]] = {}
        for name, outcomes in results.items():
            chosen = [o for o in outcomes if split == "all" or o.q["split"] == split]
            for metric, value in metrics(chosen, floors[name]).items():
                rows.setdefault(metric, []).append(value)
        for metric, values in rows.items():
            print(f"{metric:<37}" + "".join(f"{v:>16.3f}" for v in values))
    if args.misses:
        name = next(iter(results))
        floor = floors[name]
        print(f"\nmisses ({name}, floor {floor:.3f}):")
        for o in results[name]:
            q = o.q
            if q["doc_id"] and (not o.has_fact or declined(o, floor)):
                print(f"  MISS {q['id']} [{q['split']}] {q['question']!r} -> {o.answer[:150]!r} "
                      f"(conf {o.confidence}, r@5 {o.recall5}, want {q['answer_contains']} in {q['doc_id']})")  # fmt: skip
            elif not q["doc_id"] and not declined(o, floor):
                print(f"  ANSWERED {q['id']} [{q['split']}] {q['question']!r} -> {o.answer[:100]!r} (conf {o.confidence})")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
