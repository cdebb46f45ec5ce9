"""Answers from policy documents: retrieved, cited and checked. Without an LLM the answer is
extractive (the sentences or table rows that answer the question, with their citations); below
the confidence floor Yatri says it does not know, and names the closest documents."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.logging import get_logger
from rag.embeddings import EmbeddingPool
from rag.llm import LlmAnswerWriter
from rag.retrieval import Passage, Retriever
from rag.store import SearchFilter, SearchMode
from rag.text import sentences

log = get_logger(__name__)

NO_ANSWER = "I don't have that in our policies."

@dataclass(frozen=True, slots=True)
class Citation:
    document: str
    title: str
    section: str
    version: int
    uri: str
    quote: str


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    citations: list[Citation]
    confidence: float
    grounded: bool
    closest: list[Citation] = field(default_factory=list)
    generated: bool = False  # written by the configured LLM and validated


@dataclass(frozen=True, slots=True)
class _Unit:
    text: str
    passage: Passage
    rank: int


def _cite(passage: Passage, quote: str) -> Citation:
    return Citation(
        document=passage.doc_id,
        title=passage.title,
        section=" > ".join(passage.section),
        version=passage.doc_version,
        uri=passage.uri,
        quote=quote,
    )


class AnswerService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        embeddings: EmbeddingPool,
        confidence_floor: float = 0.45,
        passages: int = 3,
        writer: LlmAnswerWriter | None = None,
    ) -> None:
        self._retriever = retriever
        self._embeddings = embeddings
        self._writer = writer
        self.confidence_floor = confidence_floor
        self._passages = passages

    async def answer(
        self, question: str, *, filter: SearchFilter | None = None, mode: SearchMode = "hybrid"
    ) -> Answer:
        retrieval = await self._retriever.retrieve(question, filter=filter, k=5, mode=mode)
        passages = retrieval.passages
        confidence = max((p.similarity for p in passages[: self._passages]), default=0.0)
        if confidence < self.confidence_floor:
            return Answer(
                answer=NO_ANSWER,
                citations=[],
                confidence=round(confidence, 3),
                grounded=False,
                closest=[_cite(p, p.text[:200]) for p in passages[:3]],
            )
        if self._writer is not None:
            generated = await self._generate(question, passages[: self._passages])
            if generated is not None:
                return Answer(
                    answer=generated,
                    citations=[_cite(p, p.text) for p in passages[: self._passages]],
                    confidence=round(confidence, 3),
                    grounded=True,
                    generated=True,
                )
        units = self._units(passages[: self._passages])
        vectors = await self._embeddings.embed([u.text for u in units])
        scores = vectors @ retrieval.question_vector
        # A small prior for the passages retrieval ranked first.
        scores = scores + np.array([0.06 / (1 + u.rank) for u in units], dtype=np.float32)
        order = [int(i) for i in np.argsort(-scores)]
        chosen = [units[order[0]]]
        for i in order[1:3]:
            if scores[i] >= scores[order[0]] - 0.08 and units[i].text != chosen[0].text:
                chosen.append(units[i])
                break
        # Read in document order when both come from one passage.
        chosen.sort(key=lambda u: (u.rank, u.passage.text.find(u.text)))
        return Answer(
            answer=" ".join(u.text for u in chosen),
            citations=[_cite(u.passage, u.text) for u in chosen],
            confidence=round(confidence, 3),
            grounded=True,
        )

    async def _generate(self, question: str, passages: list[Passage]) -> str | None:
        if self._writer is None:
            return None
        try:
            return await self._writer.write(question, passages)
        except Exception as e:  # any failure of the optional model falls back to extraction
            log.warning("llm answer failed", error=type(e).__name__)
            return None

    @staticmethod
    def _units(passages: list[Passage]) -> list[_Unit]:
        units: list[_Unit] = []
        for rank, passage in enumerate(passages):
            if passage.kind == "table_row":
                units.append(_Unit(passage.text, passage, rank))
            elif passage.kind == "text":
                units.extend(_Unit(s, passage, rank) for s in sentences(passage.text))
        return units or [_Unit(p.text, p, r) for r, p in enumerate(passages)]
