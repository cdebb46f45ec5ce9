"""Builds bench/data/dialogue_utterances.jsonl: SGD user turns mapped to Yatri intents (intent
labels only) and hand-written utterances with slot labels. Today is 2026-11-25 (a Wednesday)."""

import collections
import gzip
import json
import random
import re
from pathlib import Path

SGD = str(Path(__file__).resolve().parents[3] / "shared/data/sgd-travel/train.jsonl.gz")
out = []


def sgd_label(r):
    frames = r["frames"]
    if len(frames) != 1:
        return None, None
    f = frames[0]
    acts = tuple(sorted(set(f["acts"])))
    svc, intent = f["domain"], f["active_intent"]
    sys = r["system_before"].lower()
    if acts in (("INFORM_INTENT",), ("INFORM", "INFORM_INTENT")) and r["turn"] <= 2:
        if svc == "Flights" and intent.startswith("Search"):
            return "search_flights", None
        if svc == "Hotels" and intent in ("SearchHotel", "SearchHouse"):
            return "search_hotels", None
        if svc == "Buses" and intent == "FindBus":
            return "search_buses", None
        if svc in ("Events", "Weather", "RentalCars", "Travel"):
            return "out_of_scope", None
    if acts == ("AFFIRM",) and "confirm" in sys:
        return "affirm", "confirmation"
    if acts == ("AFFIRM_INTENT",) and ("book" in sys or "reserve" in sys or "purchase" in sys):
        if svc not in ("Flights", "Hotels", "Buses"):
            return "out_of_scope!", "confirmation"  # renting a car, event tickets: not ours
        return "book", "confirmation"  # a yes to "shall I book it?": book or affirm
    if acts == ("NEGATE_INTENT",):
        return "deny", None  # a no to "shall I book it?": deny or nevermind
    if acts == ("THANK_YOU",) and len(r["text"].split()) <= 8:
        return "thanks", None
    if acts == ("SELECT",) and len(r["text"].split()) <= 10:
        return "select_offer", "choice"
    return None, None


pools = {}
with gzip.open(SGD, "rt") as sgd:
    for line in sgd:
        r = json.loads(line)
        label, expecting = sgd_label(r)
        if label:
            # A yes to booking a car or an event sits with the bookings it was sampled with.
            pools.setdefault(label.replace("out_of_scope!", "book"), []).append(
                (r["text"], expecting, label)
            )
rng = random.Random(12)
quota = {
    "search_flights": 55,
    "search_hotels": 45,
    "search_buses": 40,
    "out_of_scope": 35,
    "affirm": 30,
    "book": 30,
    "deny": 25,
    "thanks": 25,
    "select_offer": 30,
}
for label, n in quota.items():
    items = pools[label]
    rng.shuffle(items)
    seen = set()
    for text, expecting, own_label in items:
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        label_here = own_label.rstrip("!")
        row = {"text": text, "intent": label_here, "slots": None, "language": "en", "source": "sgd"}
        also = {"book": ["affirm"], "deny": ["nevermind"]}.get(label_here)
        if own_label.endswith("!"):
            also = ["affirm"]
        if also:
            row["also"] = also
        if expecting:
            row["context"] = {"expecting": expecting}
        out.append(row)
        if len(seen) >= n:
            break

# Hand-written: text | intent | slots (name=value;...) | context expecting (optional)
HAND = r"""
need to fly Kolkata to Bagdogra on 14 december|search_flights|origin=CCU;destination=IXB;date=2026-12-14
cheapest fare Delhi Srinagar for 3 adults|search_flights|origin=DEL;destination=SXR;adults=3;offer_ref={"cheapest": true}
any flights between Mumbai and Goa on friday morning|search_flights|origin=BOM;destination=GOI;date=2026-11-27;time_of_day=morning
I'd like to go from Chennai to Port Blair on the 3rd of January|search_flights|origin=MAA;destination=IXZ;date=2027-01-03
2 seats in business from Bengaluru to Delhi tomorrow|search_flights|adults=2;cabin=business;origin=BLR;destination=DEL;date=2026-11-26
fly me to Pune from Nagpur on december 10th|search_flights|destination=PNQ;origin=NAG;date=2026-12-10
Jaipur to Mumbai on 20/12 returning 27/12|search_flights|origin=JAI;destination=BOM;date=2026-12-20;return_date=2026-12-27
round trip Delhi Goa leaving 18 december coming back 24 december|search_flights|origin=DEL;destination=GOI;date=2026-12-18;return_date=2026-12-24
we are a group of 6 flying from Hyderabad to Kochi|search_flights|adults=6;origin=HYD;destination=COK
flights to Mumbai on wednesday december ninth|search_flights|destination=BOM;date=2026-12-09
book flights from Lucknow to Bengaluru on the twenty second|search_flights|origin=LKO;destination=BLR;date=2026-12-22
I need 3 tickets from Delhi to Patna on 1st december|search_flights|adults=3;origin=DEL;destination=PAT;date=2026-12-01
two seats from Kolkata to Guwahati this saturday|search_flights|adults=2;origin=CCU;destination=GAU;date=2026-11-28
flights out of Ahmedabad to Delhi under 6000|search_flights|origin=AMD;destination=DEL;budget=600000
premium economy Mumbai to Chennai on 8 dec|search_flights|cabin=premium_economy;origin=BOM;destination=MAA;date=2026-12-08
show non-stop flights from Pune to Delhi|search_flights|offer_ref={"nonstop": true};origin=PNQ;destination=DEL
flights from Delhi to Mobile tomorrow|search_flights|origin=DEL;destination=BOM;date=2026-11-26
I want to fly from Mumbay to Dilli on 12 december|search_flights|origin=BOM;destination=DEL;date=2026-12-12
evening flight from Bangalore to Hyderabad day after tomorrow|search_flights|time_of_day=evening;origin=BLR;destination=HYD;date=2026-11-27
me and my wife want to fly to Udaipur from Delhi|search_flights|adults=2;destination=UDR;origin=DEL
2 adults and a child from Chennai to Delhi on april first|search_flights|adults=2;children=1;origin=MAA;destination=DEL;date=2027-04-01
coach tickets Delhi to Amritsar for four people|search_flights|cabin=economy;origin=DEL;destination=ATQ;adults=4
flight from Indore to Mumbai in 3 days|search_flights|origin=IDR;destination=BOM;date=2026-11-28
get me on a plane to Varanasi next monday|search_flights|destination=VNS;date=2026-11-30
arriving in Goa from Pune on 30 november|search_flights|destination=GOI;origin=PNQ;date=2026-11-30
kal subah Delhi se Lucknow ki flight|search_flights|date=2026-11-26;time_of_day=morning;origin=DEL;destination=LKO
parson Mumbai se Goa jaana hai flight se|search_flights|date=2026-11-27;origin=BOM;destination=GOI
agle shukravar Bangalore se Delhi ki flight dikhao|search_flights|date=2026-11-27;origin=BLR;destination=DEL
hum teen log Chennai se Kolkata jayenge, flight chahiye|search_flights|adults=3;origin=MAA;destination=CCU
15 december ko Hyderabad se Pune ki flight|search_flights|date=2026-12-15;origin=HYD;destination=PNQ
Jaipur se Delhi ki sabse sasti flight batao|search_flights|origin=JAI;destination=DEL;offer_ref={"cheapest": true}
do log, Kolkata se Bagdogra, 20 december|search_flights|adults=2;origin=CCU;destination=IXB;date=2026-12-20
mujhe agle hafte Mumbai jana hai flight se|search_flights|date=2026-11-30;destination=BOM
Delhi se Goa 5000 se kam mein flight|search_flights|origin=DEL;destination=GOI;budget=500000
shaam ki flight chahiye Pune se Bangalore kal|search_flights|time_of_day=evening;origin=PNQ;destination=BLR;date=2026-11-26
कल मुंबई से दिल्ली की फ्लाइट दिखाओ|search_flights|date=2026-11-26;origin=BOM;destination=DEL
परसों बेंगलुरु से हैदराबाद की फ्लाइट चाहिए|search_flights|date=2026-11-27;origin=BLR;destination=HYD
दो लोगों के लिए जयपुर से कोलकाता की उड़ान|search_flights|adults=2;origin=JAI;destination=CCU
अगले हफ्ते पटना से दिल्ली की फ्लाइट|search_flights|date=2026-11-30;origin=PAT;destination=DEL
15 दिसंबर को चेन्नई से गोवा की फ्लाइट चाहिए|search_flights|date=2026-12-15;origin=MAA;destination=GOI
सुबह की फ्लाइट लखनऊ से मुंबई|search_flights|time_of_day=morning;origin=LKO;destination=BOM
दिल्ली से श्रीनगर तीन लोग शुक्रवार को|search_flights|origin=DEL;destination=SXR;adults=3;date=2026-11-27
I'm looking for a place to stay|search_hotels|
a hotel in Goa from 10 to 14 december|search_hotels|city=GOI;check_in=2026-12-10;check_out=2026-12-14
room for 2 adults in Jaipur checking in friday checking out sunday|search_hotels|adults=2;city=JAI;check_in=2026-11-27;check_out=2026-11-29
need 2 rooms in Mumbai for 3 nights from 5 december|search_hotels|rooms=2;city=BOM;nights=3;check_in=2026-12-05
hotels in Udaipur with a 4.5 rating under 8000|search_hotels|city=UDR;budget=800000
stay in Shimla for the weekend|search_hotels|city=SLV;check_in=2026-11-28
somewhere to stay near Delhi airport tonight|search_hotels|city=DEL;check_in=2026-11-25
I need accommodation in Bangalore for a group of 5|search_hotels|city=BLR;adults=5
any homestays in Leh next week|search_hotels|city=IXL;check_in=2026-11-30
book a room in Chennai on 3.12.2026 for one night|search_hotels|city=MAA;check_in=2026-12-03;nights=1;rooms=1
Goa mein hotel chahiye 3 raat ke liye|search_hotels|city=GOI;nights=3
Jaipur mein do kamre chahiye kal se|search_hotels|city=JAI;rooms=2;check_in=2026-11-26
sasta hotel Varanasi mein 2000 tak|search_hotels|city=VNS;budget=200000
Manali mein rukna hai parson se|search_hotels|city=KUU;check_in=2026-11-27
मुंबई में होटल चाहिए कल से दो रात|search_hotels|city=BOM;check_in=2026-11-26;nights=2
गोवा में कमरा चाहिए 20 दिसंबर से|search_hotels|city=GOI;check_in=2026-12-20
दिल्ली में सस्ता होटल बताओ|search_hotels|city=DEL
Rajdhani from Delhi to Kolkata on friday|search_trains|origin=DEL;destination=CCU;date=2026-11-27
train tickets to Agra from Delhi tomorrow for 2|search_trains|destination=AGR;origin=DEL;date=2026-11-26;adults=2
sleeper class to Varanasi next week|search_trains|destination=VNS;date=2026-11-30
any trains from Chennai to Madurai tonight|search_trains|origin=MAA;destination=IXM;date=2026-11-25
tatkal ticket to Patna|search_trains|destination=PAT
Mumbai se Pune train kal subah|search_trains|origin=BOM;destination=PNQ;date=2026-11-26;time_of_day=morning
Delhi se Jaipur ki train chahiye|search_trains|origin=DEL;destination=JAI
कल दिल्ली से लखनऊ की ट्रेन|search_trains|date=2026-11-26;origin=DEL;destination=LKO
ट्रेन से पटना जाना है|search_trains|destination=PAT
bus from Pune to Goa tonight|search_buses|origin=PNQ;destination=GOI;date=2026-11-25
volvo to Manali from Delhi on 2 december|search_buses|destination=KUU;origin=DEL;date=2026-12-02
overnight bus Bangalore to Hyderabad for 3 people|search_buses|origin=BLR;destination=HYD;adults=3
Indore se Bhopal bus kal|search_buses|origin=IDR;destination=BHO;date=2026-11-26
kal raat ki bus Jaipur se Udaipur|search_buses|date=2026-11-26;time_of_day=night;origin=JAI;destination=UDR
दिल्ली से देहरादून की बस|search_buses|origin=DEL;destination=DED
परसों रात की बस मुंबई से गोवा|search_buses|date=2026-11-27;time_of_day=night;origin=BOM;destination=GOI
the second one|select_offer|offer_ref={"ordinal": 2}|choice
I'll go with the third option|select_offer|offer_ref={"ordinal": 3}|choice
the 6 am IndiGo one|select_offer|offer_ref={"carrier": "6E", "time": "06:00"}|choice
the cheapest please|select_offer|offer_ref={"cheapest": true}|choice
the non-stop one|select_offer|offer_ref={"nonstop": true}|choice
let's take the Air India flight|select_offer|offer_ref={"carrier": "AI"}|choice
the earliest one works|select_offer|offer_ref={"earliest": true}|choice
number 4|select_offer|offer_ref={"ordinal": 4}|choice
the one at 9:40 pm|select_offer|offer_ref={"time": "21:40"}|choice
first one please|select_offer|offer_ref={"ordinal": 1}|choice
pehla wala|select_offer|offer_ref={"ordinal": 1}|choice
teesri wali flight|select_offer|offer_ref={"ordinal": 3}|choice
sabse sasta wala le lo|select_offer|offer_ref={"cheapest": true}|choice
SpiceJet wala|select_offer|offer_ref={"carrier": "SG"}|choice
दूसरी वाली|select_offer|offer_ref={"ordinal": 2}|choice
सबसे सस्ती वाली फ्लाइट|select_offer|offer_ref={"cheapest": true}|choice
the second one|select_offer|offer_ref={"ordinal": 2}
I'll take the cheapest one|select_offer|offer_ref={"cheapest": true}
the Akasa one at 7 am|select_offer|offer_ref={"carrier": "QP", "time": "07:00"}
go ahead and book it|book|
please book that for me|book|
reserve two seats on it|book|adults=2
I want to buy this ticket|book|
book kar do|book|
ye flight book karni hai|book|
इसे बुक कर दीजिए|book|
बुक करो|book|
my name is Kavya Reddy|provide_traveller_details|traveller_names=[{"first_name": "Kavya", "last_name": "Reddy"}]|traveller_details
passengers: Rohit Jain and Sneha Jain|provide_traveller_details|traveller_names=[{"first_name": "Rohit", "last_name": "Jain"}, {"first_name": "Sneha", "last_name": "Jain"}]|traveller_details
the traveller is Mohammed Irfan|provide_traveller_details|traveller_names=[{"first_name": "Mohammed", "last_name": "Irfan"}]|traveller_details
mera naam Sunil Verma hai|provide_traveller_details|traveller_names=[{"first_name": "Sunil", "last_name": "Verma"}]|traveller_details
name is Aditi Rao, age 29|provide_traveller_details|traveller_names=[{"first_name": "Aditi", "last_name": "Rao"}]
my name is Harish Menon and my wife is Lata Menon|provide_traveller_details|traveller_names=[{"first_name": "Harish", "last_name": "Menon"}]
yes go ahead|affirm||confirmation
yeah sure|affirm||confirmation
that's correct|affirm||confirmation
haan ji bilkul|affirm||confirmation
theek hai kar do|affirm||confirmation
हाँ जी|affirm||confirmation
जी बिल्कुल|affirm||confirmation
yes that's right|affirm|
okay sounds good|affirm|
482913|affirm|otp=482913|otp
the code is 771204|affirm|otp=771204|otp
otp 550012|affirm|otp=550012
no|deny||confirmation
nope not that|deny||confirmation
no, that's not right|deny||confirmation
nahi yaar|deny||confirmation
नहीं|deny||confirmation
no thanks|deny|
nahi chahiye|deny|
what's happening with my booking|booking_status|
is booking bk_a1b2c3d4 confirmed|booking_status|booking_ref={"booking_id": "bk_a1b2c3d4"}
status of PNR 7XK2PQ please|booking_status|booking_ref={"pnr": "7XK2PQ"}
is my Goa booking confirmed|booking_status|booking_ref={"place": "GOI"}
did I get a ticket for tomorrow|booking_status|date=2026-11-26
meri booking confirm hui ya nahi|booking_status|
PNR 4RT9ZA ka status batao|booking_status|booking_ref={"pnr": "4RT9ZA"}
मेरा टिकट कन्फर्म है क्या|booking_status|
can I move my flight to the 12th|modify_booking|date=2026-12-12
change my booking to 2 december|modify_booking|date=2026-12-02
reschedule my Mumbai trip to next friday|modify_booking|date=2026-11-27
I want to change the travel date|modify_booking|
add my son to the booking|modify_booking|
date change karni hai, 10 december kar do|modify_booking|date=2026-12-10
meri flight parson kar do|modify_booking|date=2026-11-27
मेरी बुकिंग की तारीख 5 दिसंबर कर दो|modify_booking|date=2026-12-05
cancel my Goa booking|cancel_booking|booking_ref={"place": "GOI"}
please cancel PNR 9QW3ER|cancel_booking|booking_ref={"pnr": "9QW3ER"}
I won't travel, cancel booking bk_ff00ee11|cancel_booking|booking_ref={"booking_id": "bk_ff00ee11"}
I need to cancel my ticket|cancel_booking|
ticket cancel karna hai|cancel_booking|
meri Delhi wali booking cancel karo|cancel_booking|
मेरा टिकट रद्द करो|cancel_booking|
बुकिंग कैंसिल कर दो|cancel_booking|
how many kilos can I check in|policy_question|
do I get money back if I cancel a day before|policy_question|
is there a charge to change my date|policy_question|
can my 1 year old sit on my lap|policy_question|
what ID do I need at the airport|policy_question|
hotel ka check out time kya hai|policy_question|
tatkal cancel karne pe refund milta hai kya|policy_question|
कितना सामान ले जा सकते हैं|policy_question|
रद्द करने पर कितना पैसा वापस मिलेगा|policy_question|
hello there|greet|
hey good evening|greet|
namaste ji|greet|
hii|greet|
नमस्ते जी|greet|
what all can you help me with|help|
I don't understand how to use this|help|
kya kya kar sakte ho|help|
आप मेरी क्या मदद कर सकते हैं|help|
thanks so much|thanks|
thank you, very helpful|thanks|
bahut dhanyavaad|thanks|
शुक्रिया जी|thanks|
ok bye then|goodbye|
see you soon|goodbye|
chalo phir milte hain|goodbye|
ठीक है बाय|goodbye|
can I talk to a real person|human_agent|
please connect me to customer support|human_agent|
kisi agent se baat karwa do|human_agent|
मुझे किसी एजेंट से बात करनी है|human_agent|
forget about it|nevermind|
never mind that|nevermind|
chhodo rehne do|nevermind|
रहने दो|nevermind|
what's the score in the India match|out_of_scope|
sing me a song|out_of_scope|
book a table for dinner|out_of_scope|
aaj mausam kaisa rahega|out_of_scope|
मुझे एक कहानी सुनाओ|out_of_scope|
Chennai|search_flights|origin=MAA|slot:origin
tomorrow|search_flights|date=2026-11-26|slot:date
the 10th|search_flights|return_date=2026-12-10|slot:return_date
2 adults|search_flights|adults=2|slot:adults
Pune|search_hotels|city=PNQ|slot:city
"""
for line in HAND.strip().splitlines():
    parts = line.split("|")
    text, intent, slots = parts[0], parts[1], parts[2]
    expecting = parts[3] if len(parts) > 3 else ""
    labelled = {}
    for item in (
        filter(None, slots.split(";")) if not slots.startswith("traveller_names") else [slots]
    ):
        name, value = item.split("=", 1)
        if value.startswith(("{", "[")):
            labelled[name] = json.loads(value)
        elif value.isdigit() and name not in ("otp",):
            labelled[name] = int(value)
        else:
            labelled[name] = value
    lang = "hi" if re.search(r"[\u0900-\u097f]", text) else "en"
    row = {"text": text, "intent": intent, "slots": labelled, "language": lang, "source": "yatri"}
    if expecting:
        row["context"] = {"expecting": expecting}
    out.append(row)
# Hinglish marking for hand rows (the benchmark reports by language).
HINGLISH = set(
    str.split(
        "kal parson se ki ka ke hai chahiye mein wala wali kar karo karni karna batao dikhao jaana jana hum log raat ko naam mera meri nahi haan ji theek yaar bahut chalo kisi rehne chhodo aaj sasta sasti jayenge rukna kamre tak"
    )
)
for row in out:
    if (
        row["language"] == "en"
        and sum(w in HINGLISH for w in re.findall(r"[a-z]+", row["text"].lower())) >= 1
        and row["source"] == "yatri"
    ):
        row["language"] = "hi-Latn"
with open(Path(__file__).with_name("dialogue_utterances.jsonl"), "w") as f:
    for row in out:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(
    len(out),
    collections.Counter(r["intent"] for r in out),
    collections.Counter(r["language"] for r in out),
)
