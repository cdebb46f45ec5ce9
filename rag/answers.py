"""Answers from policy documents: retrieved, cited and checked. Without an LLM the answer is
extractive (the sentences or table rows that answer the question, with their citations); below
the confidence floor Yatri says it does not know, and names the closest documents."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from core import tracing
from core.deadline import time_for_calls
from core.logging import get_logger
from rag.asks import Ask, asks, carries, is_condition, leans_back
from rag.brands import Coverage, decline_message
from rag.embeddings import EmbeddingPool, Vectors
from rag.hinglish import expanded_words, normalise_question
from rag.ranges import fit
from rag.rerank import contrast, rerank
from rag.retrieval import Passage, Retrieval, Retriever
from rag.sparse import terms
from rag.store import SearchFilter, SearchMode
from rag.text import sentences

log = get_logger(__name__)

NO_ANSWER = "I don't have that in our policies."
MAX_QUOTE_CHARS = 360
UNSEEN_PENALTY = 0.4
RERANK_POOL = 15  # fused candidates the reranker orders
CUE_WEIGHT = 0.15  # a sentence that states what is asked (the minutes, the fee)
OVERLAP_WEIGHT = 0.2  # share of the question's words in a sentence
BAND_WEIGHT = (
    0.3  # a row whose band holds the question's quantity ("2 days" in "24 hours to 3 days")
)
CONTRAST_WEIGHT = 0.2  # a sentence about the other side ("international" to a domestic question)
SENTENCE_CACHE = 8192  # sentence vectors kept between questions: policy text repeats


@dataclass(frozen=True, slots=True)
class Stages:
    """The answer pipeline's optional stages; all on in service, switched off one at a time by
    the quality bench to measure what each earns."""

    normalise: bool = True  # Hinglish phrases and conversational English, before retrieval
    rerank: bool = True  # reorder the fused candidates
    select_sentences: bool = True  # quote the sentence that states what is asked
    brands: bool = True  # decline questions about brands no document covers


class AnswerWriter(Protocol):
    """Writes an answer from passages; None when it declines or cannot be trusted."""

    async def write(self, question: str, passages: Sequence[Passage]) -> str | None: ...


def load_llm_writer(
    *, base_url: str, model: str, api_key: str, embeddings: EmbeddingPool
) -> AnswerWriter:
    """The langchain writer for an OpenAI-compatible endpoint. Imported only when configured:
    langchain adds ~2 s to every start-up otherwise."""
    module = importlib.import_module("rag.llm")
    writer: AnswerWriter = module.LlmAnswerWriter(
        base_url=base_url, model=model, api_key=api_key, embeddings=embeddings
    )
    return writer


@dataclass(frozen=True, slots=True)
class Citation:
    document: str  # the document id
    title: str
    section: str
    version: int
    uri: str | None  # the document's public web address; None when it has none
    quote: str
    supplier: str | None = None  # whose rules these are; None for Yatri's own


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    citations: list[Citation]
    confidence: float
    grounded: bool
    closest: list[Citation] = field(default_factory=list)
    generated: bool = False  # written by the configured LLM and validated


def _cite(passage: Passage, quote: str) -> Citation:
    return Citation(
        document=passage.doc_id,
        title=passage.title,
        section=" > ".join(passage.section),
        version=passage.doc_version,
        uri=public_uri(passage.uri),
        quote=quote,
        supplier=passage.supplier or None,
    )


def public_uri(source_uri: str) -> str | None:
    """`source_uri` when it is a public web address, without credentials, query or fragment;
    None for a server path (file://), an upload's name (upload://) or a private host, which
    would tell a traveller how Yatri's servers are laid out."""
    try:
        parts = urlsplit(source_uri)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or "." not in host or any(c.isspace() for c in host):
        return None
    if host.endswith((".local", ".internal", ".lan", ".corp", ".home", ".localhost")):
        return None
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(host).is_global:
            return None
    netloc = f"[{host}]" if ":" in host else host
    netloc = netloc if port is None else f"{netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class AnswerService:
    def __init__(
        self,
        *,
        retriever: Retriever,
        embeddings: EmbeddingPool,
        confidence_floor: float = 0.49,
        passages: int = 3,
        writer: AnswerWriter | None = None,
    ) -> None:
        self._retriever = retriever
        self._embeddings = embeddings
        self._writer = writer
        self.confidence_floor = confidence_floor
        self._passages = passages
        self._coverage: tuple[int, Coverage] | None = None
        self._sentence_vectors: OrderedDict[str, Vectors] = OrderedDict()

    async def confidence(self, question: str) -> float:
        """How confidently the documents answer ``question`` (the answer's own confidence),
        without writing the answer: understanding asks it of questions without a keyword."""
        return (await self._search(question, k=self._passages))[1]

    def _confidence(self, retrieval: Retrieval) -> float:
        # Similarity alone is fooled by questions on topics next to ours ("airport lounge" near
        # "airport check-in"); words no document contains are the tell, weighted by rarity.
        passages = retrieval.passages
        similarity = max((p.similarity for p in passages[: self._passages]), default=0.0)
        return similarity - UNSEEN_PENALTY * retrieval.unseen_share

    async def coverage(self) -> Coverage:
        """The brands the live documents cover, rebuilt when the live set changes."""
        live = await self._retriever.live()
        if self._coverage is None or self._coverage[0] != id(live):
            self._coverage = (id(live), Coverage.of(live.records.values()))
        return self._coverage[1]

    async def search(
        self,
        question: str,
        *,
        filter: SearchFilter | None = None,
        k: int = 5,
        mode: SearchMode = "hybrid",
        stages: Stages = Stages(),
    ) -> Retrieval:
        """The ``k`` best passages for ``question``: normalised, retrieved, then reranked."""
        return (await self._search(question, filter=filter, k=k, mode=mode, stages=stages))[0]

    async def _search(
        self,
        question: str,
        *,
        filter: SearchFilter | None = None,
        k: int = 5,
        mode: SearchMode = "hybrid",
        stages: Stages = Stages(),
    ) -> tuple[Retrieval, float]:
        """The passages and the confidence, which is judged on the fused order: reranking a
        wider pool must not lift a weak question over the floor."""
        query = question
        if stages.normalise:
            query = await self._without_inherited(normalise_question(question))
        pool = max(k, RERANK_POOL) if stages.rerank else k
        retrieval = await self._retriever.retrieve(query, filter=filter, k=pool, mode=mode)
        if stages.normalise and retrieval.unseen_terms:
            # "guitar" is searched as "musical instrument" too: an everyday word the documents
            # name otherwise is not a sign of an unknown topic. Unseen terms weigh the same (a
            # document frequency of 0), so the share shrinks in proportion.
            explained = set(terms(" ".join(expanded_words(question))))
            left = tuple(t for t in retrieval.unseen_terms if t not in explained)
            share = retrieval.unseen_share * len(left) / len(retrieval.unseen_terms)
            retrieval = replace(retrieval, unseen_terms=left, unseen_share=share)
        confidence = self._confidence(replace(retrieval, passages=retrieval.passages[:k]))
        if not stages.rerank:
            return retrieval, confidence
        named = (await self.coverage()).named_suppliers(question)
        ranked = rerank(
            retrieval.passages, query=retrieval.query, wanted=asks(retrieval.query), suppliers=named
        )
        return replace(retrieval, passages=ranked[:k]), confidence

    async def _without_inherited(self, question: str) -> str:
        """``question`` without brand names known only through their parent, unless the
        documents name them after all ("Sleeper Class" is a row of the railways' tables)."""
        stripped = (await self.coverage()).without_inherited(question)
        removed = set(terms(question)) - set(terms(stripped))
        if removed and not await self._retriever.unseen(removed):
            return question
        return stripped

    async def answer(
        self,
        question: str,
        *,
        filter: SearchFilter | None = None,
        mode: SearchMode = "hybrid",
        stages: Stages = Stages(),
    ) -> Answer:
        with tracing.span("policy.answer"):
            answer = await self._answer(question, filter=filter, mode=mode, stages=stages)
            tracing.set_attributes(grounded=answer.grounded, confidence=answer.confidence)
            return answer

    async def _answer(
        self,
        question: str,
        *,
        filter: SearchFilter | None,
        mode: SearchMode,
        stages: Stages,
    ) -> Answer:
        if stages.brands:
            coverage = await self.coverage()
            uncovered = coverage.uncovered(question)
            if uncovered:
                return Answer(
                    answer=decline_message(uncovered, coverage),
                    citations=[],
                    confidence=0.0,
                    grounded=False,
                )
        retrieval, confidence = await self._search(
            question, filter=filter, k=5, mode=mode, stages=stages
        )
        passages = retrieval.passages
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
        # The first passage (fused, then reranked), joined by what else the top passages hold
        # from the same section: the neighbouring rows of a fare table, the rest of a rule.
        candidates = [p for p in passages[: self._passages] if p.kind != "table"] or passages[:1]
        first = candidates[0]
        chosen = [first] + [
            p
            for p in candidates[1:]
            if (p.doc_id, p.section) == (first.doc_id, first.section)
            and (
                stages.rerank is False or fit(retrieval.query, p.text) >= 0
            )  # not another band's row
        ]
        wanted = asks(retrieval.query)
        quotes = [
            await self._quote(
                p, retrieval.question_vector, query=retrieval.query, wanted=wanted,
                select=stages.select_sentences,
            )
            for p in chosen
        ]  # fmt: skip
        return Answer(
            answer=" ".join(quotes),
            citations=[_cite(p, q) for p, q in zip(chosen, quotes, strict=True)],
            confidence=round(confidence, 3),
            grounded=True,
        )

    async def _quote(
        self,
        passage: Passage,
        question: Vectors,
        *,
        query: str,
        wanted: frozenset[Ask],
        select: bool,
    ) -> str:
        """A short passage whole; from a long one, the sentence that states what the question
        asks for (the amount, the time, the permission), closest in meaning and words, with the
        neighbour that carries its condition or its subject."""
        parts = sentences(passage.text)
        if len(passage.text) <= MAX_QUOTE_CHARS or len(parts) <= 2:
            return passage.text
        if not select:
            windows = [" ".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
            closeness = (await self._embed(windows)) @ question
            return windows[int(np.argmax(closeness))]
        query_terms = set(terms(query))
        similarity = (await self._embed(parts)) @ question
        scores = [
            float(similarity[i])
            + CUE_WEIGHT * carries(part, wanted)
            + OVERLAP_WEIGHT * _overlap(query_terms, part)
            - CONTRAST_WEIGHT * contrast(query, part)
            + (BAND_WEIGHT * fit(query, part) if passage.kind != "text" else 0.0)
            for i, part in enumerate(parts)
        ]
        best = int(np.argmax(scores))
        start, stop = best, best + 1
        if best > 0 and leans_back(parts[best]):
            start = best - 1
        if stop < len(parts) and is_condition(parts[stop]):
            stop += 1
        if (start, stop) == (best, best + 1):
            # No evident link: the next sentence for context, never the one before, so that
            # the sentence that answers is said first.
            stop = min(best + 2, len(parts))
        quote = " ".join(parts[start:stop])
        return quote if len(quote) <= MAX_QUOTE_CHARS * 1.5 else parts[best]

    async def _embed(self, texts: list[str]) -> Vectors:
        """Vectors for ``texts``, from the cache where seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._sentence_vectors]
        if missing:
            fresh = await self._embeddings.embed(missing)
            for text, vector in zip(missing, fresh, strict=True):
                self._sentence_vectors[text] = vector
            while len(self._sentence_vectors) > SENTENCE_CACHE:
                self._sentence_vectors.popitem(last=False)
        for t in texts:
            self._sentence_vectors.move_to_end(t)
        return np.stack([self._sentence_vectors[t] for t in texts])

    async def _generate(self, question: str, passages: list[Passage]) -> str | None:
        """The writer's answer, given no longer than the request leaves for outbound calls;
        None (answer extractively) when it fails, declines or runs out of time."""
        if self._writer is None:
            return None
        try:
            async with asyncio.timeout(time_for_calls()):
                return await self._writer.write(question, passages)
        except Exception as e:  # any failure of the optional model falls back to extraction
            log.warning("llm answer failed", error=type(e).__name__)
            return None


def _overlap(query_terms: set[str], sentence: str) -> float:
    return len(query_terms & set(terms(sentence))) / len(query_terms) if query_terms else 0.0
