"""What ingesting a document would change, chunk by chunk, before anything is published."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True, slots=True)
class ChunkChanges:
    """The new version's chunks against the live one's, by content hash (title and section
    included, so a chunk counts as updated exactly when it would be embedded again)."""

    added: int
    updated: int
    unchanged: int
    removed: int


def diff_chunks(before: Sequence[str], after: Sequence[str]) -> ChunkChanges:
    """Align the two hash sequences: a chunk edited in place is updated, not removed and added;
    chunks inserted or deleted around it are added or removed."""
    added = updated = unchanged = removed = 0
    matcher = SequenceMatcher(a=list(before), b=list(after), autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        old, new = a_end - a_start, b_end - b_start
        if tag == "equal":
            unchanged += new
        else:  # replace, insert, delete
            updated += min(old, new)
            added += max(new - old, 0)
            removed += max(old - new, 0)
    return ChunkChanges(added=added, updated=updated, unchanged=unchanged, removed=removed)
