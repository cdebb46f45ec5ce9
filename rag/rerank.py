"""Reranking of the fused candidates. No cross-encoder ships offline in a registry package (the
ones on PyPI download their weights at first use), so the scorer is built from what a question
and a passage show: the fused rank, the dense similarity, whether the passage states what the
question asks for (an amount, a time, ...), how many of the question's words it holds, and
whether it is the named brand's document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.asks import Ask, carries
from rag.retrieval import Passage
from rag.sparse import terms
from rag.text import sentences


@dataclass(frozen=True, slots=True)
class RerankWeights:
    rank: float = 0.25  # the fusion's own order, 1 for the first candidate down to 0
    similarity: float = 1.0
    cue: float = 0.12  # the passage states what is asked (the minutes, the fee)
    overlap: float = 0.25  # share of the question's words in the passage, its title and section
    brand: float = 0.3  # the named supplier's document (or, negated, another supplier's)


def rerank(
    passages: Sequence[Passage],
    *,
    query: str,
    wanted: frozenset[Ask],
    suppliers: Sequence[str] = (),
    weights: RerankWeights = RerankWeights(),
) -> list[Passage]:
    """``passages`` best first by the combined score; ``similarity`` is kept as it was, since
    the confidence rule is calibrated on it."""
    if not passages:
        return []
    query_terms = set(terms(query))
    named = [s.lower() for s in suppliers]
    scored = []
    for rank, p in enumerate(passages):
        head = f"{p.title} {' '.join(p.section)}"
        passage_terms = set(terms(f"{head} {p.text}"))
        overlap = len(query_terms & passage_terms) / len(query_terms) if query_terms else 0.0
        cue = max((carries(s, wanted) for s in sentences(p.text)), default=0.0)
        brand = 0.0
        if named:
            own = f"{p.supplier or ''} {p.title}".lower()
            brand = 1.0 if any(n in own for n in named) else -1.0 if p.supplier else 0.0
        score = (
            weights.rank * (1 - rank / len(passages))
            + weights.similarity * p.similarity
            + weights.cue * cue
            + weights.overlap * overlap
            + weights.brand * brand
        )
        scored.append((score, rank, p))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [replace(p, score=round(score, 4)) for score, _, p in scored]
