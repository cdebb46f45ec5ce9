"""Retrieval and answer quality on the shipped question set (examples/policies/questions.jsonl):
recall@1/@5, MRR and nDCG@10 against the gold document section, the share of answers that
contain the gold fact, and no-answer accuracy; hybrid (dense + BM25, RRF) and dense-only side by
side in the same run, over the same ingested corpus.

    python bench/rag_eval.py [--engine edge|qdrant-local] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
from collections import Counter
from typing import Any

from _knowledge import CORPUS, ingest_corpus, knowledge_app

from rag.answers import NO_ANSWER
from rag.retrieval import Passage
from rag.store import SearchMode


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def relevant(passage: Passage, q: dict[str, Any]) -> bool:
    if passage.doc_id != q["doc_id"]:
        return False
    gold = norm(q["section"] or "")
    return not gold or any(gold == norm(s) for s in passage.section) or gold in norm(passage.text)


async def evaluate(
    services: Any, questions: list[dict[str, Any]], mode: SearchMode, misses: bool
) -> dict[str, float]:
    k = services.knowledge
    stats: Counter[str] = Counter()
    rr, ndcg = 0.0, 0.0
    answerable = [q for q in questions if q["doc_id"]]
    unanswerable = [q for q in questions if not q["doc_id"]]
    for q in answerable:
        found = (await k.retriever.retrieve(q["question"], k=10, mode=mode)).passages
        flags = [relevant(p, q) for p in found]
        docs = [p.doc_id == q["doc_id"] for p in found]
        stats["r1"] += any(flags[:1])
        stats["r5"] += any(flags[:5])
        stats["doc_r1"] += any(docs[:1])
        stats["doc_r5"] += any(docs[:5])
        first = next((i for i, f in enumerate(flags) if f), None)
        rr += 1 / (first + 1) if first is not None else 0.0
        dcg = sum(1 / math.log2(i + 2) for i, f in enumerate(flags) if f)
        ideal = sum(1 / math.log2(i + 2) for i in range(max(1, sum(flags))))
        ndcg += dcg / ideal
        answer = await k.answers.answer(q["question"], mode=mode)
        contains = all(norm(fact) in norm(answer.answer) for fact in q["answer_contains"])
        stats["fact"] += contains
        stats["false_no_answer"] += answer.answer == NO_ANSWER
        if misses and not contains:
            print(f"  MISS [{mode}] {q['id']} {q['question']!r} -> {answer.answer[:140]!r} "
                  f"(conf {answer.confidence}, want {q['answer_contains']} in {q['doc_id']})")  # fmt: skip
    for q in unanswerable:
        answer = await k.answers.answer(q["question"], mode=mode)
        stats["no_answer_ok"] += answer.answer == NO_ANSWER
        if misses and answer.answer != NO_ANSWER:
            print(
                f"  ANSWERED [{mode}] {q['id']} {q['question']!r} -> {answer.answer[:100]!r} (conf {answer.confidence})"
            )
    n, m = len(answerable), max(1, len(unanswerable))
    return {
        "section recall@1": stats["r1"] / n, "section recall@5": stats["r5"] / n,
        "document recall@1": stats["doc_r1"] / n, "document recall@5": stats["doc_r5"] / n,
        "MRR (section)": rr / n, "nDCG@10 (section)": ndcg / n,
        "answer contains gold fact": stats["fact"] / n,
        "answerable answered 'don't know'": stats["false_no_answer"] / n,
        "no-answer accuracy": stats["no_answer_ok"] / m,
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="edge", choices=["edge", "qdrant-local"])
    parser.add_argument("--misses", action="store_true", help="print every miss")
    args = parser.parse_args()
    questions = [
        json.loads(line)
        for line in (CORPUS / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    async with knowledge_app(vector_engine=args.engine) as services:
        chunks, seconds = await ingest_corpus(services)
        results = {
            mode: await evaluate(services, questions, mode, args.misses)
            for mode in ("hybrid", "dense")
        }
    kinds = Counter(q["kind"] for q in questions)
    print(f"corpus: {chunks} chunks ingested in {seconds:.1f} s; engine {args.engine}")
    print(
        f"questions: {len(questions)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"
    )
    print(f"{'metric':<36}{'hybrid':>10}{'dense':>10}")
    for metric in results["hybrid"]:
        print(f"{metric:<36}{results['hybrid'][metric]:>10.3f}{results['dense'][metric]:>10.3f}")


if __name__ == "__main__":
    asyncio.run(main())
