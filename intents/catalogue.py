"""The labelled example utterances each intent is recognised by: a YAML file content teams edit
without code (`intents/examples.yaml`: intent name -> list of utterances), and its content hash,
which decides when the examples are indexed again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from intents.models import Intent

EXAMPLES_PATH = Path(__file__).with_name("examples.yaml")
# Intents the examples must cover; `unknown` is the legacy reader's, never predicted here.
REQUIRED = frozenset(Intent) - {Intent.UNKNOWN}


class CatalogueError(ValueError):
    """The examples file is not a mapping of known intents to lists of utterances."""


@dataclass(frozen=True, slots=True)
class Example:
    intent: Intent
    text: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    examples: tuple[Example, ...]
    digest: str  # sha256 of the file's bytes

    @property
    def version(self) -> int:
        """The digest as a positive 48-bit integer (a payload field the stores index)."""
        return int(self.digest[:12], 16)


def load_catalogue(path: Path = EXAMPLES_PATH) -> Catalogue:
    return parse_catalogue(path.read_bytes(), path=path)


def digest_of(raw: bytes) -> str:
    """The examples file's identity: a change of content, not of modification time."""
    return hashlib.sha256(raw).hexdigest()


def parse_catalogue(raw: bytes, *, path: Path = EXAMPLES_PATH) -> Catalogue:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise CatalogueError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: expected a mapping of intent names to example lists")
    examples: list[Example] = []
    for name, texts in data.items():
        try:
            intent = Intent(name)
        except ValueError as e:
            raise CatalogueError(f"{path}: unknown intent {name!r}") from e
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            raise CatalogueError(f"{path}: {name} must list non-empty strings")
        examples.extend(Example(intent, t.strip()) for t in texts)
    missing = REQUIRED - {e.intent for e in examples}
    if missing:
        raise CatalogueError(f"{path}: no examples for {sorted(missing)}")
    return Catalogue(tuple(examples), digest_of(raw))
