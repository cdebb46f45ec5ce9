"""Query normalisation for Hinglish (Hindi written in Latin script, mixed with English).

The embedding model and the BM25 index are English. Hindi function words are dropped and common
travel words are translated, so "flight cancel karne pe kitna refund milega" is searched as
"flight cancel how much refund"."""

from __future__ import annotations

import re

# Closed-class words: particles, postpositions, auxiliaries, pronouns, question words.
FUNCTION_WORDS = frozenset(
    [
        "ka",
        "ki",
        "ke",
        "ko",
        "se",
        "me",
        "mein",
        "mai",
        "main",
        "pe",
        "par",
        "aur",
        "ya",
        "bhi",
        "hi",
        "to",
        "toh",
        "na",
        "nahi",
        "nahin",
        "hai",
        "hain",
        "ho",
        "hoga",
        "hogi",
        "honge",
        "hona",
        "hone",
        "hota",
        "hoti",
        "hote",
        "tha",
        "thi",
        "the",
        "kya",
        "kyu",
        "kyun",
        "kaise",
        "kaisa",
        "kaisi",
        "kab",
        "kahan",
        "kaun",
        "kaunsa",
        "kaunsi",
        "kitna",
        "kitne",
        "kitni",
        "jo",
        "jab",
        "tab",
        "agar",
        "lekin",
        "phir",
        "abhi",
        "bas",
        "sirf",
        "ab",
        "yeh",
        "ye",
        "woh",
        "wo",
        "vo",
        "is",
        "us",
        "iss",
        "uss",
        "inka",
        "unka",
        "apna",
        "apni",
        "apne",
        "mera",
        "meri",
        "mere",
        "mujhe",
        "mujhko",
        "hum",
        "hame",
        "hamein",
        "humko",
        "tum",
        "aap",
        "aapka",
        "aapki",
        "koi",
        "kuch",
        "sab",
        "wala",
        "wali",
        "wale",
        "raha",
        "rahi",
        "rahe",
        "rahega",
        "rahegi",
        "kar",
        "karo",
        "karna",
        "karne",
        "karni",
        "karke",
        "kiya",
        "kiye",
        "ki",
        "karta",
        "karti",
        "karte",
        "karein",
        "karun",
        "karwa",
        "karwana",
        "karwani",
        "sakta",
        "sakti",
        "sakte",
        "saktey",
        "sakoon",
        "milega",
        "milegi",
        "milta",
        "milti",
        "milte",
        "mila",
        "mile",
        "lagega",
        "lagegi",
        "lagta",
        "lagti",
        "lage",
        "padega",
        "padegi",
        "padta",
        "chahiye",
        "chahta",
        "chahti",
        "chahte",
        "gaya",
        "gayi",
        "gaye",
        "hua",
        "hui",
        "hue",
        "de",
        "dena",
        "diya",
        "di",
        "le",
        "lena",
        "liya",
        "liye",
        "ja",
        "jaa",
        "jana",
        "jaana",
        "jaata",
        "jata",
        "jaaye",
        "jaye",
        "aa",
        "aana",
        "aaya",
        "aayega",
        "aayegi",
        "deta",
        "deti",
        "dete",
        "leta",
        "leti",
        "lete",
        "hoon",
        "hu",
        "hun",
        "tak",
    ]
)

# Content words, by meaning.
LEXICON = {
    "din": "day", "dino": "days", "ghanta": "hour", "ghante": "hours", "ghanton": "hours",
    "minute": "minutes", "hafta": "week", "hafte": "weeks", "mahina": "month", "mahine": "months",
    "saal": "years", "sal": "years", "raat": "night", "subah": "morning", "shaam": "evening",
    "dopahar": "afternoon", "baje": "o'clock", "kal": "tomorrow", "aaj": "today",
    "pehle": "before", "baad": "after", "andar": "within", "bina": "without", "saath": "with",
    "paisa": "money", "paise": "money", "rupaye": "rupees", "rupay": "rupees", "kiraya": "fare",
    "wapas": "refund", "wapis": "refund", "katega": "deducted", "katenge": "deducted",
    "shulk": "fee", "naam": "name", "shaadi": "marriage", "vivah": "marriage",
    "bachcha": "child", "bacche": "children", "bachche": "children", "bachon": "children",
    "baccha": "child", "beta": "son", "beti": "daughter", "patni": "wife", "pati": "husband",
    "mata": "mother", "pita": "father", "buzurg": "senior citizen", "budhe": "senior citizen",
    "safar": "journey", "yatra": "journey", "kharab": "broken", "ganda": "dirty",
    "gandi": "dirty", "toota": "damaged", "tuta": "damaged", "deri": "delay", "late": "late",
    "chhoot": "missed", "chhut": "missed", "chut": "missed", "samaan": "luggage",
    "saman": "luggage", "bag": "bag", "kamra": "room", "kamre": "room", "khana": "meal",
    "pani": "water", "dawai": "medicine", "pahunchna": "reach", "pahunchunga": "arrive",
    "pahunchungi": "arrive", "pahunch": "arrive", "nikal": "leave", "nikalna": "depart",
    "badalna": "change", "badal": "change", "badlav": "change", "theek": "correct",
    "galat": "wrong", "ulta": "reversed", "sahi": "correct", "shikayat": "complaint",
    "batana": "inform", "bataye": "inform", "poori": "entire", "pura": "full", "poora": "full",
    "aadha": "half", "zyada": "more", "kam": "less", "mufat": "free", "muft": "free",
    "free": "free", "zaroori": "required", "jaruri": "required", "dabba": "coach",
    "dabbe": "coach", "gaadi": "train", "rail": "train", "bus": "bus", "jahaz": "flight",
    "udaan": "flight", "hotel": "hotel", "kutta": "dog", "kutte": "dog", "billi": "cat",
    "janwar": "pet", "paaltu": "pet", "pregnant": "pregnant", "garbhvati": "pregnant",
}  # fmt: skip

_WORD = re.compile(r"[A-Za-z']+|[^A-Za-z']+")


def normalise_query(text: str) -> str:
    """The query with Hindi function words dropped and travel words translated; English text
    passes through unchanged."""
    hindi = sum(1 for w in re.findall(r"[a-z]+", text.lower()) if w in FUNCTION_WORDS)
    if hindi < 2:  # English (a lone "to" or "me" is English too)
        return text
    out = []
    for token in _WORD.findall(text):
        lower = token.lower()
        if lower in FUNCTION_WORDS:
            continue
        out.append(LEXICON.get(lower, token))
    return re.sub(r"\s+", " ", "".join(out)).strip()


# Hinglish question phrases, read before single words: they decide what the question asks for
# ("kitne baje" asks for a time, "kitne din" for a duration, "kitna" for an amount).
_PHRASES = [
    (r"\bkitne\s+baje\b", "what time"),
    (r"\bkitne\s+(?:din|dino|dinon)\b", "how many days"),
    (r"\bkitne\s+(?:ghante|ghanton)\b", "how many hours"),
    (r"\bkitna\s+(?:time|samay|waqt|der)\b", "how long"),
    (r"\bkitn[aei]\s+(?:bag|bags|saman|samaan|luggage)\b", "how many bags"),
    (r"\bkitn[aei]\b", "how much"),
    (r"\bkab\s+tak\b", "by when"),
    (r"\bkab\b", "when"),
    (r"\b(?:le\s+ja|leke\s+ja|le\s+jaa|saath\s+le\s+ja)\s+sakt\w*\b", "can carry"),
    (r"\bsakt(?:a|i|e|ey)\b", "can"),
    (r"\b(?:allowed|allow)\s+(?:hai|hain|he)\b", "allowed"),
    (r"\bkhul(?:ta|ti|te|ega|egi)\b", "opens"),
    (r"\bband\s+(?:ho|hota|hoti|hote)\w*\b", "closes"),
]
_PHRASE_RULES = [(re.compile(p, re.IGNORECASE), r) for p, r in _PHRASES]

# Conversational English: contractions and abbreviations spelled out.
_SPOKEN = [
    (
        r"\b(\w+)'s\s+(delayed|cancelled|canceled|late|full|gone|missed|over|overbooked)\b",
        r"\1 is \2",
    ),
    (r"\b(\d+(?:\.\d+)?)\s*(?:hrs?)\b", r"\1 hours"),
    (r"\b(\d+(?:\.\d+)?)\s*(?:mins?)\b", r"\1 minutes"),
    (r"\b(\d+(?:\.\d+)?)\s*(?:kgs?|kilos?)\b", r"\1 kg"),
    (r"\b(?:rs\.?|inr|₹)\s*(\d)", r"INR \1"),
    (r"\bhrs\b", "hours"),
    (r"\bmins\b", "minutes"),
    (r"\bpls\b|\bplz\b", "please"),
    (r"\bu\b", "you"),
    (r"\bgonna\b", "going to"),
    (r"\bwanna\b", "want to"),
    (r"\bcancell?ation\b", "cancellation"),
]
_SPOKEN_RULES = [(re.compile(p, re.IGNORECASE), r) for p, r in _SPOKEN]

# Everyday words for what policy documents name formally; added beside the word, not instead
# of it, so a document that uses the everyday word still matches.
SYNONYMS = {
    "food": "meals refreshments", "meal": "meals refreshments", "snacks": "meals refreshments",
    "water": "refreshments", "drinks": "refreshments", "eat": "meals",
    "guitar": "musical instrument", "violin": "musical instrument", "sitar": "musical instrument",
    "tabla": "musical instrument", "cello": "musical instrument", "keyboard": "musical instrument",
    "drum": "musical instrument", "drums": "musical instrument",
    "dog": "pet", "dogs": "pets", "cat": "pet", "cats": "pets", "puppy": "pet", "kitten": "pet",
    "bird": "pet", "parrot": "pet",
    "baby": "infant", "babies": "infants", "toddler": "infant child", "kid": "child",
    "kids": "children",
    "luggage": "baggage", "bags": "baggage", "suitcase": "baggage", "suitcases": "baggage",
    "bike": "bicycle", "cycle": "bicycle", "bring": "carry", "fly with": "carry",
    "wheelchair": "special assistance", "disabled": "special assistance",
    "money back": "refund", "get back": "refund", "reimburse": "refund",
    "old": "senior citizen", "elderly": "senior citizen", "grandparents": "senior citizen",
    "late": "delay", "delayed": "delay", "stuck": "delay", "hotel room": "room",
}  # fmt: skip
_SYNONYM_RULES = [
    (re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE), extra)
    for word, extra in SYNONYMS.items()
]


def normalise_question(text: str) -> str:
    """The question as searched and judged: Hinglish phrases read ("kitne baje" is "what
    time"), Hindi function words dropped and travel words translated, conversational
    contractions spelled out, and everyday words given their policy synonyms ("guitar" also
    searches "musical instrument")."""
    out = text
    for pattern, replacement in _PHRASE_RULES:
        out = pattern.sub(replacement, out)
    for pattern, replacement in _SPOKEN_RULES:
        out = pattern.sub(replacement, out)
    out = normalise_query(out) if _hindi_words(text) >= 2 else out
    extras: list[str] = []
    for pattern, extra in _SYNONYM_RULES:
        if pattern.search(out) and extra.lower() not in out.lower() and extra not in extras:
            extras.append(extra)
    return f"{out} {' '.join(extras)}".strip() if extras else out


def expanded_words(text: str) -> list[str]:
    """The everyday words in ``text`` that ``normalise_question`` gives policy synonyms."""
    return [m.group(0) for pattern, _ in _SYNONYM_RULES for m in pattern.finditer(text)]


# Function words that are also English words: they do not make a question Hinglish.
_ALSO_ENGLISH = frozenset(
    [
        "to",
        "me",
        "is",
        "the",
        "us",
        "main",
        "hi",
        "na",
        "ho",
        "de",
        "le",
        "par",
        "ya",
        "jo",
        "so",
        "mai",
        "ab",
        "tab",
        "bas",
        "kar",
        "aa",
        "ja",
        "di",
    ]
)


def _hindi_words(text: str) -> int:
    words = re.findall(r"[a-z]+", text.lower())
    return sum(1 for w in words if w in FUNCTION_WORDS and w not in _ALSO_ENGLISH)
