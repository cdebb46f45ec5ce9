"""Who may fly together: one rule set for fare searches and bookings. Every infant sits on an
adult's lap; children and infants are named with a date of birth; ages are judged on the
travel date (a child who turns 12 before the flight flies as an adult)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal, Protocol

from core.errors import InvalidRequestError

MAX_SEATED = 9
INFANT_UNDER = 2  # an infant is under 2 on the travel date
CHILD_UNDER = 12  # a child is 2 to 11 on the travel date; 12 and over is an adult

PassengerType = Literal["adult", "child", "infant"]


class PartyMember(Protocol):
    """A named traveller as the rules see one (``None`` type: an adult)."""

    @property
    def passenger_type(self) -> str | None: ...

    @property
    def date_of_birth(self) -> dt.date | None: ...


def check_counts(*, adults: int, children: int, infants: int) -> None:
    """Raise ``InvalidRequestError`` when the party cannot travel together."""
    if adults < 1:
        raise InvalidRequestError("at least one adult must travel", field="adults")
    if min(children, infants) < 0:
        raise InvalidRequestError("passenger counts cannot be negative", field="passengers")
    if adults + children > MAX_SEATED:
        raise InvalidRequestError(
            f"at most {MAX_SEATED} seated passengers per booking", field="passengers"
        )
    if infants > adults:
        raise InvalidRequestError(
            "each infant must travel on an adult's lap: no more infants than adults",
            field="infants",
        )


def age_on(day: dt.date, *, born: dt.date) -> int:
    """Whole years of age on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def type_for_age(age: int) -> PassengerType:
    if age < INFANT_UNDER:
        return "infant"
    if age < CHILD_UNDER:
        return "child"
    return "adult"


def check_travellers(
    members: Sequence[PartyMember],
    *,
    adults: int,
    children: int,
    infants: int,
    travel_date: dt.date,
) -> None:
    """Raise ``InvalidRequestError`` unless ``members`` name the whole party: one traveller per
    passenger, lap infants included, each child and infant with a date of birth that makes
    them one on ``travel_date``."""
    check_counts(adults=adults, children=children, infants=infants)
    total = adults + children + infants
    if len(members) != total:
        raise InvalidRequestError(
            f"{total} passengers ({_describe(adults, children, infants)}) need {total} "
            f"traveller names, infants included; got {len(members)}",
            field="travellers",
        )
    named: dict[str, int] = {"adult": 0, "child": 0, "infant": 0}
    for i, member in enumerate(members):
        kind = member.passenger_type or "adult"
        if kind not in named:
            raise InvalidRequestError(
                f"traveller {i + 1}: passenger type must be adult, child or infant",
                field=f"travellers[{i}].passenger_type",
            )
        named[kind] += 1
        born = member.date_of_birth
        if born is None:
            if kind != "adult":
                raise InvalidRequestError(
                    f"traveller {i + 1}: a {kind}'s date of birth is required",
                    field=f"travellers[{i}].date_of_birth",
                )
            continue
        if born > travel_date:
            raise InvalidRequestError(
                f"traveller {i + 1}: the date of birth is after the travel date",
                field=f"travellers[{i}].date_of_birth",
            )
        age = age_on(travel_date, born=born)
        if type_for_age(age) != kind:
            raise InvalidRequestError(
                f"traveller {i + 1} is {age} on {travel_date.isoformat()}, so travels as "
                f"{_article(type_for_age(age))}, not {_article(kind)} (infants are under "
                f"{INFANT_UNDER}, children {INFANT_UNDER} to {CHILD_UNDER - 1})",
                field=f"travellers[{i}].date_of_birth",
            )
    for kind, wanted in (("child", children), ("infant", infants)):
        if named[kind] != wanted:
            raise InvalidRequestError(
                f"the party has {_plural(wanted, kind)} but {_plural(named[kind], kind)} "
                f"{'is' if named[kind] == 1 else 'are'} named among the travellers",
                field="travellers",
            )


def _article(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _plural(n: int, kind: str) -> str:
    if n == 1:
        return f"1 {kind}"
    return f"{n} {'children' if kind == 'child' else kind + 's'}"


def _describe(adults: int, children: int, infants: int) -> str:
    parts = [_plural(adults, "adult")]
    if children:
        parts.append(_plural(children, "child"))
    if infants:
        parts.append(_plural(infants, "infant"))
    return ", ".join(parts)
