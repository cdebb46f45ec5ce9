"""The sandbox change-feed supplier (`sandbox-feed`, FEED): an append-only log of its properties'
changes, read with an opaque cursor and kept for a bounded number of changes; a cursor it no longer
has (too old, or from before a restart) raises `FeedCursorExpired`: resync from snapshots. Under
faults a page repeats and shuffles changes, never moving the cursor.
"""

from __future__ import annotations

import random

from hotels.models import Cell, SupplierKind
from hotels.suppliers.base import FeedPage
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox_base import FeedCursorExpired, HotelFaults, SandboxSupplier


class SandboxChangeFeed(SandboxSupplier):
    """An append-only change log; the cursor is "<epoch hex>-<sequence of the last change read>",
    the epoch telling this log from the one before a restart."""

    def __init__(
        self, *, name: str, inventory: Inventory, faults: HotelFaults, rng: random.Random,
        retention: int = 200_000,
    ) -> None:  # fmt: skip
        super().__init__(name=name, kind=SupplierKind.FEED, inventory=inventory, faults=faults,
                         rng=rng)  # fmt: skip
        if retention < 1:
            raise ValueError("retention must be positive")
        self.retention = retention
        self.epoch = f"{inventory.base_version:x}"
        self._log: list[Cell] = []
        self._first = 1  # the sequence number of _log[0]

    @property
    def last_seq(self) -> int:
        return self._first + len(self._log) - 1

    @property
    def oldest_seq(self) -> int:
        """The oldest change still kept."""
        return max(self._first, self.last_seq - self.retention + 1)

    def record(self, cell: Cell, *, available: bool, rate: bool) -> None:
        self._log.append(cell)
        if len(self._log) >= 2 * self.retention:  # trim in bulk: a list slice, not a deque walk
            drop = len(self._log) - self.retention
            del self._log[:drop]
            self._first += drop

    async def changes_since(self, cursor: str | None, *, limit: int) -> FeedPage:
        if limit < 1:
            raise ValueError("limit must be positive")
        await self._call()
        after = self.oldest_seq - 1 if cursor is None else self._after(cursor)
        if after + 1 < self.oldest_seq:
            raise FeedCursorExpired(f"{self.name} no longer has changes after this cursor",
                                    supplier=self.name, reason="cursor-expired")  # fmt: skip
        start = after + 1 - self._first
        cells = self._log[start : start + limit]
        next_cursor = f"{self.epoch}-{after + len(cells)}"
        faults = self.faults
        if faults.duplicate_rate > 0:
            cells = [c for c in cells
                     for _ in range(2 if self.rng.random() < faults.duplicate_rate else 1)]  # fmt: skip
        if faults.reorder:
            self.rng.shuffle(cells)
        return FeedPage(cells=cells, cursor=next_cursor)

    def _after(self, cursor: str) -> int:
        epoch, _, seq = cursor.partition("-")
        if epoch != self.epoch or not seq.isascii() or not seq.isdigit() or len(seq) > 15:
            raise FeedCursorExpired(f"{self.name} does not know this cursor", supplier=self.name,
                                    reason="cursor-unknown")  # fmt: skip
        after = int(seq)
        if after > self.last_seq:
            raise FeedCursorExpired(f"{self.name} has not reached this cursor",
                                    supplier=self.name, reason="cursor-unknown")  # fmt: skip
        return after
