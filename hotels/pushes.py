"""Supplier pushes (OTA XML from a channel manager): authenticated, parsed, and handed to the
sync, which writes them to the change stream before the supplier gets its answer. A push is
acknowledged once it is durable, not once it is applied: the consumer applies it moments later.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import NotFoundError
from core.redis_conn import RedisClient
from hotels.models import SupplierKind
from hotels.ota import OtaCode, OtaError, OtaNotification, build_success_response, parse_notif
from hotels.signing import verifier_for
from hotels.sync import HotelSync
from voice.webhooks import WebhookVerifier

MAX_PUSH_BYTES = 1_000_000


class UnknownSupplierError(NotFoundError):
    problem_type = "unknown-supplier"
    title = "Unknown hotel supplier"


class PushReceiver:
    def __init__(
        self,
        *,
        sync: HotelSync,
        redis: RedisClient,
        secret_key: bytes,
        push_suppliers: dict[str, SupplierKind],
        namespace: str,
        tolerance_s: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._sync = sync
        self._verifiers: dict[str, WebhookVerifier] = {
            name: verifier_for(redis, secret_key, supplier=name, namespace=namespace,
                               tolerance_s=tolerance_s)
            for name, kind in push_suppliers.items() if kind is SupplierKind.PUSH
        }  # fmt: skip
        del clock

    def suppliers(self) -> list[str]:
        return sorted(self._verifiers)

    async def receive(
        self, supplier: str, *, body: bytes, timestamp: str, signature: str
    ) -> tuple[OtaNotification, bytes]:
        """The parsed push and the OTA success answer. Raises UnknownSupplierError,
        UnauthorizedError / ConflictError (signature, clock window, replay) before anything is
        parsed, and OtaError for a message that cannot be accepted; nothing is applied then."""
        verifier = self._verifiers.get(supplier)
        if verifier is None:
            raise UnknownSupplierError(f"no push supplier {supplier!r}", supplier=supplier)
        await verifier.verify(timestamp=timestamp, signature=signature, body=body)
        notification = parse_notif(body)
        self._check(supplier, notification)
        await self._sync.receive(supplier, notification.cells)
        return notification, build_success_response(notification.echo_token,
                                                     kind=notification.kind)  # fmt: skip

    def _check(self, supplier: str, notification: OtaNotification) -> None:
        """A push about a hotel the supplier does not sell, a room type it does not have, or a
        night outside the window is refused whole, so the sender sees and fixes it."""
        prop = self._sync.catalogue.get(notification.hotel_code)
        kind, token = notification.kind, notification.echo_token
        if prop is None or prop.supplier != supplier:
            raise OtaError(OtaCode.INVALID_HOTEL_CODE,
                           f"unknown HotelCode {notification.hotel_code[:40]!r}",
                           kind=kind, echo_token=token)  # fmt: skip
        for cell in notification.cells:
            if cell.room_type not in prop.room_types:
                raise OtaError(OtaCode.INVALID_ROOM_TYPE,
                               f"{prop.hotel_id} has no {cell.room_type.value} rooms",
                               kind=kind, echo_token=token)  # fmt: skip
            if not self._sync.in_window(cell.night):
                first, days = self._sync.window()
                raise OtaError(OtaCode.INVALID_DATE,
                               f"{cell.night} is outside the nights on sale ({first} + {days} days)",
                               kind=kind, echo_token=token)  # fmt: skip
