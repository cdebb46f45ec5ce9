"""Fold text to the plain lowercase Latin an injection rule is written in.

A supplier who wants an instruction past a filter writes it so that a person still reads it and
a pattern does not: "Ignоre" with a Cyrillic о, fullwidth or mathematical letters, zero-width
or bidi characters inside words, tag characters that render as nothing, "1gn0re", "i g n o r e".
`fold` undoes each of these; Devanagari and other scripts pass through (NFKC-normalised), so the
Hindi rules match as written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Letters of other scripts drawn like Latin ones (the common part of Unicode's confusables), as
# pairs: Cyrillic, Greek, Armenian, Cherokee, and Latin's own dotless i, script g, small capitals.
_PAIRS = (
    "Аa Вb Еe Ёe Кk Мm Нh Оo Рp Сc Тt Уy Хx Іi Їi Јj Ѕs Һh Ӏl Ԍg Үy Ѵv Пn Гr Иu Ԝw "
    "аa еe ёe кk мm оo рp сc уy хx іi їi јj ѕs ԁd ԛq ԝw һh ӏl ԍg үy ѵv пn гr иu "
    "Αa Βb Εe Ζz Ηh Ιi Κk Μm Νn Οo Ρp Τt Υy Χx αa βb γy εe ηn ιi κk νv οo ρp τt υu χx ωw ϲc ϳj "
    "օo սu ցg հh ոn Ꭺa Ꭼe Ꮋh Ꭰd Ꭲt Ᏼb "
    "ıi ȷj ɑa ɡg ʏy ᴀa ʙb ᴄc ᴅd ᴇe ɢg ʜh ɪi ᴊj ᴋk ʟl ᴍm ɴn ᴏo ᴘp ʀr ꜱs ᴛt ᴜu ᴠv ᴡw ᴢz"
)
_LOOKALIKES = str.maketrans({pair[0]: pair[1] for pair in _PAIRS.split()})
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cn"})
_TAGS = {code: chr(code - 0xE0000) for code in range(0xE0020, 0xE007F)}  # "ASCII smuggling"
_REGIONAL = {code: chr(ord("a") + code - 0x1F1E6) for code in range(0x1F1E6, 0x1F200)}
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_L = str.maketrans("1|", "ll")  # "a11": the other reading of a 1
_TOKEN = re.compile(r"[a-z0-9@$]+")
# A word mixing letters with digits or @/$: "1gn0re", "th3", "4n". Ordinary text has a few
# ("a320", "1st", "6e"), so words are read as leetspeak only where they are many.
_LEET_WORD = re.compile(r"(?=[a-z0-9@$]*[a-z])(?=[a-z]*[013457@$])[a-z0-9@$]+")
_LEET_SHARE = 0.4  # of the words with letters in them
_LEET_MIN = 3
# Read as leetspeak wherever it stands: four characters or more, two letters or more ("1gn0re").
_LEET_STRONG = re.compile(r"(?=(?:[0-9@$]*[a-z]){2})[a-z0-9@$]{4,}")
# Four or more single letters apart: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
_SPACED = re.compile(r"(?<![a-z])[a-z](?:(?:[ .\-*·]{1,2}|\s_\s)[a-z](?![a-z])){3,}")
_SPACED_TAIL = 12  # letters after a spaced run kept with it: "D o n o t say" -> "donotsay"


@dataclass(frozen=True, slots=True)
class Folded:
    text: str  # plain lowercase words, letter-spaced runs joined
    spaced: tuple[str, ...]  # each letter-spaced run's letters, then the next few, unspaced
    other: str | None = None  # where leetspeak was read: the reading with 1 as l ("a11")

    @property
    def readings(self) -> tuple[str, ...]:
        return (self.text,) if self.other is None else (self.text, self.other)


def fold(text: str) -> Folded:
    """`text` as plain lowercase words: look-alikes, accents, invisible characters, tags,
    leetspeak and letter-spacing undone, whitespace collapsed."""
    text = text.translate(_TAGS).translate(_REGIONAL)
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    chars: list[str] = []
    for char in text.translate(_LOOKALIKES):
        if char in "\n\t\r":
            chars.append(" ")
            continue
        category = unicodedata.category(char)
        if category in _INVISIBLE_CATEGORIES or char in "\u034f\u115f\u1160\u3164":
            continue  # zero-width, bidi controls, soft hyphens, fillers, private use
        if category == "Mn" and chars and chars[-1].isascii():
            continue  # an accent on a Latin letter ("i\u0301")
        if not char.isascii() and char.isalpha():
            base = unicodedata.normalize("NFD", char)[0]
            char = base if base.isascii() else char
        chars.append(char)
    plain = "".join(chars).casefold()
    folded = _unleet(plain)
    spaced = []
    for run in _SPACED.finditer(folded):
        tail = re.sub(r"[^a-z]", "", folded[run.end() : run.end() + 3 * _SPACED_TAIL])
        spaced.append(re.sub(r"[^a-z]", "", run.group()) + tail[:_SPACED_TAIL])
    folded = _SPACED.sub(lambda m: re.sub(r"[^a-z]", "", m.group()), folded)
    other = _unleet(plain.translate(_LEET_L)) if folded != plain and "1" in plain else None
    return Folded(" ".join(folded.split()), tuple(spaced), other and " ".join(other.split()))


def _unleet(text: str) -> str:
    words = _TOKEN.findall(text)
    with_letters = sum(1 for w in words if re.search(r"[a-z]", w))
    leet = sum(1 for w in words if _LEET_WORD.fullmatch(w))
    dense = leet >= _LEET_MIN and leet >= _LEET_SHARE * with_letters

    def read(m: re.Match[str]) -> str:
        word = m.group()
        if not _LEET_WORD.fullmatch(word) and not (dense and len(word) <= 2):
            return word
        if dense or _LEET_STRONG.fullmatch(word):
            # Throughout, short numbers are words ("4n 41": an ai); "11" is "ll" ("a11": all).
            return word.replace("11", "ll").translate(_LEET)
        return word

    return _TOKEN.sub(read, text)
