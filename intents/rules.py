"""What rules decide about a turn where they are certain. Before the example vote, so without an
embedding: a bare yes or no when a confirmation is awaited, a one-time code, a pointer at shown
options, a cancel or change of what the traveller owns, a question about the state of their
own booking, and a turn that is nothing but trip details ("15 January", "अगले शुक्रवार",
"Pune se, 2 log"), which answers or refines the task under way. After the vote: a question asked
hypothetically or in general about rules, fees or allowances is a policy question even when it
names a task ("if I cancel, how much do I get back?", "tatkal cancel karne par refund milta hai
kya?")."""

from __future__ import annotations

import re

from intents.models import Intent
from intents.parse import ParseContext
from intents.slots import Readings
from intents.text import word_set

YES = re.compile(
    r"^(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|okk|haan|han|ha|haa|ji|ji haan|haan ji|hanji"
    r"|theek hai|thik hai|correct|right|confirm(?:ed)?|go ahead|bilkul|do it|please do|done"
    r"|absolutely|of course|perfect|sounds good|that's right|sahi hai|kar do|kardo)\b"
)
NO = re.compile(
    r"^(?:no|nope|nah|nahi|nahin|na|mat|don't|do not|not now|not that|galat|wrong|rehne do"
    r"|bilkul nahi|never)\b"
)
QUESTION = re.compile(
    r"\?\s*$|^(?:what|whats|what's|how|can|could|is|are|do|does|will|would|should|may|when|"
    r"why|which|kya|kitna|kitni|kitne|kaise|kab|kyun|agar|if)\b"
)
SEARCHES = frozenset(
    (Intent.SEARCH_FLIGHTS, Intent.SEARCH_HOTELS, Intent.SEARCH_TRAINS, Intent.SEARCH_BUSES)
)
# "Cancel" with what is booked is a cancellation ("cancel that" alone is a change of mind).
_CANCEL = re.compile(
    r"\b(?:cancel|radd|kainsil|kensil)\b.*\b(?:booking|bookings|ticket|tikat|buking|reservation"
    r"|flight|flait|trip|pnr|bk_\w+)\b|\b(?:booking|ticket|tikat|buking|reservation|flight|trip)\b"
    r".*\b(?:cancel|radd|kainsil|kensil)\b"
)
_BOOK_THIS = re.compile(
    r"\b(?:ye|yeh|is|isko|ise|iss|this|that|it)\b(?: \w+)? book\b|\bbook (?:it|this|that)\b"
)
# A change to what the traveller owns: "my booking", "meri flight" with a change word.
_CHANGE = re.compile(
    r"\b(?:my|meri|mera|mere)\s+(?:\w+\s+)?(?:booking|ticket|flight|trip|reservation)\b.*"
    r"\b(?:change|badal\w*|reschedule|shift|postpone|prepone|move|tarikh|date)\b"
    r"|\b(?:change|reschedule|shift|postpone|prepone|move)\s+(?:my|meri|mera)\b"
)
# The state of the traveller's own booking: "did my Delhi Goa booking go through?", "is my
# flight to Pune booked?", "meri Goa wali booking confirm hui?".
_OWN_THING = (
    r"\b(?:my|meri|mera|mere|our|hamari|hamara)\b(?:\s+[\w-]+){0,3}?\s+(?:bookings?|tickets?"
    r"|flights?|trips?|reservations?|pnr)\b"
)
_STATE = (
    r"\b(?:go(?:ne)? through|went through|gone|confirm\w*|booked|status|update|news|happen\w*"
    r"|done|ho gay[ai]|hu[ai]|kya hua|issued?)\b"
)
_STATUS = re.compile(
    rf"{_OWN_THING}.*{_STATE}|\b(?:status|update|news)\b.*{_OWN_THING}"
    rf"|^(?:[\w,]+\s+){{0,3}}(?:was|is|has|have|did|were)\s+{_OWN_THING}"
)
_STATUS_WORD = re.compile(r"\b(?:status|stetas|confirmed|update|news)\b")
_ASKS = re.compile(
    rf"{QUESTION.pattern}|\b(?:kya|hui|hua)\s*\??$|^(?:[\w,]+\s+){{0,3}}(?:did|has|have|was"
    r"|were|any)\b"
)
_NOT_STATUS = re.compile(
    r"\b(?:cancel\w*|radd|change|reschedul\w*|badal\w*|refund\w*|postpone|prepone|shift|upgrade"
    r"|add|new|another|book (?:a|an|me|one)|if|agar)\b"
)
# Words that carry no task of their own beside trip details ("on 15 January then", "Pune se").
_FILLER = word_set(
    "on for the a an from to at in by of and then please pls plz ok okay so instead actually "
    "sorry i meant mean make it how what about also just only around maybe hmm umm uh oh wait "
    "same with is are se ko ki ka ke tak aur wala wali wale vala vali vale mein men me main par "
    "pe bhi hi toh ji liye chahiye chaiye chahie hai hain"
)
_TRIP_DETAILS = frozenset(
    ("adults", "children", "infants", "rooms", "nights", "cabin", "budget", "time_of_day")
)
# Asked in general or hypothetically: about the rules, not a request to act on a booking.
_HYPOTHETICAL = re.compile(
    r"\b(?:what if|what happens|if|agar|in case|incase|suppose|supposing)\b"
    r"|\b(?:karne|karane|karwane|hone|jane|jaane|lene|dene)\s+(?:par|pe|pr|ke baad)\b"
    r"|\bho\s+(?:jaye|jaaye|jae|jay|gayi|gaya|gai)?\s*(?:to|toh)\b"
    r"|\bhow old\b|\b(?:at )?what age\b"
)
_GENERIC = re.compile(
    r"\b(?:do|does|will|would)\s+(?:you|yatri|they|the airlines?|airlines?|the buses|buses"
    r"|trains?|hotels?)\s+(?:guys\s+|people\s+)?(?:offer|give|provide|allow|charge|include"
    r"|refund|pay|serve|deduct)\b"
    r"|\b(?:is|are)\s+there\s+(?:a|an|any)\b|\bhow (?:much|many|long|early|soon)\b"
    r"|\b(?:is|are|will)\b.*\b(?:allowed|permitted|included|refundable|mandatory|compulsory"
    r"|chargeable|available)\b"
    r"|\b(?:milta|milti|milte|milega|milegi|milenge|lagta|lagti|lagte|lagega|lagegi|hota|hoti"
    r"|hote|katta|katega|kategi)\s+(?:hai\s+)?kya\b|\bkya (?:hai|hota hai|hoti hai)\s*\??$"
    r"|\bkya\b.*\b(?:milta|milti|milega|milegi"
    r"|lagta|lagti|lagega|hota|hoti|allowed)\b|\bkitn[aei]\b"
    r"|^can\s+(?:i|we|one|a|an|my|our|kids?|children|babies|infants?|pets?)\b"
)
_TOPIC = re.compile(
    r"\b(?:refund\w*|money back|(?:paisa|paise) (?:wapas|vapas|wapis)|wapas milt\w+"
    r"|charges?|fees?|penalt\w+|deduct\w*|katega|kategi|katenge|allowance|allowed|permitted"
    r"|baggage|luggage|saman|samaan|bags?|kg|kgs|kilos?|carry|bring|infants?|bab(?:y|ies)"
    r"|newborn|child(?:ren)?|kids?|minors?|bachch?[ae]\w*|pets?|dogs?|cats?|documents?|id"
    r"|proof|passport|aadhaa?r|visa|lounge\w*|meals?|food|breakfast|snacks?|wi-?fi|included"
    r"|discounts?|concession|rules?|polic(?:y|ies)|tatkal|compensation|delay\w*|wheelchair"
    r"|pregnan\w*|senior citizens?|students?|check[- ]?in|check[- ]?out|cancellation"
    r"|reschedul\w*|insurance|laptops?|power ?banks?|liquids?|alcohol|miss(?:ed)?)\b"
)
# A request or a wish to act ("find me", "I want to cancel", "cancel karna hai"): a task, even
# with a question about its cost beside it.
_REQUEST = re.compile(
    r"\b(?:find|show|search|look(?:ing)? for|get me|book (?:a|an|me|my)|dikhao|dhundo|chahiye"
    r"|i (?:need|want|would like|'d like|wish) (?:a|an|to)|(?:please|pls|plz) \w+"
    r"|(?:karna|krna|karni|krni|karwana|karana|karvana) (?:hai|h|he|hain)|chahta|chahti"
    r"|kar (?:do|dijiye|dena)|karo)\b"
)
_CANCEL_WORD = re.compile(r"\b(?:cancel|radd|kainsil|kensil)\b")
# The flows a cancel word drops rather than cancels: nothing is booked in them yet.
_UNDER_WAY = frozenset((*SEARCHES, Intent.BOOK, Intent.SELECT_OFFER))
_OWNED = re.compile(
    r"\b(?:my|meri|mera|mere|our|hamari|hamara|pnr|bk_\w+|booked|existing|earlier|previous|other"
    r"|purani|pichli|pehle wali)\b"
)
# Who travels, said as people rather than names: "just me", "me and my wife", "main aur meri
# beti", "my mother and I".
_PARTY = re.compile(
    r"\b(?:just me|only me|myself|sirf main|sirf mai|akela|akeli|me and|and me|and i|main aur"
    r"|mai aur|hum do|hum teen|hum char|wife|husband|patni|pati|son|daughter|beta|beti|bete"
    r"|mother|mom|mum|maa|mummy|mata ?ji|father|dad|papa|pita ?ji|brother|bhai|sister|behen"
    r"|behan|didi|friend|dost|colleague|family|parivar|kids?|children|child|bachch?[ae]\w*"
    r"|bab(?:y|ies)|infant|grand\w+|dadi|nani|dada|nana|uncle|aunty|in-laws?|saas|sasur)\b"
)
_TASK_WORD = re.compile(
    r"\?|\b(?:cancel|radd|change|badal\w*|book|status|refund|search|find|show|flight|flights"
    r"|hotel|train|bus|policy|allowed|ticket price|kitna|kitne|how)\b"
)
_CHANGE_WORD = re.compile(r"\b(?:change|reschedule|badal\w*|postpone|prepone|shift|move)\b")
_OWN_WORD = re.compile(r"\b(?:my|meri|mera|mere|booking|ticket|flight|pnr|bk_\w+)\b")
# What a hypothetical question may turn on besides a topic: "what if the flight is late?".
_WHAT_IF_ABOUT = re.compile(r"\b(?:how|kitn[aei]|late|lat|der|cancel\w*|radd|happens?)\b")


def before_vote(
    text: str, readings: Readings, context: ParseContext
) -> tuple[Intent, float] | None:
    """The intent (and its confidence) rules decide from the text and what the dialogue awaits,
    or None for the vote to decide."""
    intent = _certain(text, readings, context)
    if intent is not None:
        return intent, 0.97
    if context.expecting not in ("confirmation", "otp", "traveller_details") and (
        only_trip_details(text, readings)
    ):
        # Certain that it answers or refines a task; which one is read from the context.
        return task_of_details(readings, context), 0.9
    return None


def _certain(text: str, readings: Readings, context: ParseContext) -> Intent | None:
    expecting = context.expecting or ""
    short = len(text.split()) <= 4
    if expecting == "confirmation" and short:
        if NO.match(text):
            return Intent.DENY
        if YES.match(text):
            return Intent.AFFIRM
    if (code := readings.get("otp")) and len((text[: code.start] + text[code.end :]).split()) <= 4:
        return Intent.AFFIRM  # the code approves what was read back ("code hai 4 8 2 9 1 3")
    if expecting == "choice" and readings.has("offer_ref") and not readings.places:
        return Intent.SELECT_OFFER
    if expecting == "traveller_details" and _PARTY.search(text) and not _TASK_WORD.search(text):
        return Intent.PROVIDE_TRAVELLER_DETAILS  # "main aur meri patni", "just me"
    if (
        context.intent in _UNDER_WAY
        and _CANCEL_WORD.search(text)
        and not _OWNED.search(text)
        and not QUESTION.search(text)
    ):
        # "forget the flight, cancel everything" before anything is booked: drop what is under
        # way ("cancel my Goa booking" names one the traveller owns: a cancellation).
        return Intent.NEVERMIND
    if _CANCEL.search(text) and not QUESTION.search(text) and not readings.dates:
        return Intent.CANCEL_BOOKING
    if _CHANGE.search(text) and not QUESTION.search(text):
        return Intent.MODIFY_BOOKING
    if _BOOK_THIS.search(text) and not readings.places and not NO.match(text):
        return Intent.BOOK
    if expecting == "traveller_details" and readings.has("traveller_names"):
        return Intent.PROVIDE_TRAVELLER_DETAILS
    if not _NOT_STATUS.search(text) and (
        (_STATUS.search(text) and _ASKS.search(text))
        or (readings.has("booking_ref") and _STATUS_WORD.search(text))
    ):
        return Intent.BOOKING_STATUS
    return None


def only_trip_details(text: str, readings: Readings) -> bool:
    """The turn says places, dates, counts, a cabin or a budget and nothing else but filler."""
    spans = [(p.start, p.end) for p in readings.places] + [(d.start, d.end) for d in readings.dates]
    spans += [(f.start, f.end) for f in readings.found if f.name in _TRIP_DETAILS]
    if not spans or not (
        readings.places or readings.dates or any(f.name != "time_of_day" for f in readings.found)
    ):
        return False  # "morning!" alone is a greeting, not a time
    if any(f.name not in _TRIP_DETAILS for f in readings.found):
        return False  # an option, a booking, a code or a name: not this rule's
    rest = list(text)
    for start, end in spans:
        rest[start:end] = " " * (end - start)
    return all(w in _FILLER for w in re.findall(r"[a-z0-9']+", "".join(rest)))


def task_of_details(readings: Readings, context: ParseContext) -> Intent:
    """The task a turn of bare trip details belongs to: the one under way, else a search."""
    if context.intent is not None and context.intent not in _NOT_TASKS:
        return context.intent
    if ongoing := ongoing_search(context):
        return ongoing
    expected = (context.expecting or "").removeprefix("slot:")
    if expected in _STAY_SLOTS or readings.has("rooms") or readings.has("nights"):
        return Intent.SEARCH_HOTELS
    return Intent.SEARCH_FLIGHTS


def ongoing_search(context: ParseContext) -> Intent | None:
    """The search under way, from the dialogue's intent or the slots it holds."""
    if context.intent in SEARCHES:
        return context.intent
    known = {k for k, v in context.known.items() if v is not None}
    if known & _STAY_SLOTS:
        return Intent.SEARCH_HOTELS
    if known & {"origin", "destination", "date", "return_date"}:
        return Intent.SEARCH_FLIGHTS
    return None


def wants_to_act(text: str) -> Intent | None:
    """A wish to cancel or change, with or without a question about what it costs ("I want to
    cancel my ticket, how much will I get back?"): the task, whose flow reads out the refund or
    the fare difference before anything is done."""
    if not _REQUEST.search(text) or re.search(r"\b(?:if|agar|polic(?:y|ies)|rules?)\b", text):
        return None
    if _CANCEL_WORD.search(text):
        return Intent.CANCEL_BOOKING
    if _CHANGE_WORD.search(text) and _OWN_WORD.search(text):
        return Intent.MODIFY_BOOKING
    return None


def asks_about_rules(text: str, readings: Readings) -> bool:
    """A question about rules, fees or allowances asked hypothetically or in general, with no
    trip or booking of its own in it and no request to find or book one (those are tasks)."""
    if readings.places or readings.dates or readings.found or _REQUEST.search(text):
        return False
    if not (QUESTION.search(text) or _GENERIC.search(text) or _HYPOTHETICAL.search(text)):
        return False
    if _HYPOTHETICAL.search(text):
        return bool(_TOPIC.search(text) or _WHAT_IF_ABOUT.search(text))
    return bool(_GENERIC.search(text) and _TOPIC.search(text))


_NOT_TASKS = frozenset(
    (Intent.AFFIRM, Intent.DENY, Intent.GREET, Intent.HELP, Intent.THANKS, Intent.GOODBYE,
     Intent.OUT_OF_SCOPE, Intent.UNKNOWN, Intent.POLICY_QUESTION, Intent.HUMAN_AGENT,
     Intent.NEVERMIND)
)  # fmt: skip
_STAY_SLOTS = frozenset(("city", "check_in", "check_out", "rooms", "nights"))
