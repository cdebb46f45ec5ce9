"""The retrieval intent parser on the real engine: the example collection in embedded Qdrant
Edge, MiniLM embeddings, the real airport directory. Every finding of issue 12 has a case."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.airports import load_airports
from intents.catalogue import EXAMPLES_PATH, load_catalogue
from intents.classifier import DOC_ID, VECTOR_FIELD, ExampleIndex
from intents.models import Intent
from intents.parse import CLARIFY_BELOW, Parse, ParseContext
from intents.parser import RetrievalIntentParser
from intents.places import common_words
from rag.edge import EdgeStore
from rag.embeddings import EmbeddingPool, OnnxMiniLM
from rag.store import SearchFilter, SparseVector, StoredChunk

TODAY = dt.date(2026, 11, 25)  # a Wednesday


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[EmbeddingPool]:
    embeddings = EmbeddingPool(OnnxMiniLM.load())
    yield embeddings
    embeddings.close()


@pytest.fixture(scope="module")
async def parser(
    pool: EmbeddingPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RetrievalIntentParser]:
    store = EdgeStore.open(tmp_path_factory.mktemp("qdrant"), collection="intents")
    yield await RetrievalIntentParser.start(
        index=ExampleIndex(store=store, embeddings=pool),
        airports=load_airports(),
        common_words=common_words(),
    )
    await store.close()


async def parse(parser: RetrievalIntentParser, text: str, **context: Any) -> Parse:
    return await parser.parse(
        text, today=TODAY, context=ParseContext(**context) if context else None
    )


def values(p: Parse) -> dict[str, Any]:
    return {s.name: s.normalized for s in p.slots}


async def test_a_place_to_stay_is_a_hotel_search_without_a_count(
    parser: RetrievalIntentParser,
) -> None:
    p = await parse(parser, "I'm looking for a place to stay")
    assert p.intent is Intent.SEARCH_HOTELS
    assert "adults" not in values(p)


async def test_mobile_is_confirmed_as_mumbai_never_searched(parser: RetrievalIntentParser) -> None:
    p = await parse(parser, "flights from Delhi to Mobile tomorrow")
    assert p.intent is Intent.SEARCH_FLIGHTS
    destination = p.slot("destination")
    assert destination is not None
    assert destination.value == "Mobile" and destination.candidates == ("BOM",)
    assert destination.confidence < 0.6  # the dialogue reads it back: "Did you mean Mumbai?"
    assert p.slot("origin") is not None and p.slot("origin").confidence > 0.9  # type: ignore[union-attr]


async def test_a_bare_route_is_a_flight_search_and_no_place_is_invented(
    parser: RetrievalIntentParser,
) -> None:
    route = await parse(parser, "BLR to GOI tomorrow")
    assert (route.intent, values(route)["origin"]) == (Intent.SEARCH_FLIGHTS, "BLR")
    made_up = (await parse(parser, "flights from Atlantis to Mumbai")).slot("origin")
    assert made_up is not None and made_up.normalized is None and made_up.candidates == ()
    typo = (await parse(parser, "I want to fly from Mumbay to Dilli")).slot("origin")
    assert typo is not None and typo.candidates == ("BOM",) and typo.confidence < 0.6


async def test_a_big_city_abroad_is_unresolved(parser: RetrievalIntentParser) -> None:
    p = await parse(parser, "I want to fly to Dubai")
    destination = p.slot("destination")
    assert destination is not None and destination.normalized is None
    assert destination.confidence == 0.0


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("flights to Goa on april first", "2027-04-01"),
        ("I want to fly to Pune on the twenty second", "2026-12-22"),
        ("wednesday april sixth from Delhi to Goa", "2027-04-06"),  # the date wins
        ("flight to Chennai on 3.12.2026", "2026-12-03"),
        ("मुझे 15 दिसंबर को दिल्ली से मुंबई जाना है", "2026-12-15"),
        ("parson Mumbai se Goa", "2026-11-27"),
        ("परसों पटना जाना है", "2026-11-27"),
        ("agle hafte Jaipur ki flight", "2026-11-30"),
    ],
)
async def test_dates(parser: RetrievalIntentParser, text: str, date: str) -> None:
    assert values(await parse(parser, text))["date"] == date


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("what about the day after", "2027-01-05"),
        ("one day earlier please", "2027-01-03"),
        ("uske agle din", "2027-01-05"),
        ("the day after tomorrow", "2026-11-27"),  # still from today
    ],
)
async def test_a_date_relative_to_the_one_under_discussion(
    parser: RetrievalIntentParser, text: str, date: str
) -> None:
    p = await parse(parser, text, **SEARCH_SHOWN)  # searched for 4 January
    assert (p.intent, values(p)) == (Intent.SEARCH_FLIGHTS, {"date": date})


async def test_going_back_with_no_outbound_date_is_the_trips_date(
    parser: RetrievalIntentParser,
) -> None:
    alone = values(await parse(parser, "bhai Pune se Delhi wapas aana hai 20 December ko"))
    assert alone["date"] == "2026-12-20" and "return_date" not in alone
    later = await parse(parser, "returning on 10 dec", known={"date": "2026-12-05"})
    assert values(later) == {"return_date": "2026-12-10"}


async def test_a_decimal_is_not_a_date(parser: RetrievalIntentParser) -> None:
    p = await parse(parser, "a hotel in Goa with a 3.7 rating")
    assert not {"date", "check_in", "check_out"} & values(p).keys()


async def test_return_and_check_out_never_overwrite_the_first_date(
    parser: RetrievalIntentParser,
) -> None:
    flight = values(await parse(parser, "Delhi to Goa on 5 dec, returning on 10 dec"))
    assert (flight["date"], flight["return_date"]) == ("2026-12-05", "2026-12-10")
    stay = values(await parse(parser, "hotel in Jaipur check in friday check out sunday"))
    assert (stay["check_in"], stay["check_out"]) == ("2026-11-27", "2026-11-29")
    assert stay["city"] == "JAI"


@pytest.mark.parametrize(
    ("text", "adults"),
    [
        ("3 tickets to Chennai", 3),
        ("two seats from Pune to Delhi", 2),
        ("a group of 4 flying to Jaipur", 4),
        ("hum teen log Goa jayenge", 3),
        ("दो लोगों के लिए जयपुर की फ्लाइट", 2),
        ("flights to Delhi for a", None),  # "for a" is no count
    ],
)
async def test_counts(parser: RetrievalIntentParser, text: str, adults: int | None) -> None:
    assert values(await parse(parser, text)).get("adults") == adults


async def test_slots_carry_spans_in_the_text_as_given(parser: RetrievalIntentParser) -> None:
    text = "मुझे कल  दिल्ली से मुंबई की फ्लाइट चाहिए"
    p = await parse(parser, text)
    assert p.language == "hi"
    for slot in p.slots:
        assert text[slot.start : slot.end] == slot.value
    assert {s.name: s.value for s in p.slots} == {
        "date": "कल", "origin": "दिल्ली", "destination": "मुंबई",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("कल दिल्ली से बेंगलुरु की फ्लाइट दिखाओ", Intent.SEARCH_FLIGHTS),
        ("kal Delhi se Bangalore ki flight dikhao", Intent.SEARCH_FLIGHTS),
        ("गोवा में दो रात के लिए होटल", Intent.SEARCH_HOTELS),
        ("Goa mein do raat ke liye hotel", Intent.SEARCH_HOTELS),
        ("दिल्ली से आगरा की ट्रेन", Intent.SEARCH_TRAINS),
        ("Delhi se Agra ki train", Intent.SEARCH_TRAINS),
        ("दिल्ली से मनाली की बस", Intent.SEARCH_BUSES),
        ("Delhi se Manali bus", Intent.SEARCH_BUSES),
        ("मेरी बुकिंग का स्टेटस बताओ", Intent.BOOKING_STATUS),
        ("meri booking ka status batao", Intent.BOOKING_STATUS),
        ("मेरा टिकट कैंसिल कर दो", Intent.CANCEL_BOOKING),
        ("mera ticket cancel kar do", Intent.CANCEL_BOOKING),
        ("मेरी फ्लाइट की तारीख बदल दो", Intent.MODIFY_BOOKING),
        ("meri flight ki date badal do", Intent.MODIFY_BOOKING),
        ("किसी एजेंट से बात कराओ", Intent.HUMAN_AGENT),
        ("kisi agent se baat karao", Intent.HUMAN_AGENT),
        ("बहुत धन्यवाद", Intent.THANKS),
        ("नमस्ते", Intent.GREET),
    ],
)
async def test_hindi_and_hinglish(parser: RetrievalIntentParser, text: str, intent: Intent) -> None:
    assert (await parse(parser, text)).intent is intent


async def test_context_decides_the_certain_cases(parser: RetrievalIntentParser) -> None:
    assert (await parse(parser, "haan ji", expecting="confirmation")).intent is Intent.AFFIRM
    assert (await parse(parser, "नहीं", expecting="confirmation")).intent is Intent.DENY
    otp = await parse(parser, "482913", expecting="otp")
    assert (otp.intent, values(otp)["otp"]) == (Intent.AFFIRM, "482913")
    choice = await parse(parser, "the 6 am IndiGo one", expecting="choice")
    assert choice.intent is Intent.SELECT_OFFER
    assert values(choice)["offer_ref"] == {"carrier": "6E", "time": "06:00"}
    last = await parse(parser, "the last one", expecting="choice", offers_shown=5)
    assert values(last)["offer_ref"] == {"ordinal": 5}
    answer = await parse(parser, "Chennai", expecting="slot:origin", intent=Intent.SEARCH_FLIGHTS)
    assert (answer.intent, values(answer)) == (Intent.SEARCH_FLIGHTS, {"origin": "MAA"})


BOOKING_UNDER_WAY: dict[str, Any] = {"intent": Intent.BOOK, "known": {"origin": "CCU"}}


@pytest.mark.parametrize(
    ("text", "context", "intent"),
    [
        ("main aur meri patni", {"expecting": "traveller_details"}, Intent.PROVIDE_TRAVELLER_DETAILS),
        ("मैं और मेरी बेटी", {"expecting": "traveller_details"}, Intent.PROVIDE_TRAVELLER_DETAILS),
        ("just me", {"expecting": "traveller_details"}, Intent.PROVIDE_TRAVELLER_DETAILS),
        ("forget the flight, cancel everything", {"expecting": "confirmation"}, Intent.NEVERMIND),
        ("cancel it, I don't want to go", {"expecting": "choice"}, Intent.NEVERMIND),
        ("cancel my Goa booking", {"expecting": "choice"}, Intent.CANCEL_BOOKING),
    ],
)  # fmt: skip
async def test_what_is_under_way_decides_people_and_cancels(
    parser: RetrievalIntentParser, text: str, context: dict[str, Any], intent: Intent
) -> None:
    assert (await parse(parser, text, **BOOKING_UNDER_WAY, **context)).intent is intent


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("code hai saat do paanch char nau char", "725494"),
        ("the code is four eight two nine one three", "482913"),
        ("4 8 2 9 1 3", "482913"),
    ],
)
async def test_a_code_said_digit_by_digit_approves(
    parser: RetrievalIntentParser, text: str, code: str
) -> None:
    p = await parse(parser, text, expecting="otp", intent=Intent.BOOK)
    assert (p.intent, values(p)) == (Intent.AFFIRM, {"otp": code})


async def test_a_refinement_keeps_the_search_under_way(parser: RetrievalIntentParser) -> None:
    p = await parse(parser, "for 2 adults", known={"origin": "HYD", "destination": "PNQ"})
    assert (p.intent, values(p)) == (Intent.SEARCH_FLIGHTS, {"adults": 2})


SEARCH_SHOWN: dict[str, Any] = {
    "expecting": "choice",
    "intent": Intent.SEARCH_FLIGHTS,
    "known": {"origin": "PNQ", "destination": "DEL", "date": "2027-01-04"},
    "offers_shown": 3,
}


@pytest.mark.parametrize(
    ("text", "context", "intent", "date"),
    [
        ("१५ जनवरी", {}, Intent.SEARCH_FLIGHTS, "2027-01-15"),
        ("अगले शुक्रवार", SEARCH_SHOWN, Intent.SEARCH_FLIGHTS, "2026-11-27"),
        ("परसों सुबह", SEARCH_SHOWN, Intent.SEARCH_FLIGHTS, "2026-11-27"),
        ("sorry, I meant the 3rd of December", SEARCH_SHOWN, Intent.SEARCH_FLIGHTS, "2026-12-03"),
        ("अगले शुक्रवार", {"expecting": "slot:new_date", "intent": Intent.MODIFY_BOOKING},
         Intent.MODIFY_BOOKING, "2026-11-27"),
    ],
)  # fmt: skip
async def test_a_turn_of_bare_trip_details_answers_the_task_under_way(
    parser: RetrievalIntentParser, text: str, context: dict[str, Any], intent: Intent, date: str
) -> None:
    # Decided by rule, so no vote (no embedding) and nothing to clarify.
    p = await parse(parser, text, **context)
    assert (p.intent, values(p)["date"]) == (intent, date)
    assert (p.alternatives, p.margin, p.clarify()) == ((), 1.0, None)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("oh btw, did my delhi goa booking go through?", "DEL"),
        ("is my flight to Pune booked?", "PNQ"),
        ("meri Jaipur wali booking confirm hui?", "JAI"),
        ("मेरी चेन्नई वाली बुकिंग कन्फर्म हुई क्या?", "MAA"),
    ],
)
async def test_a_question_about_ones_own_booking_after_a_search_is_its_status(
    parser: RetrievalIntentParser, text: str, place: str
) -> None:
    p = await parse(parser, text, **SEARCH_SHOWN)
    assert p.intent is Intent.BOOKING_STATUS
    assert values(p) == {"booking_ref": {"place": place}}  # a booking named, not a new route


@pytest.mark.parametrize(
    "text",
    [
        "if I cancel my flight, how much will I get back?",
        "what happens to my money if the airline cancels?",
        "how old does a baby have to be to fly?",
        "do you offer lounge access with every ticket?",
        "can I change the date after booking, is there a fee?",
        "agar main ticket cancel karun to kitna paisa katega?",
        "train late ho jaye to paisa wapas milta hai kya?",
        "अगर बस रद्द हो जाए तो क्या रिफंड मिलेगा?",
    ],
)
async def test_a_question_about_the_rules_is_a_policy_question_even_naming_a_task(
    parser: RetrievalIntentParser, text: str
) -> None:
    assert (await parse(parser, text)).intent is Intent.POLICY_QUESTION


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("cancel my Goa booking", Intent.CANCEL_BOOKING),
        # A wish to cancel with a question about the refund: the cancellation quotes it.
        ("I want to cancel my ticket, how much refund will I get?", Intent.CANCEL_BOOKING),
        ("ticket cancel karna hai, kitna paisa wapas milega?", Intent.CANCEL_BOOKING),
        ("please find me a hotel in Goa where pets are allowed", Intent.SEARCH_HOTELS),
        ("is there a flight from Delhi to Goa tomorrow?", Intent.SEARCH_FLIGHTS),
    ],
)
async def test_requests_and_trips_stay_tasks(
    parser: RetrievalIntentParser, text: str, intent: Intent
) -> None:
    assert (await parse(parser, text)).intent is intent


async def test_a_close_vote_between_two_tasks_asks_which(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    examples = tmp_path / "examples.yaml"
    text = EXAMPLES_PATH.read_text()
    for intent in ("cancel_booking", "modify_booking"):  # the same words for both
        text = text.replace(f"{intent}:\n", f"{intent}:\n  - zorblax my quux booking\n", 1)
    examples.write_text(text)
    store = EdgeStore.open(tmp_path / "qdrant", collection="intents")
    try:
        parser = await RetrievalIntentParser.start(
            index=ExampleIndex(store=store, embeddings=pool),
            airports=load_airports(),
            examples_path=examples,
        )
        p = await parser.parse("zorblax my quux booking", today=TODAY)
        assert p.margin < CLARIFY_BELOW
        assert set(p.clarify() or ()) == {Intent.CANCEL_BOOKING, Intent.MODIFY_BOOKING}
        assert p.alternatives[0][0] in (Intent.CANCEL_BOOKING, Intent.MODIFY_BOOKING)
    finally:
        await store.close()


async def test_a_vehicle_or_a_status_said_outright_is_not_asked_about(
    parser: RetrievalIntentParser,
) -> None:
    train = await parse(parser, "3 AC tickets to Lucknow next Monday")
    assert (train.intent, train.margin, train.clarify()) == (Intent.SEARCH_TRAINS, 1.0, None)
    status = await parse(parser, "PNR XQ4Z7R status please")
    assert (status.intent, status.clarify()) == (Intent.BOOKING_STATUS, None)


def test_clarification_is_only_between_close_tasks() -> None:
    close = Parse("x", Intent.CANCEL_BOOKING, 0.4, ((Intent.POLICY_QUESTION, 0.38),), margin=0.05)
    assert close.clarify() == (Intent.CANCEL_BOOKING, Intent.POLICY_QUESTION)
    clear = Parse("x", Intent.CANCEL_BOOKING, 0.8, ((Intent.POLICY_QUESTION, 0.1),), margin=0.7)
    assert clear.clarify() is None
    chat = Parse("x", Intent.GOODBYE, 0.3, ((Intent.THANKS, 0.3),), margin=0.02)
    assert chat.clarify() is None


async def test_offer_references(parser: RetrievalIntentParser) -> None:
    cases = {
        "the second one": {"ordinal": 2},
        "the cheapest": {"cheapest": True},
        "the non-stop one please": {"nonstop": True},
    }
    for text, ref in cases.items():
        p = await parse(parser, text, expecting="choice")
        assert (p.intent, values(p)["offer_ref"]) == (Intent.SELECT_OFFER, ref), text


async def test_a_confident_policy_passage_makes_a_policy_question(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    async def probe(question: str) -> float:  # an honest stand-in for AnswerService.confidence
        return 0.8 if "laptop" in question else 0.1

    store = EdgeStore.open(tmp_path, collection="intents")
    parser = await RetrievalIntentParser.start(
        index=ExampleIndex(store=store, embeddings=pool),
        airports=load_airports(),
        policy_probe=probe,
    )
    try:
        p = await parser.parse("can I take my laptop along?", today=TODAY)
        assert p.intent is Intent.POLICY_QUESTION
    finally:
        await store.close()


async def test_examples_are_indexed_again_only_when_the_file_changes(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    examples = tmp_path / "examples.yaml"
    shutil.copy(EXAMPLES_PATH, examples)
    store = EdgeStore.open(tmp_path / "qdrant", collection="intents")
    index = ExampleIndex(store=store, embeddings=pool)
    try:
        parser = await RetrievalIntentParser.start(
            index=index, airports=load_airports(), examples_path=examples
        )
        assert await index.sync(parser.catalogue) is False  # same content: nothing to do
        assert await parser.refresh() is False
        before = (await parser.parse("zorblax quux", today=TODAY)).intent
        assert before is Intent.OUT_OF_SCOPE
        examples.write_text(
            examples.read_text().replace("greet:\n", "greet:\n  - zorblax quux\n", 1)
        )
        assert await parser.refresh() is True
        assert (await parser.parse("zorblax quux", today=TODAY)).intent is Intent.GREET
        old_version_points = len(parser.catalogue.examples)
        assert await store.count() == old_version_points  # the previous version is gone
    finally:
        await store.close()


async def test_reopened_collection_is_not_indexed_again(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    catalogue = load_catalogue()
    for expected in (True, False):
        store = EdgeStore.open(tmp_path, collection="intents")
        try:
            assert await ExampleIndex(store=store, embeddings=pool).sync(catalogue) is expected
        finally:
            await store.close()


async def test_the_mirror_votes_as_a_search_through_the_store_would(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    store = EdgeStore.open(tmp_path, collection="intents")
    index = ExampleIndex(store=store, embeddings=pool, k=12)
    try:
        await index.sync(load_catalogue())
        for text in ("flights to goa tomorrow", "cancel my booking", "kya refund milega"):
            vector = await index.embed(text)
            hits = await store.search(
                dense=vector.tolist(), sparse=SparseVector((), ()),
                filter=SearchFilter(doc_ids=(DOC_ID,)), limit=12, mode="dense",
            )  # fmt: skip
            vote = index.vote_for(vector)
            assert vote.best_similarity == pytest.approx(hits[0].score, abs=1e-5)
            assert vote.nearest == hits[0].payload["text"]
            assert {i for i, _ in vote.ranked} == {Intent(h.payload["intent"]) for h in hits}
    finally:
        await store.close()


async def test_a_query_embedded_again_is_the_same_vector_and_safe_to_change(
    pool: EmbeddingPool,
) -> None:
    # The second embedding of a question (the policy search after the vote) comes from the
    # embedder's recent vectors: same token ids (the model is uncased), same vector.
    first = await pool.embed(["Is a power bank allowed in cabin baggage?"])
    first[:] = 0.0  # a caller changing its copy must not change what is remembered
    again = await pool.embed(["is a power bank allowed in cabin baggage?"])
    batch = await pool.embed(["is a power bank allowed in cabin baggage?", "hello"])
    assert float(again[0] @ batch[0]) == pytest.approx(1.0, abs=1e-5)


async def test_points_stored_without_their_vector_are_indexed_again(
    pool: EmbeddingPool, tmp_path: Path
) -> None:
    catalogue = load_catalogue()
    store = EdgeStore.open(tmp_path, collection="intents")
    try:
        await ExampleIndex(store=store, embeddings=pool).sync(catalogue)
        # As an older Yatri stored them: the same points, no vector in the payload.
        probe = [1.0] + [0.0] * 383
        hits = await store.search(
            dense=probe, sparse=SparseVector((), ()), filter=SearchFilter(doc_ids=(DOC_ID,)),
            limit=len(catalogue.examples), mode="dense",
        )  # fmt: skip
        vectors = await pool.embed([h.payload["text"] for h in hits])
        await store.upsert([
            StoredChunk(id=h.id, dense=v.tolist(), sparse=SparseVector((), ()),
                        payload={k: x for k, x in h.payload.items() if k != VECTOR_FIELD})
            for h, v in zip(hits, vectors, strict=True)
        ])  # fmt: skip
        index = ExampleIndex(store=store, embeddings=pool)
        assert await index.sync(catalogue) is True
        assert (await index.vote("cancel my booking")).intent is Intent.CANCEL_BOOKING
        assert await index.sync(catalogue) is False
    finally:
        await store.close()


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂🙂", "?!", "x" * 10_000])
async def test_odd_input_is_out_of_scope_never_an_error(
    parser: RetrievalIntentParser, text: str
) -> None:
    p = await parser.parse(text, today=TODAY)
    if not any(c.isalnum() for c in text):
        assert p.intent is Intent.OUT_OF_SCOPE and p.slots == ()
