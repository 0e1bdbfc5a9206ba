"""Questions: validate, bring to a canonical form, hash.

The canonical form (version 1) is what makes two phrasings of the same question share one cached answer, and
nothing more — numbers, variables and units are kept exactly, because "15 % de 80" and "25 % de 80" must never
meet. Steps:

1. Unicode NFKC; control and format characters removed (tabs and newlines become spaces).
2. Accents removed (``á``→``a``, ``ü``→``u``) except ``ñ``, which changes meaning (``año``/``ano``).
3. Words folded to lower case when they read as ordinary words: Capitalised words of 3+ letters, upper-case
   words of 4+ letters, any Capitalised word that opens a sentence, and every word of 2+ letters when the whole
   question is typed in capitals. Single letters (variables such as ``x``, ``A``, ``F``), mixed or
   upper-case tokens (units such as ``mA``, ``MHz``, ``N``) and anything with a digit are kept as written.
4. ``¿ ¡`` and quotes removed; ``? ! . , ; :`` removed unless between two digits (``3,5`` and ``2.5`` stay).
5. Spaces collapsed, and removed around ``= + - * / ^ ( ) < >`` so ``x + 2 = 5`` and ``x+2=5`` meet.

The cache key is the SHA-256 of the canonical form together with the context that changes the answer
(language, subject, level).
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from ..errors import InvalidInput

CANONICAL_VERSION = 1
_HTML_TAGS = ("a|abbr|audio|b|base|body|br|button|canvas|code|details|dialog|div|em|embed|form|frame|frameset|h[1-6]|"
              "head|hr|html|i|iframe|img|input|label|li|link|marquee|math|meta|noscript|object|ol|option|p|param|"
              "pre|script|select|source|span|strong|style|sub|sup|svg|table|td|textarea|th|title|tr|u|ul|video")
# Real tags only: "x<y and y>z" is maths, not markup. Everything is escaped on display anyway.
MARKUP = re.compile(rf"<\s*/?\s*(?:{_HTML_TAGS})\b[^<>]*>|<!--|<!\[CDATA\[|javascript\s*:", re.IGNORECASE)
_TOKEN = re.compile(r"\w+|\W", re.UNICODE)
_OPERATORS = "=+-*/^()<>"
_DROP = set("¿¡\"'“”‘’«»`")
_SENTENCE_END = set(".?!¿¡")


@dataclass(frozen=True)
class Question:
    text: str
    canonical: str
    hash: str
    language: str
    subject: str = ""
    level: str = ""


def clean_text(text: object, *, limit: int, empty_code: str = "question_empty",
               too_long_code: str = "question_too_long") -> str:
    """Validate free text typed by a person: a string, without markup, control characters removed, not empty."""
    if not isinstance(text, str):
        raise InvalidInput("question_not_text")
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if c in "\t\r" else c for c in text)
    text = "".join(c for c in text if c == "\n" or unicodedata.category(c)[0] != "C").strip()
    if not text:
        raise InvalidInput(empty_code)
    if len(text) > limit:
        raise InvalidInput(too_long_code, limit=limit)
    if MARKUP.search(text):
        raise InvalidInput("invalid_text", reason="HTML")
    return text


def _strip_accents(text: str) -> str:
    out = []
    for char in text:
        if char in "ñÑ":
            out.append(char)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn"))
    return "".join(out)


def _fold(word: str, opens_sentence: bool, shouting: bool) -> str:
    if not word.isalpha():
        return word
    if shouting and len(word) >= 2:
        return word.lower()
    if word.islower() and len(word) >= 3:
        return word
    if word.isupper() and len(word) >= 4:
        return word.lower()
    capitalised = word[0].isupper() and word[1:].islower()
    if capitalised and (len(word) >= 3 or opens_sentence):
        return word.lower()
    return word


def canonical_form(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = _strip_accents(text)
    tokens = _TOKEN.findall(text)
    shouting = sum(c.isupper() for c in text) > 8 and not any(c.islower() for c in text)
    out: list[str] = []
    opens_sentence = True
    for i, token in enumerate(tokens):
        if token in _DROP:
            opens_sentence = opens_sentence or token in _SENTENCE_END
            continue
        if token in "?!.,;:":
            between_digits = (0 < i < len(tokens) - 1 and tokens[i - 1][-1:].isdigit()
                              and tokens[i + 1][:1].isdigit())
            if between_digits:
                out.append(token)
            else:
                out.append(" ")
                opens_sentence = opens_sentence or token in _SENTENCE_END
            continue
        if token.strip():
            out.append(_fold(token, opens_sentence, shouting))
            opens_sentence = False
        else:
            out.append(" ")
    joined = re.sub(r"\s+", " ", "".join(out)).strip()
    return re.sub(r"\s*([" + re.escape(_OPERATORS) + r"])\s*", r"\1", joined)


def question_hash(canonical: str, *, language: str, subject: str = "", level: str = "") -> str:
    key = json.dumps({"v": CANONICAL_VERSION, "q": canonical, "language": language, "subject": subject,
                      "level": level}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def prepare(text: object, *, language: str, limit: int, subject: str = "", level: str = "") -> Question:
    """Validate and canonicalise a question typed by a student."""
    if language not in ("es", "en"):
        raise InvalidInput("invalid_language", language=str(language)[:20])
    cleaned = clean_text(text, limit=limit)
    canonical = canonical_form(cleaned)
    if not canonical:
        raise InvalidInput("question_empty")
    return Question(text=cleaned, canonical=canonical, language=language, subject=subject, level=level,
                    hash=question_hash(canonical, language=language, subject=subject, level=level))
