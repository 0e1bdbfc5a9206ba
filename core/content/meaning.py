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

from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                        standard_transformations)

from .meaning_words import ENTITIES, FILLER, FUNCTIONS, NEGATIONS, NUMBER_WORDS, TASKS, UNITS

_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3", "⁴": "^4", "¹": "^1", "⁰": "^0", "⁻": "^-", "−": "-", "–": "-",
                               "×": "*", "·": "*", "÷": "/", "⋅": "*", "√": "sqrt", "π": "pi"})
_LATEX = [(r"\\[()\[\]]", " "), (r"\$", " "), (r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))"),
          (r"\\(?:cdot|times)", "*"), (r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)"), (r"\\(sin|cos|tan|ln|log|pi)", r"\1"),
          (r"\\left|\\right", ""), (r"[{]", "("), (r"[}]", ")"), (r"\*\*", "^")]
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+|[=+\-*/^<>()]|°[CFK]?|\S", re.UNICODE)
_OPERATORS = set("=+-*/^<>")
_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)
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


def _spans(text: str):
    """Maximal runs of maths tokens, as (start, end) offsets; two operands separated only by a space split a run."""
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    run: list[int] = []
    for i in range(len(tokens) + 1):
        math = i < len(tokens) and _is_math(tokens, i)
        if math and run:
            prev, cur = tokens[run[-1]], tokens[i]
            gap = matches[i].start() > matches[run[-1]].end()
            operand = lambda t: t not in _OPERATORS and t not in "()"  # noqa: E731
            if gap and ((operand(prev) and operand(cur) and plain(prev) not in FUNCTIONS) or plain(cur) in FUNCTIONS):
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
    except Exception:  # noqa: BLE001 — SymPy raises many kinds on text that is not maths
        return None


def read(text: str) -> Meaning:
    """The meaning of one question (either language; both languages' words are known)."""
    text = _prepare(text)
    words: list[str] = []
    numbers: list[str] = []
    variables: set[str] = set()
    expressions: set[str] = set()
    units: list[str] = []
    entities: set[str] = set()
    tasks: set[str] = set()
    negated = False
    consumed: set[int] = set()
    for run, matches in _spans(text):
        raw = text[matches[run[0]].start():matches[run[-1]].end()].strip()
        has_operator = any(matches[i].group() in _OPERATORS or plain(matches[i].group()) in FUNCTIONS for i in run)
        letters = [matches[i].group() for i in run if matches[i].group().isalpha()
                   and plain(matches[i].group()) not in FUNCTIONS]
        if has_operator and len(run) > 1:
            expression = canonical_expression(raw)
            expressions.add(expression or re.sub(r"\s+", "", raw))
            variables.update(letters)
            consumed.update(run)
        elif letters and len(run) == 1:
            variables.update(letters)
            consumed.update(run)
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            numbers.append(_number(token))
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            if after in UNITS or after.startswith("°"):
                units.append(UNITS.get(after, after))
            continue
        if token.startswith("°"):
            units.append(token)
            continue
        if i in consumed or not token[0].isalpha():
            continue
        word = plain(token)
        if word == "sin" and i + 1 < len(tokens) and (tokens[i + 1] == "(" or len(tokens[i + 1]) == 1):
            continue
        if word in NEGATIONS or (word == "t" and i and tokens[i - 1] == "'"):
            negated = True
        elif word in NUMBER_WORDS:
            numbers.append(NUMBER_WORDS[word])
        elif word in TASKS:
            tasks.add(TASKS[word])
        elif word in ENTITIES:
            entities.add(ENTITIES[word])
        elif token in UNITS and i and tokens[i - 1][0].isdigit():
            continue
        elif word in UNITS and len(word) > 2:
            units.append(UNITS[word])
        elif word not in FILLER and len(word) > 1:
            words.append(word)
    key_parts = sorted(words) + sorted(tasks) + sorted(numbers) + sorted(expressions) + units + sorted(
        entities) + sorted(variables) + (["NOT"] if negated else [])
    return Meaning(key=" ".join(key_parts), words=tuple(words), numbers=tuple(sorted(numbers)),
                   variables=frozenset(variables), expressions=frozenset(expressions), units=tuple(units),
                   entities=frozenset(entities), negated=negated, tasks=frozenset(tasks))
