"""Brands a traveller names (airlines, hotel chains, bus operators, trains and rail classes) and
whether the live documents cover them. A question about a brand no document covers is declined
with the brands that are covered, never answered from another brand's rules.

The brands asked about come from a general list of real ones (``assets/brands/brands.tsv``); the
brands covered come from the live documents' supplier and title, so a new supplier's documents
are covered as soon as they are published."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rag.catalog import DocumentRecord

BRANDS_PATH = Path(__file__).parent / "assets" / "brands" / "brands.tsv"
_VERTICAL = {"airline": "flights", "hotel": "hotels", "bus": "buses", "rail": "trains"}
# Words that name a kind of business, not a brand: "SkyIndia Airways" is named by "SkyIndia".
_GENERIC = frozenset(
    [
        "airways",
        "airlines",
        "airline",
        "air",
        "aviation",
        "hotels",
        "hotel",
        "resorts",
        "resort",
        "group",
        "travels",
        "travel",
        "tours",
        "bus",
        "buses",
        "railways",
        "railway",
        "rail",
        "limited",
        "ltd",
        "pvt",
        "private",
        "the",
        "and",
        "of",
        "e-ticket",
        "india",
        "indian",
        "international",
        "express",
        "policy",
    ]
)


@dataclass(frozen=True, slots=True)
class Brand:
    kind: str  # airline | hotel | bus | rail
    name: str
    names: tuple[str, ...]  # the name and its other names, lower case
    part_of: str | None  # the brand whose documents cover this one (a train of Indian Railways)

    @property
    def vertical(self) -> str:
        return _VERTICAL[self.kind]


def _pattern(names: Iterable[str]) -> re.Pattern[str]:
    alternatives = sorted((re.escape(n) for n in names if n), key=len, reverse=True)
    return re.compile(rf"(?<![\w]){'|'.join(alternatives)}(?![\w])", re.IGNORECASE)


@cache
def gazetteer() -> tuple[Brand, ...]:
    brands = []
    for line in BRANDS_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, name, others, *rest = (line.split("\t") + ["", ""])[:4]
        names = (name, *(o for o in others.split("|") if o.strip()))
        brands.append(
            Brand(
                kind=kind,
                name=name,
                names=tuple(n.strip().lower() for n in names),
                part_of=(rest[0].strip() or None) if rest else None,
            )
        )
    return tuple(brands)


@cache
def _brand_patterns() -> tuple[tuple[Brand, re.Pattern[str]], ...]:
    return tuple((b, _pattern(b.names)) for b in gazetteer())


def named_brands(text: str) -> list[Brand]:
    """The known brands ``text`` names, longest name first ("Air India Express", not "Air
    India", when both could match)."""
    found: list[tuple[int, int, Brand]] = []
    for brand, pattern in _brand_patterns():
        for m in pattern.finditer(text):
            found.append((m.start(), m.end(), brand))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    chosen: list[Brand] = []
    end = -1
    for start, stop, brand in found:
        if start >= end and brand not in chosen:
            chosen.append(brand)
            end = stop
    return chosen


def _distinctive(name: str) -> list[str]:
    """The words of a supplier's name that tell it apart: "skyindia" of "SkyIndia Airways"."""
    words = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)?", re.sub(r"\([^)]*\)", " ", name.lower()))
    return [w for w in words if w not in _GENERIC and len(w) > 2]


@dataclass(frozen=True, slots=True)
class Coverage:
    """The brands the live documents cover."""

    suppliers: tuple[tuple[str, str], ...]  # (supplier as the documents name it, vertical)
    text: str  # every live supplier and title, lower case, for name look-ups

    @classmethod
    def of(cls, records: Iterable[DocumentRecord]) -> Coverage:
        records = list(records)
        suppliers = sorted(
            {
                ((r.supplier or "").strip(), r.vertical)
                for r in records
                if (r.supplier or "").strip()
            }
        )
        text = " | ".join(f"{r.supplier or ''} | {r.title}" for r in records).lower()
        return cls(suppliers=tuple(suppliers), text=text)

    def covers(self, brand: Brand) -> bool:
        by_name = {b.name: b for b in gazetteer()}
        parent = by_name.get(brand.part_of) if brand.part_of else None
        names = brand.names + (parent.names if parent else ())
        return bool(_pattern(names).search(self.text))

    def without_inherited(self, question: str) -> str:
        """``question`` without the names of brands covered only through their parent ("Rajdhani
        Express" when Indian Railways' rules are live): no document names them, so they would
        count against the question as words we have never seen."""
        for brand in named_brands(question):
            if brand.part_of and self.covers(brand) and not _pattern(brand.names).search(self.text):
                question = _pattern(brand.names).sub(" ", question)
        return re.sub(r"\s+", " ", question).strip()

    def uncovered(self, question: str) -> list[Brand]:
        """Brands ``question`` names that no live document covers; empty when it also names a
        covered supplier (a comparison is answered from the one we have)."""
        if self.named_suppliers(question):
            return []
        return [b for b in named_brands(question) if not self.covers(b)]

    def named_suppliers(self, question: str) -> list[str]:
        """Covered suppliers that ``question`` names, by their distinctive words."""
        lowered = question.lower()
        named = []
        for supplier, _ in self.suppliers:
            words = _distinctive(supplier)
            if words and any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lowered) for w in words):
                named.append(supplier)
        return named

    def covered_names(self, vertical: str | None = None) -> list[str]:
        """Covered suppliers, those of ``vertical`` when there are any."""
        same = [s for s, v in self.suppliers if v == vertical]
        return same or [s for s, _ in self.suppliers]


def decline_message(brands: list[Brand], coverage: Coverage) -> str:
    asked = brands[0]
    covered = coverage.covered_names(asked.vertical)
    listed = ", ".join(covered[:-1]) + (f" and {covered[-1]}" if len(covered) > 1 else covered[0])
    possessive = f"{asked.name}'" if asked.name.endswith("s") else f"{asked.name}'s"
    if not covered:
        return f"I don't have {possessive} rules in our policies."
    return f"Our policies cover {listed}; I don't have {possessive} rules."
