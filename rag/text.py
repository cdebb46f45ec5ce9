"""Sentence splitting that knows Indian price and abbreviation forms ("Rs. 500", "No. 3")."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(
    r"(?<!\bRs\.)(?<!\bNo\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bapprox\.)(?<=[.!?])\s+(?=[A-Z0-9\"(₹])"
)


def sentences(text: str) -> list[str]:
    parts: list[str] = []
    for line in text.splitlines():
        parts.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return parts
