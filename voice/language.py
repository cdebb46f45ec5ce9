"""Which model hears an utterance: tiny.en for English, Whisper base for Hindi and Hinglish.

English stays on the cheap path: tiny.en decodes first, as before. Only when its reading looks
wrong (empty, or a mean token log-probability under `LanguagePolicy.doubt_below`: tiny.en
forcing Hindi into English words) does Whisper base identify the language on the same clip
(one decoder step on audio it encodes anyway) and decode it; base's reading, Hindi or English,
replaces tiny.en's, and a sure verdict marks the call's language. Only final decodes are
checked, told apart by the place readings they ask for (`rewrites`): partials and back-channel
checks stay on tiny.en. A call marked or chosen Hindi goes straight to base, which identifies
each utterance, so a caller switching to English is still heard; a call chosen English is
never checked. Hindi transcripts reach the turn engine romanised the way Hinglish is typed
(`intents.text.read`), the reading the engine's parser makes of Devanagari itself, so the
voice path's place and number handling sees Latin script.

The call's language is carried in a context variable, `CALL_LANGUAGE`, that the transport sets
before it feeds audio: the tasks a call starts copy the context and share the one record.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol

from intents.text import read
from voice.audio import PCM16
from voice.stt import Rewrites, SpeechToText, Transcript, Word

ENGLISH, HINDI = "en", "hi"
LANGUAGES = (ENGLISH, HINDI)

# Whisper base reads a sentence before the clip as context: Devanagari city names and the
# English travel words Hindi speakers use bias it towards the spellings the parser knows.
HINDI_PROMPT = (
    "कल दिल्ली से मुंबई की फ्लाइट बुक करनी है। बेंगलुरु से गोवा, चेन्नई से कोलकाता, हैदराबाद, "
    "पुणे, जयपुर, लखनऊ, वाराणसी। मेरी टिकट कैंसिल करनी है, पीएनआर स्टेटस बताइए।"
)


@dataclass(slots=True)
class CallLanguage:
    """The language one call speaks: `language` None until chosen or heard; `chosen` when the
    caller named it (then it is never changed by what is heard)."""

    language: str | None = None
    chosen: bool = False

    @classmethod
    def from_hint(cls, hint: str | None) -> CallLanguage:
        """ "en" or "hi" as the caller chose; anything else ("auto", None) leaves it to be heard."""
        if hint in LANGUAGES:
            return cls(language=hint, chosen=True)
        return cls()


CALL_LANGUAGE: ContextVar[CallLanguage | None] = ContextVar("yatri_call_language", default=None)


@dataclass(frozen=True, slots=True)
class LanguagePolicy:
    """`doubt_below`: tiny.en's mean token log-probability under which base checks the
    language (bench/voice_hindi.py: every Hindi clip under -0.68, Piper English over -0.57);
    `sure_at`: base's share for a language over the other from which the call is marked."""

    doubt_below: float = -0.6
    sure_at: float = 0.8


class EnglishStt(SpeechToText, Protocol):
    def close(self) -> None: ...


class MultilingualStt(Protocol):
    """A multilingual engine that identifies the language when `language` is None."""

    def close(self) -> None: ...

    async def transcribe(
        self,
        pcm16_16k: PCM16,
        *,
        prompt: str | None = None,
        rewrites: Rewrites | None = None,
        language: str | None = None,
    ) -> Transcript: ...


class LanguageRoutedStt:
    """A `SpeechToText` over tiny.en and Whisper base; `decodes` counts decodes per route
    ("english", "checked" for an extra base pass after tiny.en, "multilingual")."""

    def __init__(
        self,
        *,
        english: EnglishStt,
        multilingual: MultilingualStt,
        policy: LanguagePolicy | None = None,
    ) -> None:
        self._english = english
        self._multilingual = multilingual
        self._policy = policy or LanguagePolicy()
        self.decodes: Counter[str] = Counter()

    async def transcribe(
        self, pcm16_16k: PCM16, *, prompt: str | None = None, rewrites: Rewrites | None = None
    ) -> Transcript:
        call = CALL_LANGUAGE.get()
        if call is not None and call.language == HINDI:
            self.decodes["multilingual"] += 1
            heard = await self._multilingual.transcribe(pcm16_16k, rewrites=rewrites)
            self._remember(call, heard)
            return romanised(heard)
        self.decodes["english"] += 1
        english = await self._english.transcribe(pcm16_16k, prompt=prompt, rewrites=rewrites)
        final = rewrites is not None
        if not final or (call is not None and call.chosen) or not self.doubtful(english):
            return english
        self.decodes["checked"] += 1
        # Base is the stronger reader of doubtful English too, and of Hinglish it writes in
        # Latin script (bench/voice_hindi.py): its reading replaces tiny.en's whatever it heard.
        heard = await self._multilingual.transcribe(pcm16_16k, rewrites=rewrites)
        if call is not None:
            self._remember(call, heard)
        return romanised(replace(heard, decode_s=heard.decode_s + english.decode_s))

    def doubtful(self, transcript: Transcript) -> bool:
        """tiny.en's reading is worth a language check: empty or unlikely given the audio."""
        return not transcript.text or transcript.avg_logprob < self._policy.doubt_below

    def _remember(self, call: CallLanguage, heard: Transcript) -> None:
        if not call.chosen and heard.text and heard.language_probability >= self._policy.sure_at:
            call.language = heard.language

    def close(self) -> None:
        """Close both engines (their decode threads); call at shutdown."""
        try:
            self._english.close()
        finally:
            self._multilingual.close()


def romanised(transcript: Transcript) -> Transcript:
    """A Hindi transcript in the Latin spelling Hinglish is typed in ("कल दिल्ली से" ->
    "kal dilli se"), English words kept; other transcripts unchanged."""
    if transcript.language != HINDI:
        return transcript
    text = read(transcript.text).text
    words = tuple(
        Word(text=w, start_s=0.0, end_s=transcript.audio_s, probability=1.0) for w in text.split()
    )
    return replace(transcript, text=text, words=words)
