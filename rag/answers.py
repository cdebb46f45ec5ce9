"""Answers from policy documents: retrieved, cited and checked. Without an LLM the answer is
extractive (the sentences or table rows that answer the question, with their citations); below
the confidence floor Yatri says it does not know, and names the closest documents."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from core.deadline import time_for_calls
from core.logging import get_logger
from rag.embeddings import EmbeddingPool, Vectors
from rag.retrieval import Passage, Retrieval, Retriever
from rag.store import SearchFilter, SearchMode
from rag.text import sentences

log = get_logger(__name__)

NO_ANSWER = "I don't have that in our policies."
MAX_QUOTE_CHARS = 360
UNSEEN_PENALTY = 0.4


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
        confidence_floor: float = 0.5,
        passages: int = 3,
        writer: AnswerWriter | None = None,
    ) -> None:
        self._retriever = retriever
        self._embeddings = embeddings
        self._writer = writer
        self.confidence_floor = confidence_floor
        self._passages = passages

    async def confidence(self, question: str) -> float:
        """How confidently the documents answer ``question`` (the answer's own confidence),
        without writing the answer: understanding asks it of questions without a keyword."""
        retrieval = await self._retriever.retrieve(question, k=self._passages)
        return self._confidence(retrieval)

    def _confidence(self, retrieval: Retrieval) -> float:
        # Similarity alone is fooled by questions on topics next to ours ("airport lounge" near
        # "airport check-in"); words no document contains are the tell, weighted by rarity.
        passages = retrieval.passages
        similarity = max((p.similarity for p in passages[: self._passages]), default=0.0)
        return similarity - UNSEEN_PENALTY * retrieval.unseen_share

    async def answer(
        self, question: str, *, filter: SearchFilter | None = None, mode: SearchMode = "hybrid"
    ) -> Answer:
        retrieval = await self._retriever.retrieve(question, filter=filter, k=5, mode=mode)
        passages = retrieval.passages
        confidence = self._confidence(retrieval)
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
        # Retrieval's first passage (its fusion of meaning and exact terms ranks better than
        # similarity alone), joined by what else the top passages hold from the same section:
        # the neighbouring rows of a fare table, the rest of a rule.
        candidates = [p for p in passages[: self._passages] if p.kind != "table"] or passages[:1]
        first = candidates[0]
        chosen = [first] + [
            p for p in candidates[1:] if (p.doc_id, p.section) == (first.doc_id, first.section)
        ]
        quotes = [await self._quote(p, retrieval.question_vector) for p in chosen]
        return Answer(
            answer=" ".join(quotes),
            citations=[_cite(p, q) for p, q in zip(chosen, quotes, strict=True)],
            confidence=round(confidence, 3),
            grounded=True,
        )

    async def _quote(self, passage: Passage, question: Vectors) -> str:
        """A short passage whole; from a long one, the two consecutive sentences closest to
        the question."""
        parts = sentences(passage.text)
        if len(passage.text) <= MAX_QUOTE_CHARS or len(parts) <= 2:
            return passage.text
        windows = [" ".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
        scores = (await self._embeddings.embed(windows)) @ question
        return windows[int(np.argmax(scores))]

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
