"""What the sandbox hotel suppliers share: the faults (`HotelFaults`, plain fields changed at run
time), their errors, and `SandboxSupplier`, which serves snapshots of its own properties from the
inventory with the call faults applied (latency, errors, outages). A bulk supplier is exactly this.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hotels.models import Cell, Property, SupplierKind
from hotels.suppliers.base import Block, CursorExpiredError, HotelSupplierError
from hotels.suppliers.inventory import RT_INDEX, Inventory

MAX_SNAPSHOT_NIGHTS = 400
_SNAPSHOT_CHUNK = 256  # properties per step, so a big snapshot lets other tasks run between


@dataclass(slots=True)
class HotelFaults:
    """What the sandbox suppliers do wrong on purpose; change the fields at any time."""

    latency_ms: float = 0.0  # per call (snapshot, feed page, one push), +-50 % uniform
    error_rate: float = 0.0  # a call fails (snapshot, feed page) or a push does not get through
    outage: bool = False  # every call fails; pushes wait in the queue until it ends
    lost_push_rate: float = 0.0  # pushes dropped without a trace (counted in PushStats.lost)
    duplicate_rate: float = 0.0  # pushes sent twice; feed changes repeated within a page
    reorder: bool = False  # push batches shuffled and a quarter held back; feed pages shuffled


class UnknownPropertyError(HotelSupplierError):
    """The property belongs to another supplier."""


class FeedCursorExpired(CursorExpiredError):
    """The feed no longer has the changes after this cursor: resync from snapshots, then read
    on from `changes_since(None, ...)`."""


class SandboxSupplier:
    """What the three suppliers share: snapshots of their own properties, and the call faults."""

    def __init__(
        self, *, name: str, kind: SupplierKind, inventory: Inventory, faults: HotelFaults,
        rng: random.Random,
    ) -> None:  # fmt: skip
        self._name = name
        self._kind = kind
        self.inventory = inventory
        self.faults = faults
        self.rng = rng
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> SupplierKind:
        return self._kind

    async def snapshot(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> list[Cell]:
        """Every room type of each property for the nights, from the inventory (its versions)."""
        if not 1 <= nights <= MAX_SNAPSHOT_NIGHTS:
            raise ValueError(f"nights must be 1..{MAX_SNAPSHOT_NIGHTS}")
        foreign = next((p for p in props if p.supplier != self.name), None)
        if foreign is not None:
            raise UnknownPropertyError(f"{self.name} does not serve {foreign.hotel_id}",
                                       supplier=self.name, hotel_id=foreign.hotel_id)  # fmt: skip
        await self._call()
        out: list[Cell] = []
        for start in range(0, len(props), _SNAPSHOT_CHUNK):
            if start:
                await asyncio.sleep(0)
            chunk = props[start : start + _SNAPSHOT_CHUNK]
            numbers = np.array([p.number for p in chunk], dtype=np.int64)
            block = self.inventory.block(numbers, first_night=first_night, nights=nights)
            days = [first_night + dt.timedelta(days=d) for d in range(nights)]
            for i, prop in enumerate(chunk):
                for rt in prop.room_types:
                    r = RT_INDEX[rt]
                    rows = zip(days, block.available[i, r].tolist(), block.rate_paise[i, r].tolist(),
                               block.version[i, r].tolist(), strict=True)  # fmt: skip
                    out.extend(Cell(hotel_id=prop.hotel_id, room_type=rt, night=night,
                                    available=a, rate_paise=p, version=v)
                               for night, a, p, v in rows)  # fmt: skip
        return out

    async def snapshot_block(
        self, numbers: npt.NDArray[np.int64], *, first_night: dt.date, nights: int
    ) -> Block:
        """The snapshot as arrays (full loads, reconciliation); computed in a worker thread,
        in chunks, so a large destination does not hold the event loop."""
        if not 1 <= nights <= MAX_SNAPSHOT_NIGHTS:
            raise ValueError(f"nights must be 1..{MAX_SNAPSHOT_NIGHTS}")
        for n in numbers[:1].tolist() + numbers[-1:].tolist():
            if self.inventory.catalogue.supplier_of(int(n)) != self.name:
                raise UnknownPropertyError(f"{self.name} does not serve property {n}",
                                           supplier=self.name)  # fmt: skip
        await self._call()
        parts = []
        for start in range(0, len(numbers), _SNAPSHOT_CHUNK * 8):
            chunk = numbers[start : start + _SNAPSHOT_CHUNK * 8]
            parts.append(await asyncio.to_thread(self.inventory.block, chunk,
                                                 first_night=first_night, nights=nights))  # fmt: skip
        if not parts:
            return self.inventory.block(numbers, first_night=first_night, nights=nights)
        return Block(
            numbers=np.concatenate([b.numbers for b in parts]), first_night=first_night,
            available=np.concatenate([b.available for b in parts]),
            rate_paise=np.concatenate([b.rate_paise for b in parts]),
            version=np.concatenate([b.version for b in parts]),
        )  # fmt: skip

    def record(self, cell: Cell, *, available: bool, rate: bool) -> None:
        """A change of one of this supplier's cells (a bulk supplier tells no one)."""

    async def _call(self) -> None:
        """One call's faults: its latency, then an outage or an error."""
        self.calls += 1
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000 * (0.5 + self.rng.random()))
        if faults.outage:
            raise HotelSupplierError(f"{self.name} is down (injected outage)", supplier=self.name)
        if faults.error_rate > 0 and self.rng.random() < faults.error_rate:
            raise HotelSupplierError(f"{self.name} failed (injected error)", supplier=self.name)
