"""The hotel sync against real Redis: versioned apply, the change stream, feed polling with a
durable cursor, snapshot loads, reconciliation of lost pushes, reload after lost data, search."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from core.embedded import EmbeddedValkey
from core.redis_conn import RedisClient, connect_redis
from hotels.catalogue import Catalogue
from hotels.events import ChangeBatch, RedisChangeBus
from hotels.models import ROOM_TYPES, Cell, Property, RoomType
from hotels.redis_store import RedisAvailabilityStore
from hotels.service import HotelService, StayRequest
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox import HotelFaults, SandboxHotelNetwork
from hotels.sync import HotelSync
from hotels.tax import gst_paise

CATALOGUE = Catalogue(properties=3_000)


@dataclass
class World:
    redis: RedisClient
    inventory: Inventory
    network: SandboxHotelNetwork
    store: RedisAvailabilityStore
    bus: RedisChangeBus
    sync: HotelSync
    service: HotelService

    async def drain(self) -> None:
        """Run the consumer until the stream has nothing pending."""
        stop = asyncio.Event()

        async def apply(batches: Sequence[ChangeBatch]) -> None:
            await self.sync.apply(batches)

        task = asyncio.create_task(self.bus.run(apply, stop=stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if await self.bus.pending() == 0:
                break
        stop.set()
        await task


@pytest.fixture
async def world(redis_server: EmbeddedValkey) -> AsyncIterator[World]:
    redis = connect_redis(redis_server.url)
    inventory = Inventory(CATALOGUE, window_days=30)
    network = SandboxHotelNetwork(CATALOGUE, inventory, HotelFaults(), seed=1)
    ns = f"h{uuid.uuid4().hex[:8]}"
    store = RedisAvailabilityStore(redis=redis, namespace=ns, window_days=30)
    bus = RedisChangeBus(redis=redis, namespace=ns, consumer="test")
    sync = HotelSync(catalogue=CATALOGUE, store=store, bus=bus, suppliers=network.suppliers,
                     feeds=[network.feed], today=inventory.today)  # fmt: skip
    yield World(redis=redis, inventory=inventory, network=network, store=store, bus=bus,
                sync=sync, service=HotelService(catalogue=CATALOGUE, store=store, sync=sync))  # fmt: skip
    await redis.aclose()


def _of(supplier: str, destination: str = "goa") -> Property:
    return next(p for p in CATALOGUE.properties(destination) if p.supplier == supplier)


def _truth_total(world: World, prop: Property, rt: RoomType, stay: StayRequest) -> int:
    total = 0
    for night in stay.nights_list():
        cell = world.inventory.cell(prop, rt, night)
        assert cell is not None and cell.rate_paise is not None
        total += (cell.rate_paise + gst_paise(cell.rate_paise)) * stay.rooms
    return total


async def test_search_prices_match_the_suppliers_truth(world: World) -> None:
    stay = StayRequest(check_in=world.inventory.today() + dt.timedelta(days=3), nights=2)
    page = await world.service.search(city="Goa", stay=stay, limit=10)
    assert page.offers, "a loaded destination has open hotels"
    totals = [o.room.total_paise for o in page.offers]
    assert totals == sorted(totals)
    for offer in page.offers:
        assert offer.room.total_paise == _truth_total(
            world, offer.hotel, offer.room.room_type, stay
        )
        for night in stay.nights_list():
            cell = world.inventory.cell(offer.hotel, offer.room.room_type, night)
            assert cell is not None and (cell.available or 0) >= stay.rooms
    capped = await world.service.search(city="goa", stay=stay, max_price_paise=300_000)
    assert all(o.room.total_paise <= 300_000 * 2 for o in capped.offers)
    assert capped.matching < page.matching


async def test_versions_keep_late_and_replayed_changes_out(world: World) -> None:
    prop = _of("sandbox-channel")
    night = world.inventory.today() + dt.timedelta(days=1)
    await world.sync.ensure_loaded(prop.destination)
    rt = prop.room_types[0]
    older = world.network.change(prop, rt, night, available=7)
    newer = world.network.change(prop, rt, night, available=3)
    batch = [ChangeBatch(supplier=prop.supplier, received_at=0, cells=[newer])]
    assert (await world.sync.apply(batch)).applied == 1
    assert (await world.sync.apply(batch)).duplicate == 1
    late = [ChangeBatch(supplier=prop.supplier, received_at=0, cells=[older])]
    assert (await world.sync.apply(late)).stale == 1
    kept = (await world.store.read(prop, first_night=night, nights=1))[rt][0]
    assert kept is not None and kept.available == 3
    # A rate-only change leaves rooms left alone; both carry their own version.
    rate = world.network.change(prop, rt, night, rate_paise=555_500)
    await world.sync.apply([ChangeBatch(supplier=prop.supplier, received_at=0, cells=[rate])])
    cell = (await world.store.read(prop, first_night=night, nights=1))[rt][0]
    assert cell is not None and (cell.available, cell.rate_paise) == (3, 555_500)


async def test_unknown_hotels_foreign_suppliers_and_nights_outside_are_rejected(
    world: World,
) -> None:
    prop = _of("sandbox-feed")
    far = world.inventory.today() + dt.timedelta(days=90)
    cells = [
        Cell(hotel_id="YH9999999", room_type=RoomType.STANDARD, night=world.inventory.today(),
             available=1, rate_paise=100_000, version=1),
        Cell(hotel_id=prop.hotel_id, room_type=prop.room_types[0], night=far, available=1,
             rate_paise=100_000, version=1),
    ]  # fmt: skip
    counts = await world.sync.apply([ChangeBatch(supplier=prop.supplier, received_at=0,
                                                 cells=cells)])  # fmt: skip
    assert counts.rejected == 2 and counts.applied == 0
    foreign = await world.sync.apply(
        [ChangeBatch(supplier="sandbox-channel", received_at=0, cells=[world.network.change(
            prop, prop.room_types[0], world.inventory.today(), available=2)])]
    )  # fmt: skip
    assert foreign.rejected == 1


async def test_feed_poller_resumes_from_its_cursor_without_loss_or_double_apply(
    world: World,
) -> None:
    prop = _of("sandbox-feed")
    await world.sync.ensure_loaded(prop.destination)
    night = world.inventory.today() + dt.timedelta(days=2)
    rt = prop.room_types[0]
    for n in (9, 8, 7):
        world.network.change(prop, rt, night, available=n)
    assert await world.sync.poll_once(world.network.feed) == 3
    cursor = await world.store.cursor("sandbox-feed")
    await world.drain()
    stored = (await world.store.read(prop, first_night=night, nights=1))[rt][0]
    assert stored is not None and stored.available == 7
    # A crash after publishing but before saving the cursor: the page is read again.
    world.network.change(prop, rt, night, available=4)
    await world.sync.poll_once(world.network.feed)
    assert cursor is not None
    await world.store.save_cursor("sandbox-feed", cursor)
    await world.sync.poll_once(world.network.feed)
    before = world.sync.stats.counts.get("sandbox-feed")
    await world.drain()
    after = world.sync.stats.counts["sandbox-feed"]
    stored = (await world.store.read(prop, first_night=night, nights=1))[rt][0]
    assert stored is not None and stored.available == 4
    applied = after.applied - (before.applied if before else 0)
    duplicate = after.duplicate - (before.duplicate if before else 0)
    assert (applied, duplicate) == (1, 1)


async def test_reconciliation_repairs_lost_pushes(world: World) -> None:
    prop = _of("sandbox-channel")
    await world.sync.ensure_loaded(prop.destination)
    world.network.faults.lost_push_rate = 1.0
    night = world.inventory.today() + dt.timedelta(days=4)
    rt = prop.room_types[0]
    world.network.change(prop, rt, night, available=0)
    delivered: list[bytes] = []

    async def sink(_supplier: str, body: bytes) -> int:
        delivered.append(body)
        return 200

    await world.network.channel.push_pending(sink)
    assert delivered == []
    report = await world.sync.reconcile([prop.destination])
    assert report.found.get("sandbox-channel") == 1
    assert report.repaired.get("sandbox-channel") == 1
    stored = (await world.store.read(prop, first_night=night, nights=1))[rt][0]
    assert stored is not None and stored.available == 0
    assert (await world.sync.reconcile([prop.destination])).total_found == 0


async def test_a_store_that_lost_its_data_is_loaded_again(world: World) -> None:
    stay = StayRequest(check_in=world.inventory.today(), nights=1)
    first = await world.service.search(city="Mumbai", stay=stay)
    assert first.offers
    keys = [k async for k in world.redis.scan_iter(match=f"{world.store._ns}:*")]  # noqa: SLF001
    await world.redis.delete(*keys)
    assert await world.store.loaded() == {}
    stop = asyncio.Event()
    watch = asyncio.create_task(world.sync.watch_store(interval_s=0.05, stop=stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if "mumbai" in await world.store.loaded():
            break
    stop.set()
    await watch
    again = await world.service.search(city="Bombay", stay=stay)
    assert [o.hotel.hotel_id for o in again.offers] == [o.hotel.hotel_id for o in first.offers]


def test_one_cell_is_the_same_number_as_the_block_it_belongs_to() -> None:
    inventory = Inventory(CATALOGUE, window_days=30)
    numbers = np.arange(0, CATALOGUE.size, 37, dtype=np.int64)
    first = inventory.today()
    block = inventory.block(numbers, first_night=first, nights=30)
    for i, n in enumerate(numbers.tolist()):
        prop = CATALOGUE.property(n)
        for rt in prop.room_types:
            r = ROOM_TYPES.index(rt)
            for d in (0, 7, 29):
                cell = inventory.cell(prop, rt, first + dt.timedelta(days=d))
                assert cell is not None
                expected = (int(block.available[i, r, d]), int(block.rate_paise[i, r, d]))
                assert (cell.available, cell.rate_paise) == expected


async def test_a_new_night_entering_the_window_is_loaded(redis_server: EmbeddedValkey) -> None:
    day = [dt.date(2026, 12, 5)]
    redis = connect_redis(redis_server.url)
    inventory = Inventory(CATALOGUE, window_days=30, today=lambda: day[0])
    network = SandboxHotelNetwork(CATALOGUE, inventory, HotelFaults(), seed=1)
    ns = f"h{uuid.uuid4().hex[:8]}"
    store = RedisAvailabilityStore(redis=redis, namespace=ns, window_days=30)
    sync = HotelSync(catalogue=CATALOGUE, store=store, bus=RedisChangeBus(redis=redis,
                     namespace=ns, consumer="t"), suppliers=network.suppliers, today=inventory.today)  # fmt: skip
    service = HotelService(catalogue=CATALOGUE, store=store, sync=sync)
    await sync.ensure_loaded("goa")
    day[0] += dt.timedelta(days=1)  # midnight: a new last night is on sale
    last = day[0] + dt.timedelta(days=29)
    page = await service.search(city="Goa", stay=StayRequest(check_in=last, nights=1))
    assert page.offers, "the night that entered the window is searchable"
    assert (await store.loaded())["goa"] == day[0]
    for offer in page.offers:
        cell = inventory.cell(offer.hotel, offer.room.room_type, last)
        assert cell is not None and cell.rate_paise is not None
        assert offer.room.total_paise == cell.rate_paise + gst_paise(cell.rate_paise)
    await redis.aclose()


async def test_a_supplier_down_during_a_load_is_filled_in_when_it_is_back(world: World) -> None:
    world.network.feed.faults = HotelFaults(outage=True)  # only the change-feed supplier
    stay = StayRequest(check_in=world.inventory.today() + dt.timedelta(days=2), nights=1)
    page = await world.service.search(city="Delhi", stay=stay, limit=50)
    assert page.offers and all(o.hotel.supplier != "sandbox-feed" for o in page.offers)
    assert "delhi" in world.sync.partial
    world.network.feed.faults = HotelFaults()
    stop = asyncio.Event()
    watch = asyncio.create_task(world.sync.watch_store(interval_s=0.05, stop=stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if "delhi" not in world.sync.partial:
            break
    stop.set()
    await watch
    assert "delhi" not in world.sync.partial
    page = await world.service.search(city="Delhi", stay=stay, limit=50)
    assert any(o.hotel.supplier == "sandbox-feed" for o in page.offers)


def test_a_region_is_found_by_its_towns_and_a_city_by_its_old_names() -> None:
    for name, code in [("Calangute", "goa"), ("Panjim", "goa"), ("GOI", "goa"),
                       ("Bombay", "mumbai"), ("Bangalore", "bengaluru")]:  # fmt: skip
        found = CATALOGUE.resolve(name)
        assert found is not None and found.code == code, name
