"""One utterance as the readers see it: lower-cased, Devanagari romanised the way Hinglish is
typed, Devanagari digits as ASCII, with a map back to the characters as given (so every slot's
span points into the traveller's own text)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Language = Literal["en", "hi", "hi-Latn"]

_VOWELS = {
    "अ": "a", "आ": "aa", "इ": "i", "ई": "i", "उ": "u", "ऊ": "u", "ऋ": "ri", "ए": "e", "ऐ": "ai",
    "ओ": "o", "औ": "au", "ऑ": "o",
}  # fmt: skip
_MATRAS = {
    "ा": "a", "ि": "i", "ी": "i", "ु": "u", "ू": "u", "ृ": "ri", "े": "e", "ै": "ai", "ो": "o",
    "ौ": "au", "ॉ": "o",
}  # fmt: skip
_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j",
    "झ": "jh", "ञ": "n", "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t",
    "थ": "th", "द": "d", "ध": "dh", "न": "n", "प": "p", "फ": "f", "ब": "b", "भ": "bh", "म": "m",
    "य": "y", "र": "r", "ल": "l", "व": "v", "श": "sh", "ष": "sh", "स": "s", "ह": "h",
    "क़": "q", "ख़": "kh", "ग़": "g", "ज़": "z", "ड़": "d", "ढ़": "rh", "फ़": "f", "य़": "y",
}  # fmt: skip
_NUKTA, _VIRAMA, _ANUSVARA, _CHANDRABINDU, _VISARGA = "\u093c", "्", "ं", "ँ", "ः"
_LABIALS = set("पफबभम")
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")


# English words written in Devanagari, spelled back the way examples and gazetteers spell them.
_LOANWORDS = {
    "buking": "booking", "tikat": "ticket", "flait": "flight", "stetas": "status",
    "kainsil": "cancel", "kaisil": "cancel", "hotal": "hotel", "tren": "train",
    "kanfarm": "confirm", "ejent": "agent", "kastamar": "customer", "keyar": "care",
    "rifand": "refund", "baigej": "baggage", "sit": "seat",
}  # fmt: skip


def word_set(words: str) -> frozenset[str]:
    """The space-separated words of ``words``."""
    return frozenset(words.split())


HINGLISH_WORDS = word_set(
    "hai hain kal parson parso aaj mujhe muje humein hume chahiye chahie karna karo karni kar "
    "kya kyaa nahi nahin haan han ji se ko tak ka ki ke mein mai pe par wala wali wale liye "
    "kitna kitne kaise kab kahan agle agla pichla hafte hafta din raat subah shaam sasta "
    "sabse dikhao bata batao batana jaana jana chalo theek thik accha acha dhanyavaad shukriya "
    "bhai bhaiya yaar aur bhi tha thi abhi bas rehne koi kuch mera meri mere apna apni hoga "
    "hogi milega milegi sakta sakte sakti chahta chahti karwa karwana karvana karni "
    "paisa paise wapas vapas wapis milta milti milte lagta lagti lagte lagega lagegi hota hoti "
    "hote jaye jaaye jayega jayegi katega kategi karun karu karein wala wali wale"
)  # fmt: skip


def romanise(word: str) -> str:
    """A Devanagari word in the Latin spelling Hinglish uses: inherent vowels kept between
    consonants and dropped at the end of the word ("दिल्ली" -> "dilli", "कल" -> "kal")."""
    out: list[str] = []
    chars = unicodedata.normalize("NFC", word)
    i = 0
    while i < len(chars):
        ch = chars[i]
        if i + 1 < len(chars) and chars[i + 1] == _NUKTA:
            ch, i = ch + _NUKTA, i + 1
        if ch in _CONSONANTS:
            out.append(_CONSONANTS[ch])
            following = chars[i + 1] if i + 1 < len(chars) else ""
            # The inherent vowel, except before a vowel sign or a virama and at the word's end.
            if following and following not in _MATRAS and following != _VIRAMA:
                out.append("a")
        elif ch in _MATRAS:
            out.append(_MATRAS[ch])
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])
        elif ch in (_ANUSVARA, _CHANDRABINDU):
            following = chars[i + 1] if i + 1 < len(chars) else ""
            out.append("m" if following in _LABIALS else "n")
        elif ch in (_VISARGA, _VIRAMA):
            pass
        else:
            out.append("." if ch in "।॥" else ch.translate(_DIGITS))
        i += 1
    return _drop_medial_schwa("".join(out))


def _drop_medial_schwa(word: str) -> str:
    """Hindi drops an inherent "a" between a vowel-consonant and a consonant-vowel
    ("samajhana" -> "samajhna"); a two-syllable word keeps it."""
    return re.sub(r"(?<=[aeiou][^aeiou\W])a(?=[^aeiouh\W][aeiou])", "", word, count=1)


@dataclass(frozen=True, slots=True)
class Utterance:
    """The text as given, its reading form, and where each reading character came from."""

    original: str
    text: str  # lower-case, Devanagari romanised, one space between words
    origin: tuple[int, ...]  # origin[i]: index in `original` of text[i]; one extra at the end
    language: Language

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span in the original text of ``text[start:end]``."""
        if start >= end:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1

    def said(self, start: int, end: int) -> str:
        a, b = self.span(start, end)
        return self.original[a:b]


def read(original: str) -> Utterance:
    """Build the reading form of ``original`` (see `Utterance`)."""
    chars: list[str] = []
    origin: list[int] = []
    devanagari = bool(_DEVANAGARI.search(original))
    position = 0
    pending_space = False
    for m in re.finditer(r"[\u0900-\u097f]+|\S", original):
        if m.start() > position and chars:
            pending_space = True
        position = m.end()
        piece = m.group(0)
        if _DEVANAGARI.match(piece):
            piece_text = romanise(piece)
            piece_text = _LOANWORDS.get(piece_text, piece_text)
            # Every romanised letter points at the whole Devanagari word's first character,
            # except the last, which points at its last: spans cover whole words.
            mapping = [m.start()] * len(piece_text)
            if mapping:
                mapping[-1] = m.end() - 1
        else:
            piece_text = piece.translate(_DIGITS).lower()
            if len(piece_text) != 1:  # a character whose lower case is longer ("İ")
                piece_text = piece_text[:1]
            mapping = [m.start()]
        if not piece_text:
            continue
        if pending_space:
            chars.append(" ")
            origin.append(m.start())
            pending_space = False
        chars.extend(piece_text)
        origin.extend(mapping)
    text = "".join(chars)
    origin.append(len(original))
    return Utterance(original, text, tuple(origin), _language(text, devanagari=devanagari))


def _language(text: str, *, devanagari: bool) -> Language:
    if devanagari:
        return "hi"
    words = re.findall(r"[a-z]+", text)
    hindi = sum(1 for w in words if w in HINGLISH_WORDS)
    return "hi-Latn" if hindi and hindi * 5 >= len(words) else "en"
