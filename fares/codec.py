"""Compact serialisation of fare offers for the shared cache (msgpack, positional fields)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgpack

from fares.models import Cabin, FareOffer, Passengers, Price

_VERSION = 2  # 2: the carrier's booking cut-off


def encode(offers: Sequence[FareOffer], *, meta: Sequence[float | int]) -> bytes:
    rows = [
        [
            o.offer_id,
            o.origin,
            o.destination,
            o.departure.isoformat(),
            o.arrival.isoformat(),
            o.carrier_code,
            o.carrier_name,
            o.flight_number,
            o.cabin.value,
            o.fare_family,
            o.passengers.adults,
            o.passengers.children,
            o.passengers.infants,
            o.price.base,
            o.price.taxes,
            o.price.fees,
            o.price.currency,
            o.seats_left,
            o.refundable,
            o.supplier,
            o.fetched_at.timestamp(),
            o.cutoff_minutes,
        ]  # fmt: skip
        for o in offers
    ]
    packed: bytes = msgpack.packb([_VERSION, list(meta), rows], use_bin_type=True)
    return packed


def decode(data: bytes) -> tuple[list[Any], list[FareOffer]]:
    """The stored meta values and offers; ``ValueError`` on anything else."""
    try:
        version, meta, rows = msgpack.unpackb(data, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise ValueError("not a cached fare entry") from e
    if version != _VERSION:
        raise ValueError(f"cached fare entry version {version}")
    offers = [
        FareOffer(
            offer_id=r[0],
            origin=r[1],
            destination=r[2],
            departure=dt.datetime.fromisoformat(r[3]),
            arrival=dt.datetime.fromisoformat(r[4]),
            carrier_code=r[5],
            carrier_name=r[6],
            flight_number=r[7],
            cabin=Cabin(r[8]),
            fare_family=r[9],
            passengers=Passengers(r[10], r[11], r[12]),
            price=Price(base=r[13], taxes=r[14], fees=r[15], currency=r[16]),
            seats_left=r[17],
            refundable=r[18],
            supplier=r[19],
            fetched_at=dt.datetime.fromtimestamp(r[20], tz=dt.UTC),
            cutoff_minutes=r[21],
        )  # fmt: skip
        for r in rows
    ]
    return list(meta), offers
