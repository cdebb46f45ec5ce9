"""OTA XML for hotel pushes: both messages round-trip, ranges expand per night, and every kind of
bad body is refused with an OTA error code and nothing expanded."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from hotels.models import VERSION_EPOCH, Cell, RoomType, version_time
from hotels.ota import (
    MAX_BODY_BYTES,
    MAX_CELLS_PER_BODY,
    OTA_NS,
    NotifKind,
    OtaCode,
    OtaError,
    build_avail_notif,
    build_error_response,
    build_rate_notif,
    build_success_response,
    parse_notif,
    sniff_kind,
    timestamp_of,
)

NIGHT = dt.date(2026, 12, 20)
VERSION = 60_000_000_123_456  # a time with microseconds, to check they survive


def cell(
    night: dt.date = NIGHT,
    *,
    room_type: RoomType = RoomType.DELUXE,
    available: int | None = 4,
    rate: int | None = 450_000,
    version: int = VERSION,
) -> Cell:
    return Cell(hotel_id="YH0000042", room_type=room_type, night=night, available=available,
                rate_paise=rate, version=version)  # fmt: skip


def avail_body(
    *,
    stamp: str = "2026-12-05T10:00:00.123456Z",
    start: str = "2026-12-20",
    end: str = "2026-12-22",
    inv: str = "STD",
    limit: str = "3",
    hotel: str = 'HotelCode="YH0000042"',
    echo: str = 'EchoToken="t-1"',
) -> bytes:
    return (
        f'<OTA_HotelAvailNotifRQ xmlns="{OTA_NS}" {echo} TimeStamp="{stamp}" Version="1.0">'
        f'<AvailStatusMessages {hotel}><AvailStatusMessage BookingLimit="{limit}">'
        f'<StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="{inv}"/>'
        "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    ).encode()


def rate_body(*, amount: str = "4500.00", currency: str = "INR") -> bytes:
    return (
        f'<OTA_HotelRateAmountNotifRQ xmlns="{OTA_NS}" EchoToken="t-2" '
        'TimeStamp="2026-12-05T10:00:00.5Z"><RateAmountMessages HotelCode="YH0000042">'
        '<RateAmountMessage><StatusApplicationControl Start="2026-12-20" End="2026-12-20" '
        'InvTypeCode="DLX"/><Rates><Rate><BaseByGuestAmts>'
        f'<BaseByGuestAmt AmountBeforeTax="{amount}" CurrencyCode="{currency}"/>'
        "</BaseByGuestAmts></Rate></Rates></RateAmountMessage></RateAmountMessages>"
        "</OTA_HotelRateAmountNotifRQ>"
    ).encode()


def test_avail_round_trip_keeps_cells_and_microsecond_version() -> None:
    cells = [cell(), cell(room_type=RoomType.STANDARD, available=0, version=VERSION - 5)]
    body = build_avail_notif("YH0000042", cells, echo_token="e-1")
    notif = parse_notif(body)
    assert notif.kind is NotifKind.AVAIL
    assert notif.echo_token == "e-1"
    assert notif.hotel_code == "YH0000042"
    assert notif.version == VERSION  # the newest cell's version is the message's TimeStamp
    assert notif.timestamp == version_time(VERSION)
    got = {(c.room_type, c.night): c.available for c in notif.cells}
    assert got == {(RoomType.DELUXE, NIGHT): 4, (RoomType.STANDARD, NIGHT): 0}
    assert all(c.rate_paise is None and c.version == VERSION for c in notif.cells)


def test_rate_round_trip_in_rupees() -> None:
    cells = [cell(rate=450_050), cell(NIGHT + dt.timedelta(days=1), rate=1_000_000)]
    body = build_rate_notif("YH0000042", cells, echo_token="e-2")
    assert b'AmountBeforeTax="4500.50"' in body and b'CurrencyCode="INR"' in body
    notif = parse_notif(body)
    assert notif.kind is NotifKind.RATE
    assert [(c.night, c.rate_paise, c.available) for c in notif.cells] == [
        (NIGHT, 450_050, None), (NIGHT + dt.timedelta(days=1), 1_000_000, None)]  # fmt: skip


def test_consecutive_equal_nights_share_one_range_and_expand_back() -> None:
    nights = [NIGHT + dt.timedelta(days=d) for d in range(5)]
    cells = [cell(n, available=2 if i < 3 else 7) for i, n in enumerate(nights)]
    body = build_avail_notif("YH0000042", cells, echo_token="e-3")
    assert body.count(b"<AvailStatusMessage ") == 2
    assert b'Start="2026-12-20" End="2026-12-22"' in body
    parsed = parse_notif(body).cells
    assert [(c.night, c.available) for c in parsed] == [(c.night, c.available) for c in cells]


def test_a_range_expands_to_one_cell_per_night() -> None:
    notif = parse_notif(avail_body())
    assert [c.night for c in notif.cells] == [NIGHT + dt.timedelta(days=d) for d in range(3)]
    assert {c.room_type for c in notif.cells} == {RoomType.STANDARD}
    assert notif.version == timestamp_version("2026-12-05T10:00:00.123456Z")


def timestamp_version(stamp: str) -> int:
    delta = dt.datetime.fromisoformat(stamp) - VERSION_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def test_timestamps_with_offsets_and_short_fractions() -> None:
    assert parse_notif(rate_body()).version == timestamp_version("2026-12-05T10:00:00.500000Z")
    same = parse_notif(avail_body(stamp="2026-12-05T15:30:00.123456+05:30"))
    assert same.version == timestamp_version("2026-12-05T10:00:00.123456Z")
    assert timestamp_of(VERSION).endswith(".123456Z")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<not-xml", OtaCode.UNABLE_TO_PROCESS),
        (b"", OtaCode.UNABLE_TO_PROCESS),
        (f'<OTA_Other xmlns="{OTA_NS}" EchoToken="x"/>'.encode(), OtaCode.UNABLE_TO_PROCESS),
        (avail_body().replace(OTA_NS.encode(), b"urn:other"), OtaCode.UNABLE_TO_PROCESS),
        (avail_body(echo=""), OtaCode.REQUIRED_FIELD_MISSING),
        (avail_body(stamp=""), OtaCode.REQUIRED_FIELD_MISSING),
        (avail_body(stamp="2026-12-05T10:00:00"), OtaCode.INVALID_DATE),  # no zone
        (avail_body(stamp="yesterday"), OtaCode.INVALID_DATE),
        (avail_body(stamp="2026-13-05T10:00:00Z"), OtaCode.INVALID_DATE),
        (avail_body(stamp="2024-12-05T10:00:00Z"), OtaCode.INVALID_DATE),  # before the epoch
        (avail_body(hotel=""), OtaCode.REQUIRED_FIELD_MISSING),
        (avail_body(start="2026-02-30"), OtaCode.INVALID_DATE),
        (avail_body(start="20/12/2026"), OtaCode.INVALID_DATE),
        (avail_body(start="2026-12-23", end="2026-12-22"), OtaCode.INVALID_DATE),
        (avail_body(start="2026-01-01", end="2027-12-31"), OtaCode.INVALID_DATE),  # > 400 nights
        (avail_body(inv="PENTHOUSE"), OtaCode.INVALID_ROOM_TYPE),
        (avail_body(limit="-1"), OtaCode.INVALID_VALUE),
        (avail_body(limit="lots"), OtaCode.INVALID_VALUE),
        (avail_body(limit=""), OtaCode.REQUIRED_FIELD_MISSING),
        (rate_body(amount="4,500"), OtaCode.INVALID_VALUE),
        (rate_body(amount="45.123"), OtaCode.INVALID_VALUE),
        (rate_body(amount="0.00"), OtaCode.INVALID_VALUE),
        (rate_body(amount="-10"), OtaCode.INVALID_VALUE),
        (rate_body(currency="USD"), OtaCode.INVALID_CURRENCY),
        (
            rate_body().replace(b"<Rates><Rate>", b"<Rates><Nope>").replace(b"</Rate>", b"</Nope>"),
            OtaCode.REQUIRED_FIELD_MISSING,
        ),  # fmt: skip
        (
            avail_body()
            .replace(b"<AvailStatusMessage ", b"<Other ")
            .replace(b"</AvailStatusMessage>", b"</Other>"),
            OtaCode.REQUIRED_FIELD_MISSING,
        ),  # fmt: skip
    ],
)
def test_bad_bodies_raise_ota_errors(body: bytes, code: OtaCode) -> None:
    with pytest.raises(OtaError) as caught:
        parse_notif(body)
    assert caught.value.code is code
    assert caught.value.message


def test_errors_know_the_message_kind_and_echo_token_once_read() -> None:
    with pytest.raises(OtaError) as caught:
        parse_notif(rate_body(currency="EUR"))
    assert caught.value.kind is NotifKind.RATE and caught.value.echo_token == "t-2"
    assert sniff_kind(rate_body()) is NotifKind.RATE
    assert sniff_kind(b"garbage") is NotifKind.AVAIL


def test_too_many_cells_in_one_body_is_refused() -> None:
    one = ('<AvailStatusMessage BookingLimit="1"><StatusApplicationControl Start="2026-01-01" '
           'End="2026-12-31" InvTypeCode="STD"/></AvailStatusMessage>')  # fmt: skip
    body = avail_body().replace(
        b"<AvailStatusMessage ", (one * 14).encode() + b"<AvailStatusMessage "
    )
    assert MAX_CELLS_PER_BODY < 14 * 365
    with pytest.raises(OtaError) as caught:
        parse_notif(body)
    assert caught.value.code is OtaCode.UNABLE_TO_PROCESS


def test_an_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(OtaError) as caught:
        parse_notif(b" " * (MAX_BODY_BYTES + 1))
    assert caught.value.code is OtaCode.UNABLE_TO_PROCESS


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="&lol3;"
 TimeStamp="2026-12-05T10:00:00Z"/>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="&xxe;"
 TimeStamp="2026-12-05T10:00:00Z"/>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, XXE.decode().encode("utf-16")])
def test_entities_and_dtds_are_refused_without_expansion(body: bytes) -> None:
    with pytest.raises(OtaError) as caught:
        parse_notif(body)
    assert caught.value.code is OtaCode.UNABLE_TO_PROCESS
    assert "root:" not in caught.value.message and "lollol" not in caught.value.message


@pytest.mark.parametrize("kind", list(NotifKind))
def test_success_and_error_responses_are_ota_xml(kind: NotifKind) -> None:
    ok = etree.fromstring(build_success_response("e-9", kind=kind))
    name = "OTA_HotelAvailNotifRS" if kind is NotifKind.AVAIL else "OTA_HotelRateAmountNotifRS"
    assert ok.tag == f"{{{OTA_NS}}}{name}" and ok.get("EchoToken") == "e-9"
    assert ok.find(f"{{{OTA_NS}}}Success") is not None
    errors = [OtaError(OtaCode.INVALID_DATE, "End is before Start"),
              OtaError(OtaCode.INVALID_CURRENCY, "currency 'USD' is not INR")]  # fmt: skip
    bad = etree.fromstring(build_error_response(None, errors, kind=kind))
    assert bad.tag == f"{{{OTA_NS}}}{name}" and bad.get("EchoToken") is None
    found = bad.findall(f"{{{OTA_NS}}}Errors/{{{OTA_NS}}}Error")
    assert [(e.get("Type"), e.get("Code"), e.text) for e in found] == [
        ("3", "15", "End is before Start"), ("3", "61", "currency 'USD' is not INR")]  # fmt: skip


def test_builders_refuse_mixed_hotels_and_missing_values() -> None:
    other = Cell(hotel_id="YH0000043", room_type=RoomType.STANDARD, night=NIGHT, available=1,
                 rate_paise=None, version=VERSION)  # fmt: skip
    with pytest.raises(ValueError):
        build_avail_notif("YH0000042", [cell(), other], echo_token="e")
    with pytest.raises(ValueError):
        build_rate_notif("YH0000043", [other], echo_token="e")
    with pytest.raises(ValueError):
        build_avail_notif("YH0000042", [], echo_token="e")
