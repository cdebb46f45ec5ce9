"""The sandbox hotel suppliers: each serves its own properties, each passes changes on its own
way (pushes, a change feed, snapshots only), and the faults do what they say."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pytest

from core.errors import InvalidRequestError, NotFoundError
from hotels.catalogue import SUPPLIERS, Catalogue
from hotels.models import Cell, Property, RoomType, SupplierKind, now_version
from hotels.ota import NotifKind, parse_notif
from hotels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_push, supplier_secret
from hotels.suppliers.base import ChangeFeed, HotelSupplier, HotelSupplierError
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox import (
    FeedCursorExpired,
    HotelFaults,
    SandboxHotelNetwork,
    UnknownPropertyError,
)
from voice.webhooks import sign_generic

TODAY = dt.date(2026, 12, 5)
CHANNEL, FEED, BULK = (
    SUPPLIERS[k] for k in (SupplierKind.PUSH, SupplierKind.FEED, SupplierKind.BULK)
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(properties=2000)


@pytest.fixture
def network(catalogue: Catalogue) -> SandboxHotelNetwork:
    inventory = Inventory(
        catalogue, window_days=30, today=lambda: TODAY, base_version=now_version()
    )
    return SandboxHotelNetwork(catalogue, inventory, seed=7, feed_retention=1_000)


def props_of(catalogue: Catalogue, supplier: str, n: int = 5) -> list[Property]:
    found = (catalogue.property(i) for i in range(catalogue.size))
    return [p for p in found if p.supplier == supplier][:n]


class Sink:
    """Collects pushes like Yatri's webhook would, answering with the given statuses in turn."""

    def __init__(self, *statuses: int) -> None:
        self.bodies: list[bytes] = []
        self.statuses = list(statuses)

    async def __call__(self, supplier: str, body: bytes) -> int:
        assert supplier == CHANNEL
        self.bodies.append(body)
        return self.statuses.pop(0) if self.statuses else 200

    def cells(self) -> list[Cell]:
        return [c for body in self.bodies for c in parse_notif(body).cells]


def test_suppliers_by_name_and_kind(network: SandboxHotelNetwork) -> None:
    assert [(s.name, s.kind) for s in network.suppliers] == [
        (CHANNEL, SupplierKind.PUSH), (FEED, SupplierKind.FEED), (BULK, SupplierKind.BULK)]  # fmt: skip
    assert network.supplier(FEED) is network.feed
    assert network.supplier("nobody") is None


async def test_each_supplier_serves_only_its_own_properties(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    for supplier in network.suppliers:
        own = props_of(catalogue, supplier.name, 3)
        cells = await supplier.snapshot(own, first_night=TODAY, nights=2)
        assert {c.hotel_id for c in cells} == {p.hotel_id for p in own}
        foreign = next(p for p in props_of(catalogue, FEED if supplier.name != FEED else BULK))
        with pytest.raises(UnknownPropertyError):
            await supplier.snapshot([*own, foreign], first_night=TODAY, nights=2)


async def test_snapshot_equals_the_inventory_after_changes(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    props = props_of(catalogue, BULK, 4)
    network.change(props[0], props[0].room_types[0], TODAY, available=1, rate_paise=777_000)
    cells = await network.bulk.snapshot(props, first_night=TODAY, nights=7)
    truth = [c for p in props for c in network.inventory.cells(p, first_night=TODAY, nights=7)]
    assert cells == truth
    assert (cells[0].available, cells[0].rate_paise) == (1, 777_000)
    assert cells[0].version > network.inventory.base_version


async def test_a_change_reaches_the_feed_log_with_growing_versions(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    prop = props_of(catalogue, FEED, 1)[0]
    rt = prop.room_types[0]
    made = [network.change(prop, rt, TODAY + dt.timedelta(days=d), available=d) for d in range(3)]
    page = await network.feed.changes_since(None, limit=10)
    assert list(page.cells) == made
    assert [c.version for c in made] == sorted({c.version for c in made})
    assert network.channel.pending() == 0  # a feed supplier's change is not pushed


async def test_a_change_is_queued_as_ota_bodies_that_parse_back(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    a, b = props_of(catalogue, CHANNEL, 2)
    both = network.change(a, a.room_types[0], TODAY, available=3, rate_paise=512_300)
    later = network.change(a, a.room_types[0], TODAY + dt.timedelta(days=1), available=0)
    only_rate = network.change(b, b.room_types[-1], TODAY, rate_paise=250_000)
    messages = network.channel.take(10)
    assert [(m.hotel_id, m.kind) for m in messages] == [
        (a.hotel_id, NotifKind.AVAIL), (a.hotel_id, NotifKind.RATE), (b.hotel_id, NotifKind.RATE)]  # fmt: skip
    avail, rate, rate_b = (parse_notif(m.body) for m in messages)
    # Two changes of one hotel share a message stamped with the newer version.
    assert avail.version == later.version
    assert [(c.night, c.available) for c in avail.cells] == [(TODAY, 3), (later.night, 0)]
    assert [(c.night, c.rate_paise, c.version) for c in rate.cells] == [
        (TODAY, 512_300, both.version)
    ]
    assert rate_b.cells[0].rate_paise == 250_000 and rate_b.version == only_rate.version
    assert network.channel.pending() == 0
    assert network.channel.stats.changes == 3 and network.channel.stats.messages == 3


async def test_bulk_changes_are_seen_only_in_snapshots(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    prop = props_of(catalogue, BULK, 1)[0]
    network.change(prop, prop.room_types[0], TODAY, available=2)
    assert network.channel.pending() == 0
    assert not (await network.feed.changes_since(None, limit=10)).cells


async def test_outage_and_errors_raise_supplier_errors(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    network.faults.outage = True
    for supplier in network.suppliers:
        with pytest.raises(HotelSupplierError):
            await supplier.snapshot(props_of(catalogue, supplier.name, 1), first_night=TODAY,
                                    nights=1)  # fmt: skip
    with pytest.raises(HotelSupplierError):
        await network.feed.changes_since(None, limit=5)
    prop = props_of(catalogue, CHANNEL, 1)[0]
    network.change(prop, prop.room_types[0], TODAY, available=1)
    sink = Sink()
    await network.channel.push_pending(sink)
    assert sink.bodies == [] and network.channel.pending() == 1  # kept until the outage ends
    network.faults.outage = False
    await network.channel.push_pending(sink)
    assert len(sink.bodies) == 1
    network.faults.error_rate = 1.0
    with pytest.raises(HotelSupplierError):
        await network.feed.changes_since(None, limit=5)


def change_many(network: SandboxHotelNetwork, catalogue: Catalogue, n: int) -> list[Cell]:
    return [network.change(p, p.room_types[0], TODAY, available=2)
            for p in props_of(catalogue, CHANNEL, n)]  # fmt: skip


async def test_lost_pushes_are_counted_and_never_delivered(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    change_many(network, catalogue, 20)
    network.faults.lost_push_rate = 1.0
    sink = Sink()
    await network.channel.push_pending(sink)
    assert sink.bodies == []
    assert network.channel.stats.lost == 20 and network.channel.stats.delivered == 0
    assert network.channel.pending() == 0


async def test_duplicates_are_delivered_twice(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    made = change_many(network, catalogue, 10)
    network.faults.duplicate_rate = 1.0
    sink = Sink()
    await network.channel.push_pending(sink)
    assert len(sink.bodies) == 20 and len(set(sink.bodies)) == 10
    assert sorted(c.version for c in sink.cells()) == sorted(c.version for c in made * 2)
    assert network.channel.stats.duplicated == 10 and network.channel.stats.delivered == 20


async def test_reorder_shuffles_but_delivers_everything(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    made = change_many(network, catalogue, 40)
    network.faults.reorder = True
    network.channel.concurrency = 1  # one call at a time, so arrival order is send order
    sink = Sink()
    await network.channel.push_pending(sink)
    got = [c.version for c in sink.cells()]
    assert sorted(got) == [c.version for c in made]
    assert got != sorted(got)


async def test_failed_pushes_are_retried_then_given_up_or_refused(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    channel = network.channel
    channel.backoff_s = channel.max_backoff_s = 0.001
    change_many(network, catalogue, 1)
    sink = Sink(500, 503)
    await channel.push_pending(sink)
    assert len(sink.bodies) == 3 and channel.stats.delivered == 1 and channel.stats.retried == 2
    change_many(network, catalogue, 1)
    await channel.push_pending(Sink(*[500] * channel.max_attempts))
    assert channel.stats.failed == 1
    change_many(network, catalogue, 1)
    await channel.push_pending(Sink(400))
    assert channel.stats.rejected == 1 and channel.stats.delivered == 1


async def test_run_pushes_delivers_in_the_background_until_stopped(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    sink, stop = Sink(), asyncio.Event()
    task = asyncio.create_task(network.channel.run_pushes(sink, stop, interval_s=0.01))
    made = change_many(network, catalogue, 30)
    for _ in range(200):
        if network.channel.stats.delivered == 30:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert sorted(c.version for c in sink.cells()) == [c.version for c in made]


async def test_feed_paging_is_exact_across_pages(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    props = props_of(catalogue, FEED, 50)
    made = [network.change(p, p.room_types[0], TODAY + dt.timedelta(days=d), available=d)
            for d in range(5) for p in props]  # fmt: skip
    seen: list[Cell] = []
    cursor = None
    while True:
        page = await network.feed.changes_since(cursor, limit=37)
        again = await network.feed.changes_since(cursor, limit=37)
        assert again == page
        if not page.cells:
            break
        seen.extend(page.cells)
        cursor = page.cursor
    assert seen == made
    extra = network.change(props[0], props[0].room_types[0], TODAY, available=9)
    assert list((await network.feed.changes_since(cursor, limit=37)).cells) == [extra]


async def test_feed_duplicates_and_reorders_within_a_page_without_moving_the_cursor(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    props = props_of(catalogue, FEED, 40)
    made = [network.change(p, p.room_types[0], TODAY, available=1) for p in props]
    network.faults.duplicate_rate, network.faults.reorder = 0.5, True
    first = await network.feed.changes_since(None, limit=20)
    second = await network.feed.changes_since(first.cursor, limit=20)
    got = list(first.cells) + list(second.cells)
    assert len(got) > 40 and set(got) == set(made)
    assert set(first.cells) == set(made[:20]) and list(first.cells) != made[:20]


async def test_feed_cursors_it_no_longer_has_mean_resync(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    prop = props_of(catalogue, FEED, 1)[0]
    page = await network.feed.changes_since(None, limit=10)
    for i in range(2_500):  # retention is 1,000
        network.change(prop, prop.room_types[0], TODAY + dt.timedelta(days=i % 30), available=i % 5)
    with pytest.raises(FeedCursorExpired):
        await network.feed.changes_since(page.cursor, limit=10)
    fresh = await network.feed.changes_since(None, limit=2_000)
    assert len(fresh.cells) == 1_000 and fresh.cells[-1].available == 2_499 % 5
    for bad in ("0-1", "garbage", f"{network.feed.epoch}-99999", f"{network.feed.epoch}--1"):
        with pytest.raises(FeedCursorExpired):
            await network.feed.changes_since(bad, limit=10)


async def test_churn_makes_bounded_realistic_changes(
    network: SandboxHotelNetwork,
) -> None:
    stop = asyncio.Event()
    made = await asyncio.wait_for(network.churn(5_000, stop, max_changes=300, tick_s=0.01), 10)
    assert made == 300 == network.changes
    first, last = network.inventory.window()
    assert 0 < network.inventory.changed() <= 300
    pushed = network.channel.stats.changes
    fed = (await network.feed.changes_since(None, limit=1_000)).cells
    assert pushed > 0 and len(fed) > 0 and pushed + len(fed) < 300  # the bulk share is silent
    assert all(first <= c.night <= last and (c.available or 0) >= 0 for c in fed)
    task = asyncio.create_task(network.churn(100, stop, tick_s=0.01))
    await asyncio.sleep(0.1)
    stop.set()
    assert await asyncio.wait_for(task, 2) <= 100 * 0.1 * 2 + 1


def test_changes_are_validated(network: SandboxHotelNetwork, catalogue: Catalogue) -> None:
    prop = props_of(catalogue, CHANNEL, 1)[0]
    with pytest.raises(ValueError):
        network.change(prop, prop.room_types[0], TODAY)
    with pytest.raises(ValueError):
        network.change(prop, prop.room_types[0], TODAY - dt.timedelta(days=1), available=1)
    with pytest.raises(ValueError):
        network.change(prop, prop.room_types[0], TODAY, rate_paise=0)
    with pytest.raises(ValueError):
        network.change(prop, prop.room_types[0], TODAY, available=-1)
    missing = next(rt for rt in RoomType if rt not in prop.room_types) if len(
        prop.room_types) < 4 else None  # fmt: skip
    if missing is not None:
        with pytest.raises(KeyError):
            network.change(prop, missing, TODAY, available=1)


def test_faults_default_to_none() -> None:
    faults = HotelFaults()
    assert (faults.outage, faults.reorder, faults.error_rate, faults.lost_push_rate) == (
        False, False, 0.0, 0.0)  # fmt: skip


async def test_snapshot_block_equals_the_inventory_block(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    own = props_of(catalogue, FEED, 300)  # more than one chunk
    network.change(own[-1], own[-1].room_types[0], TODAY, available=0)
    numbers = np.array([p.number for p in own], dtype=np.int64)
    block = await network.feed.snapshot_block(numbers, first_night=TODAY, nights=3)
    truth = network.inventory.block(numbers, first_night=TODAY, nights=3)
    for got, want in ((block.numbers, truth.numbers), (block.available, truth.available),
                      (block.rate_paise, truth.rate_paise), (block.version, truth.version)):  # fmt: skip
        assert np.array_equal(got, want)
    foreign = np.array([props_of(catalogue, BULK, 1)[0].number], dtype=np.int64)
    with pytest.raises(UnknownPropertyError):
        await network.feed.snapshot_block(foreign, first_night=TODAY, nights=3)


def test_the_sandbox_endpoint_change_names_the_channel_and_refuses_clearly(
    network: SandboxHotelNetwork, catalogue: Catalogue
) -> None:
    for supplier, channel in ((CHANNEL, "push"), (FEED, "feed"), (BULK, "bulk")):
        prop = props_of(catalogue, supplier, 1)[0]
        made = network.change_by_id(prop.hotel_id, room_type=prop.room_types[0], night=TODAY,
                                    available=1)  # fmt: skip
        assert (made.supplier, made.channel) == (supplier, channel) and made.version > 0
    prop = props_of(catalogue, CHANNEL, 1)[0]
    with pytest.raises(NotFoundError):
        network.change_by_id("YH9999999", room_type=RoomType.STANDARD, night=TODAY, available=1)
    with pytest.raises(InvalidRequestError):
        network.change_by_id(prop.hotel_id, room_type=prop.room_types[0],
                             night=TODAY + dt.timedelta(days=30), available=1)  # fmt: skip
    with pytest.raises(InvalidRequestError):
        network.change_by_id(prop.hotel_id, room_type=prop.room_types[0], night=TODAY)


def test_the_suppliers_fit_the_ports(network: SandboxHotelNetwork) -> None:
    suppliers: list[HotelSupplier] = list(network.suppliers)  # checked by mypy
    feed: ChangeFeed = network.feed
    assert len(suppliers) == 3 and feed.name == FEED


def test_push_signatures_are_per_supplier_and_verifiable() -> None:
    key = b"app-secret"
    channel, feed = supplier_secret(key, CHANNEL), supplier_secret(key, FEED)
    assert channel != feed and len(channel) == 32
    headers = sign_push(channel, b"<body/>", 1_765_000_000.7)
    assert headers[TIMESTAMP_HEADER] == "1765000000"
    assert headers[SIGNATURE_HEADER] == sign_generic(secret=channel, timestamp=1_765_000_000,
                                                     body=b"<body/>")  # fmt: skip
    assert headers[SIGNATURE_HEADER] != sign_push(feed, b"<body/>", 1_765_000_000)[SIGNATURE_HEADER]
