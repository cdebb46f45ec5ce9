"""Flag document text that tries to instruct the assistant instead of informing the customer.

Supplier-provided pages are untrusted: a flagged chunk is still stored, but retrieval keeps it
away from answers. Everything a chunk carries into an answer is scanned (its text, its section
headings, the document's title and supplier), after `confusables.fold` has undone look-alike
letters, invisible characters, leetspeak and letter-spacing. The rules cover overriding
instructions, role markers and prompt tokens, tool and function calls, instructions addressed to
an assistant or agent, orders about what to tell travellers, harvesting of codes and card
details, and concealment, in English, Hindi and romanised Hindi. They are narrow on purpose:
policy prose is full of "must", "tell" and "ignore", and a false flag hides a real answer
(`bench/injection_filter.py` measures both sides).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from ingest.confusables import fold

PROMPT_INJECTION = "prompt_injection"

# A clause opens the text, follows punctuation, or follows a softener ("please tell ..."):
# imperatives start there, while "Customers must tell the airline" has a subject before the verb.
_CLAUSE_START = (
    r"(?:^|[.!?;:,\u2022\u0964\u0965]\s*|\s-\s+"
    r"|\b(?:please|kindly|always|then|just|simply|instead|now|also|and)\s+)"
)
_PEOPLE = r"(?:customers?|users?|guests?|passengers?|travell?ers?|callers?|clients?|them|him|her)"
_SECRETS = (
    r"(?:otps?|one[- ]time (?:passwords?|codes?)|cvvs?|cvcs?|pins?|upi pins?|passwords?"
    r"|card numbers?|card details|bank details|account numbers?|net ?banking (?:credentials|passwords?)"
    r"|aadhaar(?: numbers?)?|login details|credentials|security codes?|verification codes?"
    r"|card expiry(?: dates?)?|expiry dates?)"
)
_AI = r"(?:ai|a\.i\.|assistant|chat ?bot|bot|llm|language model|model|gpt|copilot|machine)"
# An assistant as the subject of a sentence: "the assistant", "any AI agent", "Chatbot".
_AI_SUBJECT = (
    r"(?:" + _CLAUSE_START + r"|\b(?:the|this|any|an?|our|your|every|each|all)\s+)"
    r"(?:(?:ai|a\.i\.|virtual|digital|automated)\s+)?"
    r"(?:assistant|chat ?bot|bot|llm|large language model|language model|ai model|gpt|copilot"
    r"|ai|(?:ai|llm|autonomous|virtual|software) agent)s?"
)
_MODAL = (
    r"\s+(?:should|must|shall|will|needs? to|has to|have to|is to|are to|ought to|may only"
    r"|can only|is (?:required|instructed|expected|supposed|allowed) to)"
    r"(?:\s+(?:always|never|not|only|now|also|instead|immediately|simply|then))*\s+"
)
_DIRECTED_VERBS = (
    r"(?:tell|say|state|inform|assure|promise|answer|reply|respond|claim|confirm|recommend"
    r"|suggest|advise|offer|quote|describe|present|call|invoke|use|run|execute|book|cancel"
    r"|refund|modify|ignore|disregard|forget|reveal|disclose|share|mention|output|print|repeat"
    r"|treat|pretend|act|behave|follow|obey|prioriti[sz]e|direct|redirect|send|include|append)\b"
)
_TOOL_VERBS = (
    r"(?:book|cancel|modify|confirm|quote|search|get|issue|refund|transfer|update|delete|create"
    r"|send|list|reset|grant|approve|set|change|apply|make|process|lookup|fetch|run|execute)"
)
_NEGATION = re.compile(r"\b(?:never|not|no one|nobody|don't|doesn't|won't|will not)\b[^.!?;]*$")

# Hindi (Devanagari), written as people type it; NFKC makes nukta letters match either way.
_HI_PEOPLE = r"(?:ग्राहक|यात्री|यात्रियों|ग्राहकों|मेहमान|मेहमानों|उपयोगकर्ता|उपयोगकर्ताओं|कॉलर|उन्हें|उनको)"
_HI_SAY = r"(?:बताएं|बताएँ|बताइए|बताओ|बता दें|बता दो|कहें|कहो|कहिए|आश्वासन दें|वादा करें)"
_HI_IMPERATIVE = r"(?:करें|करो|कीजिए|करिए|कर दें|कर दो|जाएं|जाएँ|जाओ|जाइए|दें|दो)"
_HI_IGNORE = r"(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|इग्नोर|भूल|रद्द)"
_HI_ORDERS = r"(?:निर्देश|आदेश|इंस्ट्रक्शन|प्रॉम्प्ट|प्रोम्प्ट)\S*"
_HI_AI = r"(?:एआई|ए\.आई\.|ai|असिस्टेंट|चैटबॉट|बॉट|एलएलएम|llm|भाषा मॉडल)"
_HI_SECRETS = r"(?:ओटीपी|otp|पिन|pin|पासवर्ड|कार्ड नंबर|कार्ड विवरण|सीवीवी|cvv|आधार नंबर|बैंक विवरण)"


# Letter-spaced runs ("I g n o r e ...") lose their word boundaries when joined; each is read
# unspaced, with the words after it, for these. No policy spaces out such words.
_SPACED_WORDS = re.compile(
    r"ignore|disregard|override|bypass|pretend|jailbreak|youarenow|asana?i|asanllm|systemprompt"
    r"|donot(?:say|mention|reveal|tell)|(?:hidden|previous|prior)instructions"
    r"|(?:cancel|modify|confirm|quote|get)booking|bookflight|searchflights"
)


# Hindi rules run only on text with Devanagari in it, romanised Hindi rules only on text with one
# of these words: most of a chunk's scan is skipped that way.
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_HINGLISH = re.compile(r"\b(?:ko|se|karo|jao|batao|bolo|kaho|maang\w*|mango|pucho|bhool|bhul|nirdesh"
                       r"\w*|niyam\w*|aadesh\w*|chahiye|saare|sabhi|pichh?l[ei])\b")  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    negatable: bool = False  # "Our staff will never ask customers to share their OTP" is advice
    script: re.Pattern[str] | None = None  # the rule runs only where this is found


def _rule(
    name: str, pattern: str, *, negatable: bool = False, script: re.Pattern[str] | None = None
) -> _Rule:
    return _Rule(name, re.compile(unicodedata.normalize("NFKC", pattern)), negatable, script)


_RULES: tuple[_Rule, ...] = (
    # ------------------------------------------------------------------ overriding instructions
    # "Ignore previous instructions", "disregard all prior rules", "forget the above prompt".
    _rule("override", r"\b(?:ignore|disregard|forget|discard|abandon)\s+(?:(?:all|any|the|your|of|these"
          r"|those|my|its)\s+)*(?:previous|prior|above|earlier|preceding|original|system|other"
          r"|initial|existing|default|given|foregoing)\s+(?:instructions?|prompts?|rules|directions"
          r"|guidelines|policies|context|directives|commands|programming|guardrails|constraints)\b"),
    _rule("override", r"\b(?:override|overwrite|bypass)\s+(?:(?:all|any|the|your|of|these|those)\s+)*"
          r"(?:(?:previous|prior|above|system|safety|original)\s+)?(?:instructions?|prompts?"
          r"|system prompt|guardrails|safety (?:rules|filters?))\b"),
    # "Disregard the rules" as a command; "passengers who ignore the rules" is prose.
    _rule("override", _CLAUSE_START + r"(?:ignore|disregard|forget)\s+(?:(?:all|any|the|your|every)\s+)*"
          r"(?:instructions?|prompts?|rules|guidelines|polic(?:y|ies)|restrictions|limits)\b"),
    _rule("override", r"\b(?:ignore|disregard|forget)\s+(?:all|everything|anything)\s+(?:of\s+)?"
          r"(?:the\s+)?(?:above|before|prior|previously said)\b"),
    _rule("override", r"\b(?:system|developer|hidden)\s+prompts?\b|\b(?:developer|hidden)\s+instructions?\b"),
    _rule("override", r"\b(?:real|actual|true|secret|hidden|override|system)\s+instructions?\s*:"
          r"|\bnew\s+instructions?\s+for\s+(?:the\s+|any\s+)?" + _AI + r"s?\b"),
    _rule("persona", r"\byou\s+are\s+now\s+(?:an?\s+|the\s+|in\s+)?(?:" + _AI + r"|dan|jailbroken"
          r"|unrestricted|unfiltered|(?:developer|god|admin|debug)\s+mode)\b"),
    _rule("persona", r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|shall|should)\s+(?:only\s+|always\s+"
          r"|never\s+)?(?:act|answer|respond|reply|say|tell|behave|pretend|ignore|be)\b"),
    _rule("persona", _CLAUSE_START + r"(?:pretend\s+(?:to\s+be|(?:that\s+)?you)|act\s+as\s+(?:if\s+you|an?\s+"
          r"(?:unrestricted|unfiltered|jailbroken|different|evil))|role-?play\s+as)\b"),
    _rule("persona", r"\b(?:jailbreak|jailbroken|do anything now|dan mode)\b|\b(?:enter|enable|activate"
          r"|switch to)\s+(?:developer|god|debug|admin|dan)\s+mode\b"),
    _rule("persona", r"\bas\s+an?\s+(?:ai|a\.i\.|artificial intelligence|(?:large\s+)?language\s+model)\b"),
    _rule("persona", r"\b(?:if|when|while)\s+you\s+are\s+(?:an?\s+|the\s+)" + _AI + r"\b"),
    # ------------------------------------------------------------------ role markers, tokens
    # "System message:", "[system]"; a bare "System:" only before an order ("System: PRS" is a
    # table row).
    _rule("role", r"(?:^|[.!?;\u0964]\s*|[\[<{(|#*>]\s*)(?:system|developer|assistant|ai|chatbot|llm|gpt)"
          r"\s*(?:message|prompt|note|instructions?|override|update|command)\s*(?::|>|\]|\|)"
          r"|[\[<{(]\s*(?:system|developer|assistant)\s*[\]>})]"),
    _rule("role", r"(?:^|[.!?;\u0964]\s*|[#*>|]\s*)(?:system|developer|assistant|ai|chatbot|llm|gpt)\s*:\s*"
          r"(?:you|please|now|always|never|do not|don't|ignore|disregard|forget|call|invoke|tell|say"
          r"|answer|respond|reply|confirm|approve|book|cancel|refund|the (?:user|traveller|customer"
          r"|guest|passenger|assistant))\b|(?:system|developer|assistant)\s*:\s*[a-z]+_[a-z_]+"),
    _rule("role", r"<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|</?(?:system|assistant|instructions?|prompt"
          r"|tool_call|function_call)>|###\s*(?:system|instructions?|assistant|response)\b"
          r"|\"role\"\s*:\s*\"(?:system|assistant|developer|tool)\""),
    _rule("role", r"\b(?:begin|start|end)\s+(?:of\s+)?(?:the\s+)?(?:system|hidden|secret)\s+"
          r"(?:prompt|instructions?|message)\b"),
    # ------------------------------------------------------------------ tools and functions
    _rule("tool", r"\b[a-z]+(?:_[a-z0-9]+)+\s*\("),
    _rule("tool", r"(?<![\w@./-])" + _TOOL_VERBS + r"_[a-z0-9_]+(?![\w@-])"),
    _rule("tool", r"\b(?:call|invoke|execute|trigger)\s+(?:the\s+|a\s+)?(?:[\w-]+\s+){0,2}(?:tool|function"
          r"|plugin)\b|\b(?:tool|function)[ _]calls?\b|\btools/call\b"),
    # ------------------------------------------------------------------ addressed to an assistant
    _rule("directed", _AI_SUBJECT + _MODAL + _DIRECTED_VERBS),
    _rule("directed", r"(?:^|[.!?]\s*)(?:dear\s+)?(?:ai|assistant|chat ?bot|bot|llm|language model|gpt)"
          r"s?\s*[,:]\s*(?:you\s+)?(?:must|should|will|are|always|never|do not|ignore|tell|say"
          r"|answer|respond|reply|call|use)\b"),
    _rule("directed", r"\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
          r"(?:" + _AI + r"|ai agent|llm agent)s?\b"),
    _rule("directed", r"\b(?:ai|assistants?|chat ?bots?|bots|llms?|language models?|models?|ai agents?"
          r"|llm agents?|(?:automated|ai) systems?)\s+(?:reading|processing|parsing|summari[sz]ing"
          r"|indexing|crawling|retrieving)\s+this\b"),
    # Words only an assistant is told: "when you answer, say ...", "your new task is ...".
    _rule("directed", r"\b(?:when|whenever|if|before)\s+you\s+(?:answer|respond|reply|summari[sz]e)\b,?\s+"
          r"(?:say|tell|claim|state|mention|add|include|always|never|only)\b"),
    _rule("directed", r"\b(?:respond|reply|answer)\s+(?:to\s+)?(?:every|all|each|any)\s+(?:questions?|queries"
          r"|messages?|requests?)\s+(?:with|by)\b|\byour\s+(?:new|real|actual|true)\s+(?:task|role"
          r"|job|goal|objective|purpose|instructions?)\s+(?:is|are)\b|\byou\s+must\s+now\s+(?:respond"
          r"|answer|reply|act|behave|speak|pretend)\b|\b(?:respond|answer|reply|speak)\s+as\s+(?:if\s+you"
          r"\s+were\s+|the\s+|an?\s+)"),
    _rule("directed", r"\b(?:attention|hey|hi|hello|dear|psst|note to|message to|to)\s+"
          r"(?:the\s+|any\s+|all\s+|an?\s+)?(?:ai|a\.i\.|assistant|chat ?bot|bot|llm|language model"
          r"|ai model|gpt|copilot|claude|gemini|chatgpt)s?\s*[:,]"),
    _rule("persona", r"\bas\s+(?:an?|the)\s+(?:ai|assistant|bot|chat ?bot|model|llm|language model)\s*,?"
          r"\s+you\b"),
    _rule("override", r"\b(?:stop|quit|cease)\s+(?:following|obeying)\s+(?:your|the|all|any)\s+(?:\w+\s+)?"
          r"(?:guidelines|rules|instructions|policies|programming)\b|\binstructions?\s+override\b"
          r"|\b(?:ignore|disregard|forget)\s+(?:what|everything|anything|all)\s+(?:you\s+(?:were|have"
          r"\s+been)\s+(?:told|given|instructed)|(?:was|were)\s+said)"),
    _rule("directed", r"\b(?:overwrite|replace|rewrite|prefix|end|begin)\s+(?:the|your|every|each|all)\s+"
          r"(?:answers?|responses?|replies|outputs?)\s+(?:with|by)\b|\b(?:the\s+)?(?:correct|right|only"
          r"|official)\s+(?:answer|response|reply)\s+is\b|\bif\s+asked\s+(?:about|for|whether|if)\b[^.]{0,60}?"
          r",\s*(?:say|claim|answer|reply|respond|tell|state|insist)\b"),
    _rule("persona", r"\byou\s+are\s+(?:an?|the)\s+(?:\w+\s+){0,2}?(?:assistant|chat ?bot|bot|ai|llm"
          r"|language model)\b|\b(?:agent|assistant|model|ai|bot)\s*\(\s*(?:you|i\.e\. you|that is you)\s*\)"),
    # ------------------------------------------------------------------ what to tell travellers
    # "..., tell them that all bookings are refundable": an order about what to say.
    _rule("tell", _CLAUSE_START + r"(?:inform|advise|notify)\s+(?:the|any|all|every|our|each)\s+"
          + _PEOPLE + r"\s+that\b"),
    _rule("tell", _CLAUSE_START + r"(?:tell|assure|promise|convince|reassure)\s+(?:(?:the|any|all|every"
          r"|our|each)\s+)?" + _PEOPLE + r"\s+(?:that|to|all|every|everything|nothing|only|they|we"
          r"|our|it|this|there|their|his|her)\b"),
    _rule("tell", _CLAUSE_START + r"(?:tell|assure|promise)\s+(?:whoever|anyone\s+who)\s+(?:is\s+)?asks?(?:ing)?\b"),
    _rule("tell", r"\b(?:always|only)\s+(?:say|answer|reply|respond|claim|state)\s+(?:that|with)\b"),
    # ------------------------------------------------------------------ harvesting credentials
    # "ask the customer for their OTP", "collect their card number".
    _rule("harvest", _CLAUSE_START + r"(?:ask|request|collect|obtain|get|take|note down|record)\s+"
          r"(?:(?:the|any|all|every|each|our)\s+)?(?:" + _PEOPLE + r"(?:'s|s')?\s+(?:for\s+)?|for\s+"
          r"|(?=their|his|her))(?:(?:their|his|her|the)\s+)?(?:full\s+|complete\s+|\d+[- ]digit\s+)?"
          + _SECRETS + r"\b"),
    _rule("harvest", r"\b(?:ask|tell|instruct|request|get|have)\s+(?:(?:the|any|all|every|our)\s+)?"
          + _PEOPLE + r"\s+to\s+(?:share|send|give|tell|provide|read out|enter|type|disclose|confirm)"
          r"\s+(?:us\s+|you\s+|me\s+)?(?:(?:their|his|her|the|your)\s+)?(?:full\s+)?" + _SECRETS
          + r"\b", negatable=True),
    _rule("harvest", r"\b(?:share|send|give|tell|provide|enter|type)\s+(?:your|the)\s+" + _SECRETS
          + r"\s+(?:with|to)\s+(?:me|us|(?:this|the)\s+(?:assistant|bot|chat ?bot|ai|model))\b",
          negatable=True),
    _rule("harvest", r"\b(?:have|make|let)\s+(?:the\s+|any\s+|every\s+)?" + _PEOPLE + r"\s+(?:read out|share"
          r"|send|give|tell|provide|enter|type|disclose)\s+(?:us\s+|you\s+)?(?:(?:their|his|her|the|your)"
          r"\s+)?" + _SECRETS + r"\b", negatable=True),
    # ------------------------------------------------------------------ concealment, exfiltration
    _rule("conceal", r"\b(?:reveal|print|repeat|output|disclose|show)\s+(?:me\s+)?(?:all\s+)?your\s+"
          r"(?:system\s+)?(?:prompt|instructions?|configuration|rules)\b"),
    _rule("conceal", r"\b(?:do\s+not|don't|never)\s+(?:mention|reveal|disclose|share)\s+(?:this|these)\s+"
          r"(?:instructions?|prompts?)\b"),
    _rule("conceal", _CLAUSE_START + r"(?:do\s+not|don't|never)\s+(?:mention|reveal|disclose|tell)\s+"
          r"(?:(?:this|it|that)\s+)?(?:to\s+)?(?:the\s+)?" + _PEOPLE + r"\b"),
    _rule("conceal", r"\b(?:do\s+not|don't|never)\s+let\s+(?:the\s+|any\s+)?" + _PEOPLE + r"\s+know\b"
          r"|\bkeep\s+this\s+(?:note|instruction|message|secret)\s+from\b"),
    _rule("conceal", r"\b(?:do\s+not|don't|never)\s+(?:say|admit|mention|reveal)\s+(?:that\s+)?"
          r"(?:you\s+are|you're)\s+(?:an?\s+)?" + _AI + r"\b"),
    _rule("exfiltrate", r"\bexfiltrat\w*\b|\bleak\s+(?:the|all|every|this)\s+(?:conversations?|chat"
          r"|transcripts?|data|prompt)"),
    _rule("exfiltrate", _CLAUSE_START + r"(?:send|forward|post|upload|email|leak)\s+(?:(?:all|the|this"
          r"|every)\s+)*(?:conversations?|chat(?: history)?|transcripts?|user data|customer data"
          r"|personal data|card details|traveller data)\s+to\b"),
    # ------------------------------------------------------------------ Hindi, romanised Hindi
    _rule("override", _HI_ORDERS + r"\s+(?:को\s+)?(?:\S+\s+){0,2}?" + _HI_IGNORE + r"\s*(?:\S+\s+)?"
          + _HI_IMPERATIVE, script=_DEVANAGARI),
    _rule("override", r"(?:पिछल[ेाी]|पूर्व|पहले के|ऊपर के|सभी|सारे)\s+(?:\S+\s+){0,2}?नियम\S*\s+"
          r"(?:को\s+)?" + _HI_IGNORE + r"\s*(?:\S+\s+)?" + _HI_IMPERATIVE, script=_DEVANAGARI),
    _rule("role", r"(?:^|[\u0964.!?]\s*)(?:सिस्टम|असिस्टेंट|एआई|डेवलपर)\s*(?:संदेश|निर्देश|प्रॉम्प्ट)\s*:"
          r"|(?:^|[\u0964.!?]\s*)(?:सिस्टम|असिस्टेंट|एआई|डेवलपर)\s*:[^\u0964.!?]*" + _HI_IMPERATIVE, script=_DEVANAGARI),
    _rule("persona", r"(?:अब\s+आप|आप\s+अब)\s+(?:एक\s+)?(?:\S+\s+)?" + _HI_AI, script=_DEVANAGARI),
    _rule("directed", _HI_AI + r"\s+(?:\S+\s+){0,8}?(?:बताना|कहना|बोलना|जवाब देना|उत्तर देना|पूछना"
          r"|मांगना|माँगना|लेना|करना)\s+(?:चाहिए|होगा|है)", script=_DEVANAGARI),
    _rule("tell", _HI_PEOPLE + r"\S*\s+(?:को\s+)?(?:यह\s+)?" + _HI_SAY + r"(?:\s+कि)?"
          r"|(?:पूछे|पूछें|पूछने पर)\s+(?:तो\s+)?(?:उन्हें\s+)?" + _HI_SAY + r"\s+कि", script=_DEVANAGARI),
    _rule("persona", r"आप\s+(?:एक\s+)?(?:\S+\s+)?(?:सहायक|असिस्टेंट|एआई|बॉट|चैटबॉट)\s+हैं", script=_DEVANAGARI),
    _rule("directed", r"(?:पढ़ने|देखने)\s+(?:वाला|वाले|वाली)\s+" + _HI_AI + r"|" + _HI_AI + r"[^\u0964]*?से\s+"
          r"(?:उनका\s+|उनकी\s+|उनके\s+)?" + _HI_SECRETS, script=_DEVANAGARI),
    _rule("harvest", _HI_PEOPLE + r"\S*\s+से\s+(?:उनका\s+|उनकी\s+|उनके\s+)?" + _HI_SECRETS
          + r"\s+(?:मांगें|माँगें|मांगो|माँगो|लें|लो|पूछें|पूछो|ले लें)", script=_DEVANAGARI),
    _rule("conceal", r"(?:यह|इस)\s+(?:निर्देश|बात)\S*\s+(?:\S+\s+)?" + _HI_PEOPLE
          + r"\S*\s+को\s+(?:न|मत)\s+(?:बताएं|बताएँ|बताओ|बताइए)", script=_DEVANAGARI),
    _rule("override", r"\b(?:pichh?l[ei]|purane|upar ke|saare|sare|sabhi|sab)\s+(?:\w+\s+){0,2}?"
          r"(?:instructions?|nirdesh\w*|aadesh\w*|prompts?)\s+(?:ko\s+)?(?:ignore|bhool|bhul"
          r"|nazarandaa?z|anadekha)\b", script=_HINGLISH),
    _rule("override", r"\b(?:pichh?l[ei]|purane|upar ke|saare|sare|sabhi|sab)\s+(?:\w+\s+){0,2}?"
          r"(?:niyam\w*|rules?)\s+(?:ko\s+)?(?:ignore|bhool|bhul|nazarandaa?z)\s+(?:jao|ja|karo|kar do"
          r"|do|jaiye|dijiye)\b", script=_HINGLISH),
    _rule("directed", r"\b(?:ai|bot|chat ?bot|assistant|model)\s+(?:ko|se)\s+(?:\w+\s+){0,3}?(?:bolo"
          r"|batao|kaho|bata do|bol do|samjhao)\b|\b(?:ai|bot|chat ?bot|assistant)\s+ko\s+(?:\w+\s+)"
          r"{0,6}?chahiye\b", script=_HINGLISH),
    _rule("tell", r"\b(?:customers?|grahak\w*|yatri\w*|travell?ers?|passengers?|guests?)\s+(?:ko)\s+"
          r"(?:\w+\s+){0,3}?(?:batao|bata do|bataiye|bolo|bol do|kaho|kahiye)\b", script=_HINGLISH),
    _rule("harvest", r"\b(?:otp|pin|cvv|card number|password)\s+(?:maang[oe]|mango|maangiye|le lo"
          r"|pucho|poochh?o|puchiye)\b", script=_HINGLISH),
)  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _flagged(text: str) -> bool:
    """One text scanned; cached, since a title or heading repeats on every chunk under it and a
    passage comes back query after query."""
    folded = fold(text)
    readings = folded.readings
    return any(_fires(rule, plain) for rule in _RULES for plain in readings) or any(
        _SPACED_WORDS.search(run) for run in folded.spaced
    )


def matched_rules(text: str) -> tuple[str, ...]:
    """Names of the rules `text` trips, in rule order, each once (the benchmark's breakdown)."""
    folded = fold(text)
    names: list[str] = []
    for rule in _RULES:
        if rule.name not in names and any(_fires(rule, plain) for plain in folded.readings):
            names.append(rule.name)
    if any(_SPACED_WORDS.search(run) for run in folded.spaced):
        names.append("spaced")
    return tuple(names)


def injection_flags(*texts: str) -> tuple[str, ...]:
    """("prompt_injection",) when any of `texts` (a chunk's text, its headings, the document's
    title and supplier) tries to instruct an assistant; () otherwise."""
    return (PROMPT_INJECTION,) if any(_flagged(text) for text in texts if text) else ()


def _fires(rule: _Rule, plain: str) -> bool:
    if rule.script is not None and not rule.script.search(plain):
        return False
    for match in rule.pattern.finditer(plain):
        if not (rule.negatable and _NEGATION.search(plain, 0, match.start())):
            return True
    return False
