"""Scripted multi-turn conversations end to end through `POST /v1/chat` on a real `yatri serve`
(Redis, Temporal dev server, embedded Qdrant, the sample policy corpus ingested, sandbox
suppliers). The conversations are data (`bench/data/dialogue_conversations.yaml`), written
apart from `intents/examples.yaml` and the tests: search then book, corrections, digressions,
never mind, status, cancel and date change by talking, policy questions, guests asked to sign
in, other verticals, in English, Hinglish and Devanagari, with typos; and who talks and who
travels: phone callers who prove who they are with a one-time code before booking, checking or
cancelling, callers Yatri has no profile for, and saved passengers ("me and my wife", "the whole
family", children and infants with their dates of birth).

Who talks (`traveller:`): `signed_in` (the default) chats with a traveller token; `guest`
chats without one; `caller` phones in through the signed ASR webhook (`POST
/v1/asr/webhooks/exotel`, `yatri serve` started with the bench's secret) from the number on
the profile the setup creates for it; `unknown_caller` phones from a number no profile has.
`setup.profile` (email, passengers) creates the traveller's profile, with a mobile number of
its own, before the first turn; `setup.caller_format` writes the caller's number as a
provider might (`e164`, `local` 0-prefixed, `national` with a space). A caller's code is read
from the traveller's sandbox SMS inbox (`GET /v1/travellers/me/messages`) as their phone
would show it, just before the turn that says it.

    python bench/dialogue_eval.py [--only ID_PREFIX] [--concurrency 4] [--quiet]

Prints, with a naive keyword baseline in the same run:

* intent accuracy: every turn's `intent` against its label (a list allows fair readings);
* slot F1 per slot: a turn's labelled slots against the response's `slots` (the dialogue
  state after the turn, normalised as the API shows it). A labelled slot with the right value
  is a true positive; missing is a false negative; a different value is a false negative and
  a false positive; a slot value that appears in `slots` for the first time in the
  conversation without being labelled is a false positive; 0 children or 0 infants (the
  default party) counts as unset on both sides;
* task success: every check of the conversation holds (turn checks on `expecting`, the reply,
  `data`; at the end, the booking's status, captures, refunds and date read from the booking
  API and the sandbox suppliers' ledger);
* turns per completed booking.

Baseline: the rule-based reader (`intents/legacy.RuleParser`: flight searches and small talk
only) reads the same turns in process; its slot state is every slot it read so far in the
conversation, later values winning. As a dialogue it can only search flights, so it completes
a conversation only when the goal is a flight search (`success.kind: search`) in chat without
saved passengers, and its final slot state holds the final search (from, to, date, and adults
and cabin where the script checks them); every other goal counts as failed for it, and so
does every phone call and every conversation with a profile (it has no codes, no profiles).

Dates are offsets from today (IST) rendered as spoken dates: `{d:12}` "17 December",
`{dus:12}` "December 17", `{dth:12}` "17th Dec", `{dhi:12}` "17 दिसंबर", `{iso:12}` the
normalised value; "tomorrow" and friends are written as words with `{iso:1}` labels;
`{dy:-300}` "9 February 2026" is a date of birth as said. What a caller's phone shows is
filled in at the turn: `{otp}` "482913", `{otp_spaced}` "482 913", `{otp_words}` "four eight
two nine one three", `{otp_hinglish}` "char aath do nau ek teen", `{otp_hindi}` "चार आठ दो नौ
एक तीन", `{wrong_otp}` the code with its last digit one off, `{phone_end}` the profile
number's last four digits as the reply says them ("0 0 0 1").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bookings import (  # noqa: E402
    WEBHOOK_SECRET,
    PhoneCall,
    latest_code,
    mobile_number,
    order,
    put_profile,
    traveller_headers,
)
from _serve import YatriProcess  # noqa: E402

from api.booking_backends import SANDBOX_DB  # noqa: E402
from bookings.suppliers.sandbox import SandboxLedger  # noqa: E402
from core.airports import load_airports  # noqa: E402
from fares.models import IST  # noqa: E402
from intents.legacy import RuleParser  # noqa: E402
from intents.parse import ParseContext  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data") / "dialogue_conversations.yaml"
POLICIES = ROOT / "examples" / "policies"
TARGETS = {"intent": 95.0, "slot_f1": 93.0, "task": 90.0}
MONTHS_HI = ["जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर",
             "अक्टूबर", "नवंबर", "दिसंबर"]  # fmt: skip
_TEMPLATE = re.compile(r"\{(d|dus|dth|dhi|dy|iso):(-?\d+)\}")
# What the caller's phone shows, filled in just before the turn that says it.
_PHONE = re.compile(r"\{(otp|otp_spaced|otp_words|otp_hinglish|otp_hindi|wrong_otp|phone_end)\}")
_DIGIT_WORDS = {
    "words": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "hinglish": ("shunya", "ek", "do", "teen", "char", "paanch", "chhe", "saat", "aath", "nau"),
    "hindi": ("शून्य", "एक", "दो", "तीन", "चार", "पांच", "छह", "सात", "आठ", "नौ"),
}
CALLERS = ("caller", "unknown_caller")
# The chat response's `data.query` keys, as slot names.
_QUERY_SLOT = {"from": "origin", "to": "destination", "date": "date", "adults": "adults",
               "children": "children", "infants": "infants", "cabin": "cabin"}  # fmt: skip


def today() -> dt.date:
    return dt.datetime.now(IST).date()


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def render(value: Any, base: dt.date) -> Any:
    """Fill date templates in every string of `value`."""
    if isinstance(value, str):

        def one(m: re.Match[str]) -> str:
            day = base + dt.timedelta(days=int(m.group(2)))
            return {
                "d": f"{day.day} {day:%B}",
                "dus": f"{day:%B} {day.day}",
                "dth": f"{_ordinal(day.day)} {day:%b}",
                "dhi": f"{day.day} {MONTHS_HI[day.month - 1]}",
                "dy": f"{day.day} {day:%B} {day.year}",
                "iso": day.isoformat(),
            }[m.group(1)]

        return _TEMPLATE.sub(one, value)
    if isinstance(value, list):
        return [render(v, base) for v in value]
    if isinstance(value, dict):
        return {k: render(v, base) for k, v in value.items()}
    return value


def said(form: str, *, code: str, phone: str) -> str:
    """One `_PHONE` template as the caller says or hears it."""
    if form == "phone_end":
        return " ".join(phone[-4:])
    if form == "otp":
        return code
    if form == "otp_spaced":
        return f"{code[:3]} {code[3:]}"
    if form == "wrong_otp":
        return code[:5] + str((int(code[5]) + 1) % 10)
    words = _DIGIT_WORDS[form.removeprefix("otp_")]
    return " ".join(words[int(c)] for c in code)


def fill(value: Any, values: dict[str, str]) -> Any:
    """Fill `_PHONE` templates in every string of `value`."""
    if isinstance(value, str):
        return _PHONE.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


def key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- one conversation ------------------------------------------------------------------------


@dataclass
class TurnOutcome:
    text: str
    reply: str
    intent: str
    want_intent: list[str]
    expecting: str
    slots: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    baseline_intent: str = ""


@dataclass
class Outcome:
    conv: dict[str, Any]
    turns: list[TurnOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    slot_counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    base_slot_counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    baseline_success: bool = False
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return not self.problems and not any(t.problems for t in self.turns)


def _count(counts: dict[str, Counter[str]], gold: dict[str, Any], state: dict[str, Any],
           seen: set[tuple[str, str]]) -> None:  # fmt: skip
    """Slot F1 counts for one turn: labelled slots against the state after it. No children or
    no infants is the search's default: a 0 there counts as unset, labelled or shown."""
    gold, state = _no_default_counts(gold), _no_default_counts(state)
    for name, want in gold.items():
        got = state.get(name)
        if got is not None and key(got) == key(want):
            counts[name]["tp"] += 1
        else:
            counts[name]["fn"] += 1
            if got is not None and (name, key(got)) not in seen:
                counts[name]["fp"] += 1
    for name, got in state.items():
        if got is None or name in gold:
            continue
        if (name, key(got)) not in seen:
            counts[name]["fp"] += 1


def _no_default_counts(slots: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in slots.items() if not (k in ("children", "infants") and v == 0)}


def check(expect: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """What of a turn's expectations did not hold."""
    data = answer.get("data") or {}
    reply = answer.get("reply", "")
    problems = []
    if "expecting" in expect and data.get("expecting") != expect["expecting"]:
        problems.append(f"expecting {data.get('expecting')!r}, want {expect['expecting']!r}")
    if "reply_any" in expect:
        words = [w.lower() for w in expect["reply_any"]]
        if not any(w in reply.lower() for w in words):
            problems.append(f"reply has none of {expect['reply_any']}")
    if "reply_all" in expect:
        missing = [w for w in expect["reply_all"] if w.lower() not in reply.lower()]
        if missing:
            problems.append(f"reply lacks {missing}")
    if "reply_none" in expect:
        bad = [w for w in expect["reply_none"] if w.lower() in reply.lower()]
        if bad:
            problems.append(f"reply has {bad}")
    if "needs" in expect and data.get("needs") != expect["needs"]:
        problems.append(f"needs {data.get('needs')!r}, want {expect['needs']!r}")
    if "offers" in expect and bool(data.get("offers")) != expect["offers"]:
        problems.append(f"offers shown: {bool(data.get('offers'))}, want {expect['offers']}")
    if "query" in expect:
        query = data.get("query") or {}
        wrong = {k: query.get(k) for k, v in expect["query"].items() if query.get(k) != v}
        if wrong:
            problems.append(f"searched {wrong}, want {expect['query']}")
    if "grounded" in expect and data.get("grounded") != expect["grounded"]:
        problems.append(f"grounded {data.get('grounded')!r}, want {expect['grounded']!r}")
    if "handoff" in expect and bool(data.get("handoff")) != expect["handoff"]:
        problems.append(f"handoff {bool(data.get('handoff'))}, want {expect['handoff']}")
    if "booking_status" in expect:
        got = (data.get("booking") or {}).get("status")
        if got != expect["booking_status"]:
            problems.append(f"booking status {got!r}, want {expect['booking_status']!r}")
    if "quote" in expect and bool(data.get("quote")) != expect["quote"]:
        problems.append(f"quote shown: {bool(data.get('quote'))}, want {expect['quote']}")
    return problems


@dataclass
class Who:
    """Who talks: `headers` is the traveller's token for the setup and the final checks (none
    for a guest or an unknown caller); a caller's turns go through the webhook without it."""

    kind: str
    traveller: str
    headers: dict[str, str]
    phone: str = ""

    def line(self, client: httpx.AsyncClient, caller_format: str) -> ChatLine | PhoneCall:
        if self.kind in CALLERS:
            digits = self.phone.removeprefix("+91")
            caller = {"e164": self.phone, "local": "0" + digits,
                      "national": f"{digits[:5]} {digits[5:]}"}[caller_format]  # fmt: skip
            return PhoneCall(client, caller=caller)
        return ChatLine(client, self.headers if self.kind == "signed_in" else {})


class ChatLine:
    """Turns typed into `POST /v1/chat` on one session."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers
        self._session_id: str | None = None

    async def say(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if self._session_id:
            body["session_id"] = self._session_id
        response = await self._client.post("/v1/chat", json=body, headers=self._headers)
        if response.status_code != 200:
            raise RuntimeError(f"chat {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        self._session_id = answer["session_id"]
        return answer


class Runner:
    def __init__(self, base: str, data_dir: Path, run_id: str) -> None:
        self.base = base
        self.data_dir = data_dir
        self.run_id = run_id
        self.rules = RuleParser(load_airports())
        self.ledger: SandboxLedger | None = None

    async def setup_booking(
        self, client: httpx.AsyncClient, headers: dict[str, str], spec: dict[str, Any]
    ) -> dict[str, Any]:
        date = (today() + dt.timedelta(days=int(spec.get("days", 20)))).isoformat()
        origin, destination = spec.get("route", ["DEL", "BOM"])
        fares = await client.get(
            "/v1/fares", params={"from": origin, "to": destination, "date": date}
        )
        fares.raise_for_status()
        offers = fares.json()["offers"]
        family = spec.get("fare_family")
        chosen = next((o for o in offers if not family or o["fare_family"] == family), offers[0])
        body = order(chosen)
        body["travellers"] = [{"first_name": "Kavya", "last_name": "Menon"}]
        made = await client.post(
            "/v1/bookings", json=body, headers={**headers, "idempotency-key": str(uuid.uuid4())}
        )
        booking: dict[str, Any] = made.json()
        if booking.get("status") != "confirmed":
            raise RuntimeError(f"setup booking not confirmed: {made.status_code} {made.text}")
        return booking

    async def run(self, client: httpx.AsyncClient, conv: dict[str, Any]) -> Outcome:
        started = time.perf_counter()
        base_day = today()
        conv = render(conv, base_day)
        outcome = Outcome(conv=conv)
        traveller = f"dlg-{conv['id']}-{self.run_id}"
        kind = conv.get("traveller", "signed_in")
        known = kind in ("signed_in", "caller")
        who = Who(kind=kind, traveller=traveller,
                  headers=traveller_headers(traveller) if known else {},
                  phone=mobile_number(traveller))  # fmt: skip
        spec = conv.get("setup") or {}
        setup: dict[str, Any] | None = None
        try:
            if "profile" in spec or kind == "caller":
                profile = {"phone": who.phone} | (spec.get("profile") or {})
                await put_profile(client, who.headers, profile)
            if "booking" in spec:
                setup = await self.setup_booking(client, who.headers, spec["booking"])
            line = who.line(client, spec.get("caller_format", "e164"))
            await self._turns(client, conv, who, line, outcome)
            await self._final(client, conv, who.headers, traveller, setup, outcome)
        except Exception as e:  # a broken run is a failed conversation, reported with it
            outcome.problems.append(f"error: {type(e).__name__}: {e}")
        outcome.seconds = time.perf_counter() - started
        return outcome

    async def _phone_shows(
        self, client: httpx.AsyncClient, turn: dict[str, Any], who: Who
    ) -> dict[str, Any]:
        """The turn with what the caller's phone shows filled in: the newest code in their
        inbox (read now, after the turn that sent it), their number's ending."""
        forms = set(_PHONE.findall(json.dumps(turn, ensure_ascii=False)))
        if not forms:
            return turn
        code = ""
        if forms - {"phone_end"}:
            code = await latest_code(client, who.headers) or ""
            if not code:
                raise RuntimeError(f"no code in the traveller's SMS inbox for {turn['say']!r}")
        values = {form: said(form, code=code, phone=who.phone) for form in forms}
        filled: dict[str, Any] = fill(turn, values)
        return filled

    async def _turns(
        self,
        client: httpx.AsyncClient,
        conv: dict[str, Any],
        who: Who,
        line: ChatLine | PhoneCall,
        outcome: Outcome,
    ) -> None:
        seen: set[tuple[str, str]] = set()
        base_state: dict[str, Any] = {}
        base_seen: set[tuple[str, str]] = set()
        for turn in conv["turns"]:
            turn = await self._phone_shows(client, turn, who)
            answer = await line.say(turn["say"])
            want = turn["intent"] if isinstance(turn["intent"], list) else [turn["intent"]]
            state = {k: v for k, v in (answer.get("slots") or {}).items() if v is not None}
            result = TurnOutcome(
                text=turn["say"], reply=answer["reply"], intent=answer["intent"],
                want_intent=want, expecting=(answer.get("data") or {}).get("expecting", ""),
                slots=state, problems=check(turn.get("expect") or {}, answer),
            )  # fmt: skip
            gold = turn.get("slots") or {}
            _count(outcome.slot_counts, gold, state, seen)
            seen |= {(n, key(v)) for n, v in state.items()}
            # The keyword baseline reads the same turn.
            parse = await self.rules.parse(
                turn["say"], today=today(), context=ParseContext(known=dict(base_state))
            )
            result.baseline_intent = parse.intent.value
            for s in parse.slots:
                if s.normalized is not None and s.name in _QUERY_SLOT.values():
                    base_state[s.name] = s.normalized
            _count(outcome.base_slot_counts, gold, base_state, base_seen)
            base_seen |= {(n, key(v)) for n, v in base_state.items()}
            outcome.turns.append(result)
        success = conv.get("success") or {}
        # It has no phone channel, codes or profiles: only a plain chat search can succeed.
        profile = "profile" in (conv.get("setup") or {})
        chat_only = who.kind in ("guest", "signed_in") and not profile
        if success.get("kind") == "search" and chat_only:
            final: dict[str, Any] = next(
                (t["expect"]["query"] for t in reversed(conv["turns"])
                 if "query" in (t.get("expect") or {})), {},
            )  # fmt: skip
            outcome.baseline_success = bool(final) and all(
                key(base_state.get(_QUERY_SLOT[k], 1 if k == "adults" else None)) == key(v)
                if k != "cabin"
                else base_state.get("cabin", "economy") == v
                for k, v in final.items()
            )

    async def _final(
        self,
        client: httpx.AsyncClient,
        conv: dict[str, Any],
        headers: dict[str, str],
        traveller: str,
        setup: dict[str, Any] | None,
        outcome: Outcome,
    ) -> None:
        success = conv.get("success") or {}
        if "bookings" not in success and "booking" not in success:
            return
        if not headers:
            return
        listed = await client.get("/v1/bookings", params={"traveller": traveller}, headers=headers)
        listed.raise_for_status()
        records = listed.json()
        if "bookings" in success and len(records) != success["bookings"]:
            outcome.problems.append(f"{len(records)} bookings, want {success['bookings']}")
        want = success.get("booking")
        if not want:
            return
        if setup is not None:
            record = next((r for r in records if r["booking_id"] == setup["booking_id"]), None)
        else:
            record = records[0] if len(records) == 1 else None
        if record is None:
            outcome.problems.append("no booking to check")
            return
        if "status" in want and record["status"] != want["status"]:
            outcome.problems.append(f"booking {record['status']}, want {want['status']}")
        flight = record.get("flight") or {}
        if "date" in want and flight.get("date") != want["date"]:
            outcome.problems.append(f"booking date {flight.get('date')}, want {want['date']}")
        if "travellers" in want:
            names = [f"{t['first_name']} {t['last_name']}" for t in record["travellers"]]
            if names != want["travellers"]:
                outcome.problems.append(f"travellers {names}, want {want['travellers']}")
        if "party" in want:
            party = {k: flight.get(k) for k in want["party"]}
            if party != want["party"]:
                outcome.problems.append(f"booked for {party}, want {want['party']}")
        if self.ledger is None:
            self.ledger = await SandboxLedger.open(self.data_dir / SANDBOX_DB)
        money = await self.ledger.summary(record["booking_id"])
        if "captures" in want and money.captures != want["captures"]:
            outcome.problems.append(f"{money.captures} captures, want {want['captures']}")
        if "tickets" in want and money.tickets_issued != want["tickets"]:
            outcome.problems.append(f"{money.tickets_issued} tickets, want {want['tickets']}")
        if want.get("refunded") and money.refunded_paise <= 0:
            outcome.problems.append("nothing refunded")
        if want.get("refunded") is False and money.refunded_paise:
            outcome.problems.append(f"refunded {money.refunded_paise} paise, want none")


# --- report ----------------------------------------------------------------------------------


def f1(c: Counter[str]) -> float:
    denominator = 2 * c["tp"] + c["fp"] + c["fn"]
    return 2 * c["tp"] / denominator if denominator else 1.0


def pct(n: float, d: float) -> float:
    return 100.0 * n / d if d else float("nan")


def report(outcomes: list[Outcome], *, quiet: bool) -> None:
    turns = [t for o in outcomes for t in o.turns]
    right = sum(t.intent in t.want_intent for t in turns)
    base_right = sum(t.baseline_intent in t.want_intent for t in turns)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    base_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        for name, c in o.slot_counts.items():
            counts[name].update(c)
        for name, c in o.base_slot_counts.items():
            base_counts[name].update(c)
    total, base_total = Counter[str](), Counter[str]()
    for c in counts.values():
        total.update(c)
    for c in base_counts.values():
        base_total.update(c)
    done = sum(o.success for o in outcomes)
    base_done = sum(o.baseline_success for o in outcomes)
    booked = [o for o in outcomes if o.success and o.conv["success"].get("kind") == "book"]
    per_booking = sum(len(o.turns) for o in booked) / len(booked) if booked else float("nan")

    print(f"\n{len(outcomes)} conversations, {len(turns)} turns")
    print(f"\n{'category':<14}{'n':>4}{'success':>10}{'baseline':>10}{'intent acc':>12}")
    by_cat: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_cat[o.conv["category"]].append(o)
    for cat, group in sorted(by_cat.items()):
        ts = [t for o in group for t in o.turns]
        print(f"{cat:<14}{len(group):>4}{pct(sum(o.success for o in group), len(group)):>9.1f}%"
              f"{pct(sum(o.baseline_success for o in group), len(group)):>9.1f}%"
              f"{pct(sum(t.intent in t.want_intent for t in ts), len(ts)):>11.1f}%")  # fmt: skip
    by_lang: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_lang[o.conv.get("lang", "en")].append(o)
    print(f"\n{'language':<14}{'n':>4}{'success':>10}{'intent acc':>12}")
    for lang, group in sorted(by_lang.items()):
        ts = [t for o in group for t in o.turns]
        print(f"{lang:<14}{len(group):>4}{pct(sum(o.success for o in group), len(group)):>9.1f}%"
              f"{pct(sum(t.intent in t.want_intent for t in ts), len(ts)):>11.1f}%")  # fmt: skip
    by_who: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_who[o.conv.get("traveller", "signed_in")].append(o)
    print(f"\n{'who talks':<14}{'n':>4}{'success':>10}{'intent acc':>12}")
    for who, group in sorted(by_who.items()):
        ts = [t for o in group for t in o.turns]
        print(f"{who:<14}{len(group):>4}{pct(sum(o.success for o in group), len(group)):>9.1f}%"
              f"{pct(sum(t.intent in t.want_intent for t in ts), len(ts)):>11.1f}%")  # fmt: skip
    print(f"\n{'slot':<14}{'F1':>8}{'tp':>5}{'fp':>5}{'fn':>5}{'baseline F1':>13}")
    for name in sorted(counts.keys() | base_counts.keys()):
        c, b = counts[name], base_counts[name]
        print(f"{name:<14}{100 * f1(c):>7.1f}%{c['tp']:>5}{c['fp']:>5}{c['fn']:>5}"
              f"{100 * f1(b):>12.1f}%")  # fmt: skip

    figures = [
        ("intent accuracy (turns)", pct(right, len(turns)), pct(base_right, len(turns)),
         TARGETS["intent"], f"{right}/{len(turns)}", f"{base_right}/{len(turns)}"),
        ("slot F1, micro", 100 * f1(total), 100 * f1(base_total), TARGETS["slot_f1"],
         f"tp {total['tp']} fp {total['fp']} fn {total['fn']}",
         f"tp {base_total['tp']} fp {base_total['fp']} fn {base_total['fn']}"),
        ("task success", pct(done, len(outcomes)), pct(base_done, len(outcomes)),
         TARGETS["task"], f"{done}/{len(outcomes)}", f"{base_done}/{len(outcomes)}"),
    ]  # fmt: skip
    print("\n| what | Yatri | keyword baseline (`intents/legacy.RuleParser`) | target |")
    print("|---|---|---|---|")
    for name, ours, theirs, target, n_ours, n_theirs in figures:
        mark = "" if ours >= target else " (missed)"
        print(f"| {name} | **{ours:.1f} %** ({n_ours}){mark} | {theirs:.1f} % ({n_theirs}) "
              f"| {target:.0f} % |")  # fmt: skip
    print(f"| turns per completed booking | {per_booking:.1f} ({len(booked)} bookings) | "
          "(cannot book) | |")  # fmt: skip
    for name in sorted(counts):
        print(f"| slot F1: {name} | {100 * f1(counts[name]):.1f} % | "
              f"{100 * f1(base_counts[name]):.1f} % | |")  # fmt: skip

    failed = [o for o in outcomes if not o.success]
    print(f"\n{len(failed)} failed conversations")
    for o in failed:
        print(f"\n--- {o.conv['id']} ({o.conv['category']}, {o.conv.get('traveller', 'signed_in')})"
              f": {'; '.join(o.problems)}")  # fmt: skip
        for i, t in enumerate(o.turns, 1):
            flag = "" if t.intent in t.want_intent else f" (want {'/'.join(t.want_intent)})"
            print(f"  {i}> {t.text}")
            print(f"   < [{t.intent}{flag}|{t.expecting}] {t.reply}")
            for p in t.problems:
                print(f"     ! {p}")
    misses = [(o.conv["id"], t) for o in outcomes if o.success for t in o.turns
              if t.intent not in t.want_intent]  # fmt: skip
    if misses and not quiet:
        print("\nintent misses in conversations that succeeded:")
        for cid, t in misses:
            print(f"  {cid}: {t.text!r}: {t.intent} (want {'/'.join(t.want_intent)})")


# --- main ------------------------------------------------------------------------------------


def ingest(base: str) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api", "ingest", str(POLICIES), "--url", base],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    summary = [line for line in done.stdout.splitlines() if line.startswith("added=")]
    if done.returncode != 0 or not summary:
        raise RuntimeError(f"ingest failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    print(f"policy corpus ingested in {time.perf_counter() - started:.1f} s: {summary[0]}")


async def run_all(
    base: str, data_dir: Path, conversations: list[dict[str, Any]], concurrency: int
) -> list[Outcome]:
    runner = Runner(base, data_dir, uuid.uuid4().hex[:6])
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=90) as client:

        async def one(conv: dict[str, Any]) -> Outcome:
            async with gate:
                return await runner.run(client, conv)

        try:
            return list(await asyncio.gather(*(one(c) for c in conversations)))
        finally:
            if runner.ledger is not None:
                await runner.ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="run conversations whose id starts with this")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--quiet", action="store_true", help="no list of intent misses")
    parser.add_argument("--url", default="", help="use a running server (no ingest, no ledger; "
                        "it needs the bench's YATRI_ASR_WEBHOOK_SECRET for callers)")  # fmt: skip
    parser.add_argument("--data-dir", default="", help="its data dir, for the ledger (with --url)")
    args = parser.parse_args()
    conversations = [c for c in yaml.safe_load(DATA.read_text()) if c["id"].startswith(args.only)]
    print(f"{len(conversations)} conversations from {DATA.relative_to(ROOT)}; today {today()}")
    started = time.perf_counter()
    if args.url:
        outcomes = asyncio.run(
            run_all(args.url, Path(args.data_dir), conversations, args.concurrency)
        )
    else:
        server = YatriProcess(
            env={"YATRI_VOICE_ENABLED": "false", "YATRI_SUPPLIER_LATENCY_MS": "0",
                 "YATRI_BOOKING_HOLD_TTL_S": "600", "YATRI_ASR_WEBHOOK_SECRET": WEBHOOK_SECRET}
        )  # fmt: skip
        try:
            print(f"yatri serve ready in {server.start(timeout=300):.1f} s")
            ingest(server.base)
            outcomes = asyncio.run(
                run_all(server.base, server.data_dir, conversations, args.concurrency)
            )
        finally:
            server.stop()
    print(f"all done (start, ingest, conversations) in {time.perf_counter() - started:.1f} s")
    report(outcomes, quiet=args.quiet)


if __name__ == "__main__":
    main()
