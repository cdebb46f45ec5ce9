"""OpenTravel (OTA 2003B) XML for the two messages channel managers push: rooms left
(`OTA_HotelAvailNotifRQ`) and nightly rates (`OTA_HotelRateAmountNotifRQ`), and their answers.

A message is about one hotel; each of its status messages covers one room type over a range of
nights (Start and End both included, as in OTA), so one message expands to one `Cell` per night.
Every cell of a message takes the message's version: its root `TimeStamp` as microseconds since
2025-01-01 UTC (`hotels.models.VERSION_EPOCH`). Bodies are parsed with no DTD, no entities and no
network, and bounded in size and cells; anything wrong raises `OtaError` with an OTA error code.
Whether the hotel exists is the sync's concern, not the parser's.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from core.errors import InvalidRequestError
from hotels.models import MAX_VERSION, VERSION_EPOCH, Cell, RoomType, now_version, version_time

OTA_NS = "http://www.opentravel.org/OTA/2003/05"
MAX_BODY_BYTES = 1_048_576
MAX_NIGHTS_PER_MESSAGE = 400
MAX_CELLS_PER_BODY = 5_000
MAX_BOOKING_LIMIT = 9_999
CURRENCY = "INR"

_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                        r"(Z|[+-][0-9]{2}:[0-9]{2})")  # fmt: skip
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AMOUNT = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?")
_COUNT = re.compile(r"[0-9]{1,4}")
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


class NotifKind(StrEnum):
    AVAIL = "avail"  # OTA_HotelAvailNotifRQ: rooms left
    RATE = "rate"  # OTA_HotelRateAmountNotifRQ: the nightly rate before tax


_ROOTS = {NotifKind.AVAIL: "OTA_HotelAvailNotifRQ", NotifKind.RATE: "OTA_HotelRateAmountNotifRQ"}
_KIND_OF_ROOT = {root: kind for kind, root in _ROOTS.items()}
_RESPONSES = {
    NotifKind.AVAIL: "OTA_HotelAvailNotifRS",
    NotifKind.RATE: "OTA_HotelRateAmountNotifRS",
}


class OtaCode(StrEnum):
    """Codes from the OTA error code list (ERR) that these messages can earn."""

    INVALID_DATE = "15"
    INVALID_CURRENCY = "61"
    INVALID_VALUE = "320"
    REQUIRED_FIELD_MISSING = "321"
    INVALID_HOTEL_CODE = "392"
    INVALID_ROOM_TYPE = "402"
    SYSTEM_ERROR = "448"
    UNABLE_TO_PROCESS = "450"


class OtaError(InvalidRequestError):
    """An OTA message Yatri cannot accept. `kind` and `echo_token` are set when the parser got
    far enough to know them, so the answer can be the matching RS with the sender's token."""

    def __init__(
        self,
        code: OtaCode,
        message: str,
        *,
        kind: NotifKind | None = None,
        echo_token: str | None = None,
    ) -> None:
        super().__init__(message, code=code.value)
        self.code = code
        self.message = message
        self.kind = kind
        self.echo_token = echo_token


@dataclass(frozen=True, slots=True)
class OtaNotification:
    """One parsed push: the cells carry either `available` (AVAIL) or `rate_paise` (RATE)."""

    kind: NotifKind
    echo_token: str
    version: int
    hotel_code: str
    cells: tuple[Cell, ...]

    @property
    def timestamp(self) -> dt.datetime:
        return version_time(self.version)


# --- building ------------------------------------------------------------------------------


def build_avail_notif(
    hotel_code: str, cells: Sequence[Cell], *, echo_token: str, version: int | None = None
) -> bytes:
    """An OTA_HotelAvailNotifRQ for one hotel's cells (their `available`); consecutive nights of
    one room type with the same count share a range. TimeStamp: `version`, else the newest cell's."""
    root = _root(NotifKind.AVAIL, cells, echo_token=echo_token, version=version)
    messages = etree.SubElement(root, _q("AvailStatusMessages"), HotelCode=hotel_code)
    for room_type, start, end, value in _ranges(hotel_code, cells, NotifKind.AVAIL):
        message = etree.SubElement(messages, _q("AvailStatusMessage"), BookingLimit=str(value))
        _control(message, room_type, start, end)
    return _serialise(root)


def build_rate_notif(
    hotel_code: str, cells: Sequence[Cell], *, echo_token: str, version: int | None = None
) -> bytes:
    """An OTA_HotelRateAmountNotifRQ for one hotel's cells (their `rate_paise`, sent as rupees)."""
    root = _root(NotifKind.RATE, cells, echo_token=echo_token, version=version)
    messages = etree.SubElement(root, _q("RateAmountMessages"), HotelCode=hotel_code)
    for room_type, start, end, value in _ranges(hotel_code, cells, NotifKind.RATE):
        message = etree.SubElement(messages, _q("RateAmountMessage"))
        _control(message, room_type, start, end)
        rate = etree.SubElement(etree.SubElement(message, _q("Rates")), _q("Rate"))
        amounts = etree.SubElement(rate, _q("BaseByGuestAmts"))
        etree.SubElement(amounts, _q("BaseByGuestAmt"), AmountBeforeTax=_rupees(value),
                         CurrencyCode=CURRENCY)  # fmt: skip
    return _serialise(root)


def build_success_response(echo_token: str | None, *, kind: NotifKind) -> bytes:
    root = _response_root(echo_token, kind)
    etree.SubElement(root, _q("Success"))
    return _serialise(root)


def build_error_response(
    echo_token: str | None, errors: Iterable[OtaError], *, kind: NotifKind = NotifKind.AVAIL
) -> bytes:
    """The RS of `kind` with one <Error Type="3" Code=...> per error (3: business rule)."""
    root = _response_root(echo_token, kind)
    container = etree.SubElement(root, _q("Errors"))
    for error in errors:
        element = etree.SubElement(container, _q("Error"), Type="3", Code=error.code.value,
                                   ShortText=error.message[:64])  # fmt: skip
        element.text = error.message
    return _serialise(root)


def timestamp_of(version: int) -> str:
    """The OTA TimeStamp of a version, to the microsecond."""
    return version_time(version).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def _root(
    kind: NotifKind, cells: Sequence[Cell], *, echo_token: str, version: int | None
) -> etree._Element:
    if not cells:
        raise ValueError("an OTA notification needs at least one cell")
    stamp = version if version is not None else max(c.version for c in cells)
    return etree.Element(_q(_ROOTS[kind]), nsmap={None: OTA_NS}, EchoToken=echo_token,
                         TimeStamp=timestamp_of(stamp), Version="1.0")  # fmt: skip


def _response_root(echo_token: str | None, kind: NotifKind) -> etree._Element:
    root = etree.Element(_q(_RESPONSES[kind]), nsmap={None: OTA_NS}, Version="1.0",
                         TimeStamp=timestamp_of(now_version()))  # fmt: skip
    if echo_token is not None:
        root.set("EchoToken", echo_token)
    return root


def _ranges(
    hotel_code: str, cells: Sequence[Cell], kind: NotifKind
) -> list[tuple[RoomType, dt.date, dt.date, int]]:
    """(room type, first night, last night, value) runs of consecutive nights with one value."""
    values: dict[tuple[RoomType, dt.date], int] = {}
    for cell in cells:
        if cell.hotel_id != hotel_code:
            raise ValueError("an OTA notification is about one hotel")
        value = cell.available if kind is NotifKind.AVAIL else cell.rate_paise
        if value is None:
            raise ValueError(f"a {kind.value} notification needs a {kind.value} value per cell")
        values[(cell.room_type, cell.night)] = value
    runs: list[tuple[RoomType, dt.date, dt.date, int]] = []
    for (room_type, night), value in sorted(values.items()):
        if runs:
            rt, start, end, v = runs[-1]
            if rt is room_type and v == value and night == end + dt.timedelta(days=1):
                runs[-1] = (rt, start, night, v)
                continue
        runs.append((room_type, night, night, value))
    return runs


def _control(parent: etree._Element, room_type: RoomType, start: dt.date, end: dt.date) -> None:
    etree.SubElement(parent, _q("StatusApplicationControl"), Start=start.isoformat(),
                     End=end.isoformat(), InvTypeCode=room_type.value)  # fmt: skip


def _rupees(paise: int) -> str:
    return f"{paise // 100}.{paise % 100:02d}"


def _serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _q(tag: str) -> str:
    return f"{{{OTA_NS}}}{tag}"


# --- parsing -------------------------------------------------------------------------------


def parse_notif(body: bytes) -> OtaNotification:
    """A pushed OTA_HotelAvailNotifRQ or OTA_HotelRateAmountNotifRQ, expanded to cells."""
    root = _parse_xml(body)
    namespace, _, local = root.tag.rpartition("}")
    kind = _KIND_OF_ROOT.get(local)
    if kind is None or namespace.lstrip("{") not in ("", OTA_NS):
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, f"unknown message {local[:64]!r}")
    ns = namespace + "}" if namespace else ""
    echo_token = root.get("EchoToken")
    if not echo_token:
        raise OtaError(OtaCode.REQUIRED_FIELD_MISSING, "EchoToken is missing", kind=kind)
    reader = _Reader(kind=kind, echo_token=echo_token[:128], ns=ns)
    version = reader.version(root.get("TimeStamp"))
    container = reader.one(root, "AvailStatusMessages" if kind is NotifKind.AVAIL
                           else "RateAmountMessages")  # fmt: skip
    hotel_code = reader.attr(container, "HotelCode")
    cells: list[Cell] = []
    tag = "AvailStatusMessage" if kind is NotifKind.AVAIL else "RateAmountMessage"
    messages = container.findall(ns + tag)
    if not messages:
        raise reader.error(OtaCode.REQUIRED_FIELD_MISSING, f"no {tag}")
    for message in messages:
        control = reader.one(message, "StatusApplicationControl")
        room_type = reader.room_type(reader.attr(control, "InvTypeCode"))
        start = reader.date(reader.attr(control, "Start"))
        end = reader.date(reader.attr(control, "End"))
        if end < start:
            raise reader.error(OtaCode.INVALID_DATE, "End is before Start")
        nights = (end - start).days + 1
        if nights > MAX_NIGHTS_PER_MESSAGE:
            raise reader.error(OtaCode.INVALID_DATE,
                               f"a message covers at most {MAX_NIGHTS_PER_MESSAGE} nights")  # fmt: skip
        if len(cells) + nights > MAX_CELLS_PER_BODY:
            raise reader.error(OtaCode.UNABLE_TO_PROCESS,
                               f"a body covers at most {MAX_CELLS_PER_BODY} cells")  # fmt: skip
        if kind is NotifKind.AVAIL:
            available, rate = reader.count(reader.attr(message, "BookingLimit")), None
        else:
            available, rate = None, reader.rate(message)
        for d in range(nights):
            cells.append(Cell(hotel_id=hotel_code, room_type=room_type,
                              night=start + dt.timedelta(days=d), available=available,
                              rate_paise=rate, version=version))  # fmt: skip
    return OtaNotification(kind=kind, echo_token=reader.echo_token, version=version,
                           hotel_code=hotel_code, cells=tuple(cells))  # fmt: skip


def sniff_kind(body: bytes) -> NotifKind:
    """The message kind a body claims, for answering one that did not parse (AVAIL if unclear)."""
    head = body[:512]
    return NotifKind.RATE if b"OTA_HotelRateAmountNotifRQ" in head else NotifKind.AVAIL


def _parse_xml(body: bytes) -> etree._Element:
    if len(body) > MAX_BODY_BYTES:
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, f"body is over {MAX_BODY_BYTES} bytes")
    # A DTD has no place in an OTA push; refusing it outright leaves no entity to expand.
    if any(marker in body for marker in _DTD_MARKERS):
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, "a DTD or entity declaration is not accepted")
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as e:
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, "the body is not well-formed XML") from e
    if root is None:
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, "the body is empty")
    # Another encoding (UTF-16) would hide a DOCTYPE from the byte scan above.
    if root.getroottree().docinfo.internalDTD is not None:
        raise OtaError(OtaCode.UNABLE_TO_PROCESS, "a DTD or entity declaration is not accepted")
    return root


_local = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser: building one costs more than a small parse, and lxml parsers may be
    reused within a thread but not shared between threads."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_comments=True, remove_pis=True)  # fmt: skip
        _local.parser = parser
    return parser


@dataclass(frozen=True, slots=True)
class _Reader:
    """Field readers that raise OtaError carrying the message's kind and echo token."""

    kind: NotifKind
    echo_token: str
    ns: str

    def error(self, code: OtaCode, message: str) -> OtaError:
        return OtaError(code, message, kind=self.kind, echo_token=self.echo_token)

    def one(self, parent: etree._Element, tag: str) -> etree._Element:
        found = parent.findall(self.ns + tag)
        if not found:
            raise self.error(OtaCode.REQUIRED_FIELD_MISSING, f"{tag} is missing")
        if len(found) > 1:
            raise self.error(OtaCode.INVALID_VALUE, f"{tag} is repeated")
        return found[0]

    def attr(self, element: etree._Element, name: str) -> str:
        value: str | None = element.get(name)
        if value is None or not value.strip():
            tag = etree.QName(element).localname
            raise self.error(OtaCode.REQUIRED_FIELD_MISSING, f"{tag} has no {name}")
        return value.strip()

    def version(self, stamp: str | None) -> int:
        if not stamp:
            raise self.error(OtaCode.REQUIRED_FIELD_MISSING, "TimeStamp is missing")
        if not _TIMESTAMP.fullmatch(stamp):
            raise self.error(OtaCode.INVALID_DATE, "TimeStamp is not an ISO 8601 time with a zone")
        try:
            moment = dt.datetime.fromisoformat(stamp)
        except ValueError as e:
            raise self.error(OtaCode.INVALID_DATE, "TimeStamp is not a valid time") from e
        delta = moment - VERSION_EPOCH
        version = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        if not 0 < version <= MAX_VERSION:
            raise self.error(OtaCode.INVALID_DATE, "TimeStamp is out of range")
        return version

    def date(self, value: str) -> dt.date:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError as e:
            raise self.error(OtaCode.INVALID_DATE, f"{value[:32]!r} is not a date") from e

    def room_type(self, value: str) -> RoomType:
        try:
            return RoomType(value)
        except ValueError as e:
            raise self.error(
                OtaCode.INVALID_ROOM_TYPE, f"unknown InvTypeCode {value[:32]!r}"
            ) from e

    def count(self, value: str) -> int:
        if not _COUNT.fullmatch(value) or int(value) > MAX_BOOKING_LIMIT:
            raise self.error(OtaCode.INVALID_VALUE, f"BookingLimit {value[:32]!r} is not a count")
        return int(value)

    def rate(self, message: etree._Element) -> int:
        rate = self.one(self.one(message, "Rates"), "Rate")
        amounts = self.one(rate, "BaseByGuestAmts").findall(self.ns + "BaseByGuestAmt")
        if not amounts:
            raise self.error(OtaCode.REQUIRED_FIELD_MISSING, "BaseByGuestAmt is missing")
        # Occupancy-based prices list one amount per guest count; the first is the room's.
        amount = amounts[0]
        currency = self.attr(amount, "CurrencyCode")
        if currency != CURRENCY:
            raise self.error(OtaCode.INVALID_CURRENCY, f"currency {currency[:8]!r} is not INR")
        value = self.attr(amount, "AmountBeforeTax")
        match = _AMOUNT.fullmatch(value)
        if match is None:
            raise self.error(OtaCode.INVALID_VALUE, f"AmountBeforeTax {value[:32]!r} is not rupees")
        paise = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
        if paise <= 0:
            raise self.error(OtaCode.INVALID_VALUE, "AmountBeforeTax must be positive")
        return paise
