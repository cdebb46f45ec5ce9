"""Reranking of the fused candidates. No cross-encoder ships offline in a registry package (the
ones on PyPI download their weights at first use), so the scorer is built from what a question
and a passage show: the fused rank, the dense similarity, whether the passage states what the
question asks for (an amount, a time, ...), how many of the question's words it holds, and
whether it is the named brand's document."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.asks import Ask, carries
from rag.ranges import fit
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
    contrast: float = 0.2  # the passage is about the other side of a pair the question names
    band: float = 0.15  # a table row whose band holds the question's quantity (or, negated, not)


# Qualifiers that split a rule in two: a question about one side is not answered by a passage
# about the other ("web check-in for domestic flights" is not the international routes' rule).
# Where ``assumed`` is set, a question that names neither side is taken to be about the first
# (an Indian marketplace's traveller flies domestic unless they say otherwise).
@dataclass(frozen=True, slots=True)
class _Pair:
    first: re.Pattern[str]
    second: re.Pattern[str]
    assumed: bool


def _pair(first: str, second: str, *, assumed: bool = False) -> _Pair:
    return _Pair(re.compile(first, re.IGNORECASE), re.compile(second, re.IGNORECASE), assumed)


_CONTRASTS = (
    _pair(r"\b(?:domestic|within india)\b", r"\b(?:international|abroad|videsh|overseas)\b",
          assumed=True),
    _pair(r"\bnon[- ]?ac\b", r"(?<!non-)(?<!non )\bac\b(?![- ]?(?:1|2|3|first|chair))"),
    _pair(r"\bconfirmed\b", r"\b(?:waitlisted|waiting list|rac)\b"),
)  # fmt: skip


def contrast(question: str, text: str) -> float:
    """1 when ``text`` speaks only of the side of a pair that ``question`` does not ask about;
    0.5 when the question names neither side and the text is only about the exceptional one."""
    worst = 0.0
    for pair in _CONTRASTS:
        asks = (bool(pair.first.search(question)), bool(pair.second.search(question)))
        has = (bool(pair.first.search(text)), bool(pair.second.search(text)))
        if asks in ((True, False), (False, True)) and has == (not asks[0], not asks[1]):
            worst = 1.0
        elif pair.assumed and asks == (False, False) and has == (False, True):
            worst = max(worst, 0.5)
    return worst


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
            - weights.contrast * contrast(query, f"{head} {p.text}")
            + weights.band * (fit(query, p.text) if p.kind != "text" else 0.0)
        )
        scored.append((score, rank, p))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [replace(p, score=round(score, 4)) for score, _, p in scored]
