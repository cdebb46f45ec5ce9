"""BM25 as sparse vectors: documents carry saturated term frequencies, queries carry IDF, so the
sparse dot product Qdrant computes is the BM25 score. Terms are hashed to stable indices, so no
vocabulary has to be shared between processes."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from rag.store import SparseVector

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "without",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "having",
        "not",
        "no",
        "yes",
        "if",
        "then",
        "than",
        "so",
        "as",
        "but",
        "about",
        "into",
        "over",
        "under",
        "up",
        "down",
        "out",
        "off",
        "again",
        "there",
        "here",
        "any",
        "all",
        "some",
        "each",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "too",
        "very",
        "s",
        "t",
        "just",
        "also",
        "please",
        "tell",
        "know",
        "want",
        "need",
        "get",
        "ka",
        "ki",
        "ke",
        "ko",
        "hai",
        "hain",
        "kya",
        "se",
        "me",
        "mein",
        "pe",
        "par",
        "aur",
        "bhi",
        "kaise",
        "kitna",
        "kitne",
        "kitni",
        "mujhe",
        "hum",
        "main",
        "tha",
        "thi",
        "much",
        "many",
        "anything",
        "something",
        "does",
    ]
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")


def stem(token: str) -> str:
    """A light suffix stripper: enough to meet "refunds"/"refunded"/"refund" in one term."""
    if token.isdigit() or len(token) <= 3:
        return token
    if len(token) == 4:
        return token[:-1] if token[-1] == "s" and token[-2] not in "siu" else token
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return token + "y"
            # "cancelled" and "cancel" should meet.
            return token[:-1] if len(token) > 4 and token[-1] == token[-2] == "l" else token
    return token


def terms(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") >> 1


@dataclass(frozen=True, slots=True)
class Bm25:
    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 60.0  # tokens in a typical chunk; chunks are size-bounded, so fixed is fine

    def document(self, text: str) -> tuple[SparseVector, frozenset[str]]:
        """The document's sparse vector and its distinct terms (for document frequencies)."""
        counts = Counter(terms(text))
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        ordered = sorted(weights.items())
        return (
            SparseVector(tuple(i for i, _ in ordered), tuple(w for _, w in ordered)),
            frozenset(counts),
        )

    @staticmethod
    def idf(df: int, *, n_docs: int) -> float:
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    def query(self, text: str, *, df: Mapping[str, int], n_docs: int) -> SparseVector:
        """IDF-weighted query terms; a term no document has is dropped."""
        weights: dict[int, float] = {}
        for term in set(terms(text)):
            freq = df.get(term, 0)
            if freq <= 0:
                continue
            weights[term_index(term)] = weights.get(term_index(term), 0.0) + self.idf(
                freq, n_docs=n_docs
            )
        ordered = sorted(weights.items())
        return SparseVector(tuple(i for i, _ in ordered), tuple(w for _, w in ordered))
