"""The spoken sets of bench/voice_hindi.py, written for it (no clip or test uses them).

`HINDI` is Hindi as Hindi speakers say travel requests (Devanagari; cities, dates, counts), for
word error rate. `HINGLISH` is code-mixed requests as spoken (Hindi grammar, English travel
words, spelled in Devanagari so that the Hindi voice says them the Hindi way), each with the
intent and slots the turn engine should read; dates are relative to `TODAY`. `ENGLISH` is the
English peer for language identification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

TODAY = dt.date(2026, 12, 5)  # a Saturday

HINDI = (
    "मुझे कल दिल्ली से मुंबई जाना है।",
    "पच्चीस दिसंबर को बेंगलुरु से गोवा की उड़ान दिखाइए।",
    "दो लोगों के लिए चेन्नई से कोलकाता का टिकट चाहिए।",
    "हैदराबाद से पुणे के लिए सबसे सस्ती उड़ान कौन सी है?",
    "मैं परसों जयपुर से दिल्ली आना चाहता हूँ।",
    "तीन वयस्क और एक बच्चा लखनऊ से वाराणसी जाएंगे।",
    "अहमदाबाद से कोच्चि की सुबह वाली उड़ान बताइए।",
    "मेरा टिकट रद्द कर दीजिए।",
    "मेरी बुकिंग की स्थिति क्या है?",
    "पटना से भोपाल जाने में कितना समय लगता है?",
    "चंडीगढ़ से गुवाहाटी की उड़ान अगले सोमवार को चाहिए।",
    "अमृतसर में दो रातों के लिए होटल चाहिए।",
    "इंदौर से नागपुर की ट्रेन कब है?",
    "श्रीनगर जाने का किराया कितना है?",
    "मुझे एक जनवरी को देहरादून जाना है।",
    "क्या आप मेरी यात्रा की तारीख बदल सकते हैं?",
    "दिल्ली से बेंगलुरु की शाम की उड़ान दिखाइए।",
    "चार लोगों के लिए मुंबई से गोवा की बस चाहिए।",
    "मेरा सामान कितने किलो तक जा सकता है?",
    "कोलकाता से दिल्ली की वापसी की टिकट भी बुक करनी है।",
    "दस जनवरी को हैदराबाद से चेन्नई जाना है।",
    "मुझे खिड़की वाली सीट चाहिए।",
    "पुणे से जयपुर की सीधी उड़ान है क्या?",
    "टिकट रद्द करने पर कितना पैसा वापस मिलेगा?",
    "लखनऊ से मुंबई के लिए दो टिकट बुक कर दीजिए।",
    "कल सुबह सात बजे की उड़ान चाहिए।",
    "वाराणसी में सस्ता होटल बताइए।",
    "मैं अपनी बुकिंग की पुष्टि करना चाहता हूँ।",
    "गोवा से बेंगलुरु की उड़ान शुक्रवार को है क्या?",
    "मेरे साथ मेरी पत्नी और दो बच्चे हैं।",
    "भोपाल से दिल्ली जाने वाली ट्रेन में जगह है?",
    "पंद्रह फरवरी को कोच्चि से मुंबई जाना है।",
    "किसी एजेंट से बात करवाइए।",
    "दिल्ली से श्रीनगर का किराया बहुत ज़्यादा है।",
    "मुझे अगले हफ्ते चेन्नई से हैदराबाद जाना है।",
    "धन्यवाद, बस इतना ही।",
)


@dataclass(frozen=True, slots=True)
class Request:
    """A spoken request and what the engine should read from it (slots it must get right)."""

    said: str
    intent: str
    slots: dict[str, Any] = field(default_factory=dict)


def _day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


HINGLISH = (
    Request("कल दिल्ली से मुंबई की फ्लाइट दिखाओ", "search_flights",
            {"origin": "DEL", "destination": "BOM", "date": _day(1)}),
    Request("बेंगलुरु से गोवा की फ्लाइट बुक करनी है दो लोगों के लिए", "search_flights",
            {"origin": "BLR", "destination": "GOI", "adults": 2}),
    Request("चेन्नई से कोलकाता की सबसे सस्ती फ्लाइट कौन सी है", "search_flights",
            {"origin": "MAA", "destination": "CCU"}),
    Request("हैदराबाद से पुणे के लिए फ्लाइट चाहिए परसों", "search_flights",
            {"origin": "HYD", "destination": "PNQ", "date": _day(2)}),
    Request("जयपुर से दिल्ली की फ्लाइट टिकट चाहिए", "search_flights",
            {"origin": "JAI", "destination": "DEL"}),
    Request("लखनऊ से मुंबई के लिए तीन टिकट बुक करो", "search_flights",
            {"origin": "LKO", "destination": "BOM", "adults": 3}),
    Request("अहमदाबाद से कोच्चि की मॉर्निंग फ्लाइट दिखाओ", "search_flights",
            {"origin": "AMD", "destination": "COK"}),
    Request("कल पटना से दिल्ली की फ्लाइट है क्या", "search_flights",
            {"origin": "PAT", "destination": "DEL", "date": _day(1)}),
    Request("मुंबई से गोवा की फ्लाइट चाहिए कल", "search_flights",
            {"origin": "BOM", "destination": "GOI", "date": _day(1)}),
    Request("दिल्ली से बेंगलुरु की ईवनिंग फ्लाइट बुक करो", "search_flights",
            {"origin": "DEL", "destination": "BLR"}),
    Request("कोलकाता से चेन्नई जाना है कल", "search_flights",
            {"origin": "CCU", "destination": "MAA", "date": _day(1)}),
    Request("पुणे से जयपुर की डायरेक्ट फ्लाइट है क्या", "search_flights",
            {"origin": "PNQ", "destination": "JAI"}),
    Request("मेरी टिकट कैंसिल करनी है", "cancel_booking"),
    Request("मेरी बुकिंग कैंसिल कर दो", "cancel_booking"),
    Request("प्लीज़ मेरा टिकट कैंसिल कर दीजिए", "cancel_booking"),
    Request("मेरा पीएनआर स्टेटस बताओ", "booking_status"),
    Request("मेरी बुकिंग का स्टेटस क्या है", "booking_status"),
    Request("मेरी बुकिंग कंफर्म हुई क्या", "booking_status"),
    Request("जयपुर में होटल चाहिए", "search_hotels", {"city": "JAI"}),
    Request("गोवा में सस्ता होटल दिखाओ", "search_hotels", {"city": "GOI"}),
    Request("मुंबई में दो रात के लिए होटल बुक करना है", "search_hotels", {"city": "BOM"}),
    Request("लखनऊ से वाराणसी की ट्रेन दिखाओ", "search_trains",
            {"origin": "LKO", "destination": "VNS"}),
    Request("दिल्ली से जयपुर की ट्रेन कल है क्या", "search_trains",
            {"origin": "DEL", "destination": "JAI", "date": _day(1)}),
    Request("कैंसिल करने पर कितना रिफंड मिलेगा", "policy_question"),
    Request("बैगेज लिमिट कितनी है", "policy_question"),
    Request("किसी एजेंट से बात करवाओ", "human_agent"),
    Request("कस्टमर केयर से बात करनी है", "human_agent"),
    Request("मेरी फ्लाइट की डेट चेंज करनी है", "modify_booking"),
    Request("हैदराबाद से चेन्नई की फ्लाइट दस जनवरी को", "search_flights",
            {"origin": "HYD", "destination": "MAA", "date": "2027-01-10"}),
    Request("दिल्ली से गोवा दो एडल्ट्स के लिए फ्लाइट", "search_flights",
            {"origin": "DEL", "destination": "GOI", "adults": 2}),
)  # fmt: skip

ENGLISH = (
    "Flights from Delhi to Mumbai tomorrow.",
    "Book two adults from Bangalore to Goa on the twenty fifth of December.",
    "What is the cancellation fee for my tatkal ticket?",
    "I want to fly to Chennai on the first of January.",
    "Show me the cheapest flight from Hyderabad to Pune.",
    "What is my PNR status?",
    "I need a hotel in Jaipur for two nights.",
    "Cancel my booking please.",
    "Is there a train from Lucknow to Varanasi on Monday?",
    "Can I speak to an agent?",
    "Three tickets from Kolkata to Delhi next Friday.",
    "How much baggage can I carry?",
    "Change the date of my flight to the tenth of January.",
    "Yes, book the second one.",
    "Morning flights from Ahmedabad to Kochi.",
    "No thank you, that is all.",
    "Is my booking confirmed?",
    "A window seat for my wife and two children.",
    "Flights to Srinagar this weekend.",
    "How much is a refund if I cancel?",
)
