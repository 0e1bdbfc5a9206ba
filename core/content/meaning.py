"""What a question says, for matching rewordings: a maths-aware key and the facts the guards compare.

``read(text)`` gives a :class:`Meaning`:

* ``key`` — the matching form: accents and polite filler removed, words folded, task verbs mapped to one token
  per task in both languages (``resuelvo``/``se resuelve``/``solve`` → ``SOLVE``), word order ignored, and every
  maths expression parsed by SymPy and printed canonically, so ``x^2-2x-3=0``, ``x²−2x−3 = 0``,
  ``x**2 - 2*x - 3 = 0`` and ``\\(x^2 - 2x - 3 = 0\\)`` are one expression;
* the facts that must agree exactly before a reworded question may reuse an answer: ``numbers`` (number words
  and ordinals included), ``variables``, ``expressions``, ``units``, ``entities`` (names such as Newton or Ohm),
  ``negated`` and ``tasks``; ``words`` are the content words the similarity guard compares.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rapidfuzz import fuzz, process
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from .meaning_words import (
    ENTITIES,
    FILLER,
    FILLER_EN,
    FILLER_ES,
    FUNCTIONS,
    NEGATIONS,
    NUMBER_WORDS,
    SYNONYMS,
    TASKS,
    UNITS,
)

_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3", "⁴": "^4", "¹": "^1", "⁰": "^0", "⁻": "^-", "−": "-", "–": "-",
                               "×": "*", "·": "*", "÷": "/", "⋅": "*", "√": "sqrt", "π": "pi"})
_LATEX = [(r"\\[()\[\]]", " "), (r"\$", " "), (r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))"),
          (r"\\(?:cdot|times)", "*"), (r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)"), (r"\\(sin|cos|tan|ln|log|pi)", r"\1"),
          (r"\\left|\\right", ""), (r"[{]", "("), (r"[}]", ")"), (r"\*\*", "^")]
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]{2,}(?:-[^\W\d_]{2,})+|[^\W\d_]+|[=+\-*/^<>()]|°[CFK]?|\S", re.UNICODE)
_OPERATORS = set("=+-*/^<>")
_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)
_FIND_UNKNOWN = re.compile(r"\b(?:find|calculate|work out|determine|get|halla|hallar|hallo|encuentra|encontrar|"
                           r"encuentro|calcula|calcular|calculo|obtener)\s+(?:the value of |el valor de )?[a-z]\b"
                           r"(?!\s*[=+\-*/^(])")
_STOP_LETTERS = {"a", "y", "o", "e", "u", "i", "A", "I", "Y", "O", "E"}


@dataclass(frozen=True)
class Meaning:
    key: str
    words: tuple[str, ...]
    numbers: tuple[str, ...]
    variables: frozenset[str]
    expressions: frozenset[str]
    units: tuple[str, ...]
    entities: frozenset[str]
    negated: bool
    tasks: frozenset[str]
    language: str = ""      # "es", "en", or "" when the words do not tell


def plain(word: str) -> str:
    """Lower case without accents (``ñ`` kept)."""
    out = []
    for char in word.lower():
        out.append(char if char == "ñ" else "".join(
            c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn"))
    return "".join(out)


def _number(text: str) -> str:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return text
    return format(value.normalize(), "f")


def _prepare(text: str) -> str:
    text = text.translate(_SUPERSCRIPTS).replace("’", "'")
    text = re.sub(r"n't\b", " not", re.sub(r"'s\b", "", text))
    for pattern, repl in _LATEX:
        text = re.sub(pattern, repl, text)
    return unicodedata.normalize("NFKC", text)


def _is_math(tokens: list[str], i: int) -> bool:
    token = tokens[i]
    if token in _OPERATORS or token in "()" or token[0].isdigit() or plain(token) in FUNCTIONS:
        return True
    if len(token) == 1 and token.isalpha():  # a lone letter is a variable when an operator or number touches it
        near = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
        return any(t in _OPERATORS or t == "(" or t[0].isdigit() for t in near) or token not in _STOP_LETTERS
    return False


def _operand(token: str) -> bool:
    return token not in _OPERATORS and token not in "()"


def _spans(text: str):
    """Maximal runs of maths tokens (token indexes, with the token matches); two operands separated only by a
    space, or a function name after a space, start a new run."""
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    run: list[int] = []
    for i in range(len(tokens) + 1):
        math = i < len(tokens) and _is_math(tokens, i)
        if math and run:
            prev, cur = tokens[run[-1]], tokens[i]
            gap = matches[i].start() > matches[run[-1]].end()
            if gap and ((_operand(prev) and _operand(cur) and plain(prev) not in FUNCTIONS) or plain(cur) in FUNCTIONS):
                yield run, matches
                run = []
        if math:
            run.append(i)
        elif run:
            yield run, matches
            run = []


@functools.lru_cache(maxsize=4096)
def canonical_expression(text: str) -> str | None:
    """SymPy's canonical print of an expression, equation or inequality; None when it does not parse."""
    text = re.sub(r"(\d),(\d)", r"\1.\2", text).replace("sen", "sin")
    relation = next((op for op in ("<=", ">=", "=", "<", ">") if op in text), None)
    try:
        if relation is None:
            return str(parse_expr(text, transformations=_TRANSFORMS))
        left, _, right = text.partition(relation)
        difference = parse_expr(left, transformations=_TRANSFORMS) - parse_expr(right, transformations=_TRANSFORMS)
        if relation == "=":
            difference = difference.expand()
            return min(f"{difference}=0", f"{-difference}=0")  # a = b and b = a are one equation
        return f"{difference}{relation.replace('<', 'LT').replace('>', 'GT')}0"
    except Exception:
        return None


class _Reader:
    """Collects the facts of one question while its tokens are read."""

    def __init__(self):
        self.words: list[str] = []
        self.numbers: list[str] = []
        self.variables: set[str] = set()
        self.expressions: set[str] = set()
        self.units: list[str] = []
        self.entities: set[str] = set()
        self.tasks: set[str] = set()
        self.negated = False
        self.votes = {"es": 0, "en": 0}

    def word(self, word: str) -> None:
        if word in SYNONYMS:
            for part in SYNONYMS[word].split():
                self.word(part)
            return
        self.votes["es"] += word in FILLER_ES
        self.votes["en"] += word in FILLER_EN
        kind, value = _VOCABULARY.get(word) or _typo(word)
        if kind == "negation":
            self.negated = True
        elif kind == "number":
            self.numbers.append(value)
        elif kind == "task":
            self.tasks.add(value)
        elif kind == "entity":
            self.entities.add(value)
        elif kind == "unit":
            self.units.append(value)
        elif kind == "" and len(word) > 1:
            self.words.append(word)

    def meaning(self) -> Meaning:
        es, en = self.votes["es"], self.votes["en"]
        language = "es" if es > en else "en" if en > es else ""
        key_parts = (sorted(self.words) + sorted(self.tasks) + sorted(self.numbers) + sorted(self.expressions)
                     + self.units + sorted(self.entities) + sorted(self.variables) + (["NOT"] if self.negated else []))
        return Meaning(key=" ".join(key_parts), words=tuple(self.words), numbers=tuple(sorted(self.numbers)),
                       variables=frozenset(self.variables), expressions=frozenset(self.expressions),
                       units=tuple(self.units), entities=frozenset(self.entities), negated=self.negated,
                       tasks=frozenset(self.tasks), language=language)


def _vocabulary() -> dict[str, tuple[str, str]]:
    vocabulary = {word: ("filler", "") for word in FILLER}
    vocabulary.update({word: ("unit", unit) for word, unit in UNITS.items() if len(word) > 2})
    for kind, words in (("number", NUMBER_WORDS), ("task", TASKS), ("entity", ENTITIES)):
        vocabulary.update({word: (kind, value) for word, value in words.items()})
    vocabulary.update({word: ("negation", "") for word in NEGATIONS})
    return vocabulary


_VOCABULARY = _vocabulary()
_TYPO_WORDS = [word for word, (kind, _) in _VOCABULARY.items() if kind != "filler" and len(word) >= 5]


@functools.lru_cache(maxsize=8192)
def _typo(word: str) -> tuple[str, str]:
    """A known task, number, unit or name typed with a slip (``resuelbe``, ``segudos``); else an ordinary word."""
    if len(word) < 5:
        return "", ""
    found = process.extractOne(word, _TYPO_WORDS, scorer=fuzz.ratio, score_cutoff=85)
    return _VOCABULARY[found[0]] if found and found[0][0] == word[0] else ("", "")


def read(text: str) -> Meaning:
    """The meaning of one question (either language; both languages' words are known)."""
    text = _prepare(text)
    reader = _Reader()
    consumed: set[int] = set()
    for run, matches in _spans(text):
        tokens = [matches[i].group() for i in run]
        while tokens and tokens[-1] in "(":
            tokens.pop(), run.pop()
        while tokens and tokens[0] in ")":
            tokens.pop(0), run.pop(0)
        if not run:
            continue
        raw = text[matches[run[0]].start():matches[run[-1]].end()].strip()
        has_operator = any(t in _OPERATORS or plain(t) in FUNCTIONS for t in tokens)
        letters = [t for t in tokens if t.isalpha() and plain(t) not in FUNCTIONS]
        if has_operator and len(run) > 1:
            reader.expressions.add(canonical_expression(raw) or re.sub(r"\s+", "", raw))
            reader.variables.update(letters)
            consumed.update(run)
        elif letters and len(run) == 1:
            before = matches[run[0] - 1].group() if run[0] else ""
            if not (before[:1].isdigit() and tokens[0] in UNITS):  # "3 s" is a unit, not a variable
                reader.variables.update(letters)
                consumed.update(run)
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token[0].isdigit():
            reader.numbers.append(_number(token))
            if after in UNITS or after.startswith("°"):
                reader.units.append(UNITS.get(after, after))
        elif token.startswith("°") and not (i and tokens[i - 1][0].isdigit()):
            reader.units.append(UNITS.get(token, token))
        elif i in consumed or not token[0].isalpha() or (token in UNITS and i and tokens[i - 1][0].isdigit()):
            continue
        elif plain(token) == "sin" and (after == "(" or len(after) == 1):
            continue  # sin(x) is the sine, not the Spanish "without"
        else:
            reader.word(plain(token))
    if _FIND_UNKNOWN.search(plain(text)):
        reader.tasks.add("SOLVE")  # "find x", "halla el valor de x": solving, whatever the verb
    return reader.meaning()
