"""Availability in Redis, compact enough for 500,000 properties x a rolling window.

Layout (``{d}`` is the destination as a hash tag, so one destination's keys share a cluster slot
and a Lua script may touch them together):

* ``<ns>:h:{d}:a:<number>`` - one string per property: for each of its room types, a ring of
  ``window_days + 1`` slots (slot = the night's ordinal modulo that), 20 bytes a slot: the night
  (ordinal & 0xFFFF, so an old night left in a slot is never read as a new one), rooms left
  (u16), the nightly rate in paise before tax (u32), and the supplier's version of each of the
  two (u48).
* ``<ns>:h:{d}:m:<ordinal>`` - the destination's search array for a night: for each property, by
  position, the cheapest rate of a room type with a room left (u32, 0 = none). Written by the
  same script that writes the cell, so search never sees one without the other.

A change is applied by a Lua script that compares versions first: not newer, not written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from redis.asyncio import RedisCluster
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError
from core.redis_conn import RedisClient
from hotels.models import ROOM_TYPES, ApplyCounts, Cell, Property, RoomType
from hotels.redis_scripts import APPLY, REFRESH
from hotels.store import StoredBlock, StoredCell

SIZE = 20
NO_VALUE = -1  # a change that leaves rooms left or the rate as they are
_RT_INDEX = {rt: i for i, rt in enumerate(ROOM_TYPES)}

_APPLY_CHUNK = 256  # changes per script call: long scripts would stall other clients


def day_code(night: dt.date) -> int:
    return night.toordinal() & 0xFFFF


class RedisAvailabilityStore:
    def __init__(self, *, redis: RedisClient, namespace: str, window_days: int) -> None:
        self._redis = redis
        self._ns = f"{namespace}:h"
        self.window_days = window_days
        self.ring = window_days + 1
        self._cluster = isinstance(redis, RedisCluster)
        self._apply = redis.register_script(APPLY)
        self._refresh = redis.register_script(REFRESH)

    def property_key(self, prop: Property) -> str:
        return f"{self._ns}:{{{prop.destination}}}:a:{prop.number}"

    def night_key(self, destination: str, night: dt.date) -> str:
        return f"{self._ns}:{{{destination}}}:m:{night.toordinal()}"

    async def apply(self, cells: Sequence[tuple[Property, Cell]]) -> ApplyCounts:
        outcomes = await self.apply_each(cells)
        return ApplyCounts(applied=outcomes.count("a"), duplicate=outcomes.count("d"),
                           stale=outcomes.count("s"), rejected=outcomes.count("r"))  # fmt: skip

    async def apply_each(self, cells: Sequence[tuple[Property, Cell]]) -> str:
        """`apply`, with each change's outcome in order: a(pplied), d(uplicate), s(tale) or
        r(ejected: a room type the property does not have)."""
        outcomes = ["r"] * len(cells)
        by_destination: dict[str, list[int]] = {}
        for i, (prop, cell) in enumerate(cells):
            if cell.room_type in prop.room_types:
                by_destination.setdefault(prop.destination, []).append(i)
        # A Redis Cluster runs a script on one slot: a destination's keys share one. A single
        # server takes any keys, so a batch goes in as few calls as its size allows.
        groups = list(by_destination.values()) if self._cluster else [
            [i for group in by_destination.values() for i in group]]  # fmt: skip
        chunks = [group[start : start + _APPLY_CHUNK] for group in groups
                  for start in range(0, len(group), _APPLY_CHUNK)]  # fmt: skip
        if not chunks:
            return "".join(outcomes)
        try:
            # One round trip for all the script calls, however many destinations a batch spans.
            async with self._redis.pipeline(transaction=False) as pipe:
                for chunk in chunks:
                    keys, args = self._script_args([cells[i] for i in chunk])
                    # redis-py queues a script on a pipeline (its type hints leave pipelines out)
                    await self._apply(keys=keys, args=args, client=pipe)  # type: ignore[arg-type]
                results = await pipe.execute()
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        for chunk, codes in zip(chunks, results, strict=True):
            for i, code in zip(chunk, _text(codes), strict=True):
                outcomes[i] = code
        return "".join(outcomes)

    def _script_args(self, chunk: Sequence[tuple[Property, Cell]]) -> tuple[list[str], list[int]]:
        keys: list[str] = []
        args: list[int] = [self.ring]
        for prop, cell in chunk:
            keys += [self.property_key(prop), self.night_key(prop.destination, cell.night)]
            args += [prop.room_types.index(cell.room_type), len(prop.room_types),
                     cell.night.toordinal() % self.ring, day_code(cell.night), cell.version,
                     NO_VALUE if cell.available is None else cell.available,
                     NO_VALUE if cell.rate_paise is None else cell.rate_paise, prop.local]  # fmt: skip
        return keys, args

    async def load(
        self,
        props: Sequence[Property],
        *,
        first_night: dt.date,
        available: npt.NDArray[np.int64],
        rate_paise: npt.NDArray[np.int64],
        version: npt.NDArray[np.int64],
    ) -> ApplyCounts:
        """Search arrays first, then each property with SET NX; a property already stored (a
        change reached it first) is merged cell by cell under the version rule instead."""
        if not props:
            return ApplyCounts()
        nights = available.shape[2]
        dates = [first_night + dt.timedelta(days=d) for d in range(nights)]
        destination = props[0].destination
        if any(p.destination != destination for p in props):
            raise ValueError("one destination per load")
        open_ = (available > 0) & (rate_paise > 0)
        cheapest = np.where(open_, rate_paise, np.iinfo(np.int64).max).min(axis=1)
        cheapest = np.where(cheapest == np.iinfo(np.int64).max, 0, cheapest)  # [prop, night]
        slots = np.array([d.toordinal() % self.ring for d in dates])
        days = np.array([day_code(d) for d in dates])
        try:
            whole = props[0].local == 0 and props[-1].local == len(props) - 1
            before = 0
            async with self._redis.pipeline(transaction=False) as pipe:
                for d, night in enumerate(dates):
                    key = self.night_key(destination, night)
                    before += 2 if whole else len(props) + 1
                    if whole:
                        pipe.set(key, cheapest[:, d].astype(">u4").tobytes())
                    else:
                        for i, p in enumerate(props):
                            pipe.setrange(key, p.local * 4, int(cheapest[i, d]).to_bytes(4, "big"))
                    pipe.expireat(key, _expiry(night))
                packed = await asyncio.to_thread(
                    lambda: [
                        self._pack(p, slots, days, available[i], rate_paise[i], version[i])
                        for i, p in enumerate(props)
                    ]
                )  # fmt: skip  (packing a big destination takes a while: not on the loop)
                for p, value in zip(props, packed, strict=True):
                    pipe.set(self.property_key(p), value, nx=True)
                results = await pipe.execute()
            merged = ApplyCounts()
            written = results[before:]
            for i, (p, ok) in enumerate(zip(props, written, strict=True)):
                if ok:
                    continue
                cells = [(p, Cell(hotel_id=p.hotel_id, room_type=rt, night=dates[d],
                                  available=int(available[i, _RT_INDEX[rt], d]),
                                  rate_paise=int(rate_paise[i, _RT_INDEX[rt], d]),
                                  version=int(version[i, _RT_INDEX[rt], d])))
                         for rt in p.room_types for d in range(nights)]  # fmt: skip
                merged += await self.apply(cells)
                await self._refresh_nights(p, dates)
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        loaded = sum(len(p.room_types) for p in props) * nights - merged.stale - merged.duplicate
        return ApplyCounts(applied=loaded, duplicate=merged.duplicate, stale=merged.stale)

    def _pack(
        self,
        prop: Property,
        slots: npt.NDArray[np.int64],
        days: npt.NDArray[np.int64],
        available: npt.NDArray[np.int64],
        rate_paise: npt.NDArray[np.int64],
        version: npt.NDArray[np.int64],
    ) -> bytes:
        out = np.zeros((len(prop.room_types) * self.ring, SIZE), dtype=np.uint8)
        for r, rt in enumerate(prop.room_types):
            k = _RT_INDEX[rt]
            at = r * self.ring + slots
            out[at, 0:2] = _bytes(days, ">u2")
            out[at, 2:4] = _bytes(available[k], ">u2")
            out[at, 4:8] = _bytes(rate_paise[k], ">u4")
            out[at, 8:14] = _bytes(version[k], ">u8")[:, 2:]
            out[at, 14:20] = _bytes(version[k], ">u8")[:, 2:]
        return out.tobytes()

    async def _refresh_nights(self, prop: Property, dates: Sequence[dt.date]) -> None:
        keys = [self.property_key(prop)] + [self.night_key(prop.destination, d) for d in dates]
        args: list[int] = [self.ring, len(prop.room_types), prop.local]
        for d in dates:
            args += [d.toordinal() % self.ring, day_code(d)]
        await self._refresh(keys=keys, args=args)

    async def read(
        self, prop: Property, *, first_night: dt.date, nights: int
    ) -> dict[RoomType, list[StoredCell | None]]:
        return (await self.read_many([prop], first_night=first_night, nights=nights))[0]

    async def read_many(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> list[dict[RoomType, list[StoredCell | None]]]:
        """`read` for several properties in one round trip."""
        if not props:
            return []
        try:
            raws = await self._redis.mget([self.property_key(p) for p in props])
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        return [
            self._decode(p, _raw(raw), first_night, nights)
            for p, raw in zip(props, raws, strict=True)
        ]

    def _decode(
        self, prop: Property, raw: bytes, first_night: dt.date, nights: int
    ) -> dict[RoomType, list[StoredCell | None]]:
        out: dict[RoomType, list[StoredCell | None]] = {}
        for r, rt in enumerate(prop.room_types):
            row: list[StoredCell | None] = []
            for d in range(nights):
                night = first_night + dt.timedelta(days=d)
                at = (r * self.ring + night.toordinal() % self.ring) * SIZE
                rec = raw[at : at + SIZE]
                if len(rec) == SIZE and int.from_bytes(rec[0:2], "big") == day_code(night):
                    row.append(StoredCell(
                        available=int.from_bytes(rec[2:4], "big"),
                        rate_paise=int.from_bytes(rec[4:8], "big"),
                        version=max(int.from_bytes(rec[8:14], "big"),
                                    int.from_bytes(rec[14:20], "big")),
                    ))  # fmt: skip
                else:
                    row.append(None)
            out[rt] = row
        return out

    async def read_block(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> StoredBlock:
        """Stored cells of many properties as arrays [property, room type (all four), night];
        a cell not stored has versions -1."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for p in props:
                    pipe.get(self.property_key(p))
                raws = await pipe.execute()
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        shape = (len(props), len(ROOM_TYPES), nights)
        avail = np.zeros(shape, dtype=np.int64)
        rate = np.zeros(shape, dtype=np.int64)
        aver = np.full(shape, -1, dtype=np.int64)
        rver = np.full(shape, -1, dtype=np.int64)
        dates = [first_night + dt.timedelta(days=d) for d in range(nights)]
        slots = np.array([d.toordinal() % self.ring for d in dates])
        days = np.array([day_code(d) for d in dates])
        for i, (p, raw) in enumerate(zip(props, raws, strict=True)):
            data = _raw(raw)
            if len(data) != len(p.room_types) * self.ring * SIZE:
                data = data.ljust(len(p.room_types) * self.ring * SIZE, b"\0")
            rec = np.frombuffer(data, dtype=np.uint8).reshape(len(p.room_types), self.ring, SIZE)
            for r, rt in enumerate(p.room_types):
                k = _RT_INDEX[rt]
                cells = rec[r, slots]  # [night, 20]
                here = _ints(cells[:, 0:2]) == days
                avail[i, k] = np.where(here, _ints(cells[:, 2:4]), 0)
                rate[i, k] = np.where(here, _ints(cells[:, 4:8]), 0)
                aver[i, k] = np.where(here, _ints(cells[:, 8:14]), -1)
                rver[i, k] = np.where(here, _ints(cells[:, 14:20]), -1)
        return StoredBlock(available=avail, rate_paise=rate, available_version=aver,
                           rate_version=rver)  # fmt: skip

    async def cheapest(
        self, destination: str, *, nights: Sequence[dt.date], size: int
    ) -> npt.NDArray[np.int64]:
        try:
            raws = await self._redis.mget([self.night_key(destination, n) for n in nights])
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        out = np.zeros((len(nights), size), dtype=np.int64)
        for i, raw in enumerate(raws):
            if raw:
                row = np.frombuffer(_raw(raw), dtype=">u4")[:size]
                out[i, : len(row)] = row
        return out

    async def loaded(self) -> dict[str, dt.date]:
        try:
            raw = await self._redis.hgetall(f"{self._ns}:loaded")
        except RedisError as e:
            raise DependencyUnavailableError(f"hotel availability store: {type(e).__name__}") from e
        return {_text(k): dt.date.fromordinal(int(v)) for k, v in raw.items()}

    async def mark_loaded(self, destination: str, *, first_night: dt.date) -> None:
        await self._redis.hset(f"{self._ns}:loaded", destination, first_night.toordinal())

    async def forget_loaded(self) -> None:
        await self._redis.delete(f"{self._ns}:loaded")

    async def cursor(self, supplier: str) -> str | None:
        raw = await self._redis.get(f"{self._ns}:cursor:{supplier}")
        return None if raw is None else _text(raw)

    async def save_cursor(self, supplier: str, cursor: str) -> None:
        await self._redis.set(f"{self._ns}:cursor:{supplier}", cursor)

    async def memory_bytes(self) -> int:
        info = await self._redis.info("memory")
        return int(info["used_memory"])


def _bytes(values: npt.NDArray[np.int64], dtype: str) -> npt.NDArray[np.uint8]:
    """Big-endian bytes of each value, one row a value."""
    arr = np.ascontiguousarray(np.asarray(values).astype(dtype))
    return arr.view(np.uint8).reshape(len(arr), -1)


def _ints(columns: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Big-endian unsigned integers from rows of bytes."""
    out = np.zeros(len(columns), dtype=np.int64)
    for b in range(columns.shape[1]):
        out = (out << 8) | columns[:, b].astype(np.int64)
    return out


def _raw(raw: bytes | str | None) -> bytes:
    if raw is None:
        return b""
    return raw.encode() if isinstance(raw, str) else raw


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _expiry(night: dt.date) -> int:
    """A night's search array outlives the night by two days (IST), then Redis drops it."""
    end = dt.datetime.combine(night + dt.timedelta(days=2), dt.time(), dt.UTC)
    return int(end.timestamp())
