"""The hotel side, built once in the lifespan: the sandbox supplier network, the availability
store, the change stream and its consumer, the feed pollers, warming and loading, the store
watch, reconciliation, and the channel manager's push delivery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from core.background import background
from core.errors import ConflictError, UnauthorizedError, YatriError
from core.logging import get_logger
from core.redis_conn import RedisClient
from core.settings import Settings
from hotels.catalogue import Catalogue
from hotels.events import ChangeBatch, RedisChangeBus
from hotels.ota import OtaError
from hotels.pushes import PushReceiver
from hotels.redis_store import RedisAvailabilityStore
from hotels.service import HotelService
from hotels.signing import sign_push, supplier_secret
from hotels.suppliers.inventory import Inventory
from hotels.suppliers.sandbox import HotelFaults, SandboxHotelNetwork
from hotels.sync import HotelSync

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HotelBackends:
    catalogue: Catalogue
    inventory: Inventory
    network: SandboxHotelNetwork
    store: RedisAvailabilityStore
    bus: RedisChangeBus
    sync: HotelSync
    service: HotelService
    pushes: PushReceiver


def build_hotels(settings: Settings, *, redis: RedisClient) -> HotelBackends:
    ns = settings.redis_namespace
    catalogue = Catalogue(properties=settings.hotels_properties, seed=settings.hotels_seed)
    inventory = Inventory(catalogue, window_days=settings.hotels_window_days)
    network = SandboxHotelNetwork(catalogue, inventory, HotelFaults(), seed=settings.hotels_seed)
    store = RedisAvailabilityStore(redis=redis, namespace=ns, window_days=inventory.window_days)
    bus = RedisChangeBus(redis=redis, namespace=ns,
                         consumer=f"{socket.gethostname()}-{os.getpid()}")  # fmt: skip
    sync = HotelSync(catalogue=catalogue, store=store, bus=bus, suppliers=network.suppliers,
                     feeds=[network.feed], today=inventory.today)  # fmt: skip
    pushes = PushReceiver(
        sync=sync, redis=redis, secret_key=settings.secret_key.get_secret_value().encode(),
        push_suppliers={s.name: s.kind for s in network.suppliers}, namespace=ns,
        tolerance_s=settings.hotels_webhook_tolerance_s,
    )  # fmt: skip
    return HotelBackends(catalogue=catalogue, inventory=inventory, network=network, store=store,
                         bus=bus, sync=sync, service=HotelService(catalogue=catalogue, store=store,
                                                                  sync=sync),
                         pushes=pushes)  # fmt: skip


@asynccontextmanager
async def running_hotels(settings: Settings, hotels: HotelBackends) -> AsyncIterator[None]:
    """The background work, stopped and awaited on the way out."""
    stop = asyncio.Event()
    sync, network = hotels.sync, hotels.network
    secret = settings.secret_key.get_secret_value().encode()

    async def deliver(supplier: str, body: bytes) -> int:
        """The sandbox channel manager's HTTP call, made in process through the same receiver
        the webhook route uses: signed, verified, parsed, checked and written to the stream."""
        headers = sign_push(supplier_secret(secret, supplier), body, time.time())
        try:
            await hotels.pushes.receive(supplier, body=body,
                                        timestamp=headers["X-Yatri-Timestamp"],
                                        signature=headers["X-Yatri-Signature"])  # fmt: skip
        except ConflictError:
            return 409
        except UnauthorizedError:
            return 401
        except OtaError:
            return 400
        except YatriError:
            return 503
        return 200

    async def apply(batches: Sequence[ChangeBatch]) -> None:
        await sync.apply(batches)

    async def warm_then_load() -> None:
        first = [d.code for d in hotels.catalogue.largest(settings.hotels_warm_destinations)]
        for code in first:
            with contextlib.suppress(YatriError):
                await sync.ensure_loaded(code)
        if settings.hotels_load_all:
            await sync.load_all(first=first, stop=stop)

    jobs: list[Coroutine[Any, Any, Any]] = [
        hotels.bus.run(apply, stop=stop),
        sync.run_pollers(interval_s=settings.hotels_poll_interval_s, stop=stop),
        network.channel.run_pushes(deliver, stop),
        warm_then_load(),
        sync.watch_store(interval_s=5.0, stop=stop),
        sync.run_reconciler(interval_s=settings.hotels_reconcile_interval_s, stop=stop),
    ]
    if settings.hotels_churn_per_s > 0:
        jobs.append(network.churn(settings.hotels_churn_per_s, stop))
    async with background((("hotels", job) for job in jobs), stop=stop):
        yield
