"""The maths claims an answer makes, read from the LaTeX of its formulas (no SymPy here).

A formula is cut into chains at words, ``\\quad``, commas, semicolons, line breaks and arrows (``\\Rightarrow``,
``\\to``); a chain ``a = b = c`` gives the links ``a = b`` and ``b = c``. Only ``=`` and ``\\approx`` links are
claims; other relations (``<``, ``\\ne``…) end a link without being one. Anything ambiguous gives no claim: a comma
between digits (``3,5`` may be a decimal or a list), digits separated by a space, unknown commands, text that is not
a unit. ``3{,}5`` is a decimal comma; ``°`` and ``^\\circ`` are degrees; ``\\text{m/s}`` is a unit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .mathtext import formula_spans

MAX_SIDE = 240
UNITS = frozenset("m cm mm km s ms min h kg g mg N kN J kJ W kW V A mA Hz Pa kPa K L mL l ml rad C ohm Ω".split())
_UNICODE = {"·": r" \cdot ", "⋅": r" \cdot ", "×": r" \times ", "÷": r" \div ", "−": "-", "–": "-", "²": "^{2}",
            "³": "^{3}", "π": r"\pi ", "≈": r"\approx ", "≠": r"\neq ", "≤": r"\le ", "≥": r"\ge ", "°": r"^{\circ}",
            "⇒": r"\Rightarrow ", "→": r"\to ", "±": r"\pm ", "∓": r"\mp ", "Ω": r"\Omega ", "√": r"\sqrt "}
_SEPARATORS = re.compile(r"\\(?:qquad|quad|Rightarrow|Leftarrow|Leftrightarrow|Longrightarrow|Longleftrightarrow|"
                         r"implies|iff|to|rightarrow|longrightarrow|mapsto|text\s*\{[^{}]*\}|mbox\s*\{[^{}]*\}|"
                         r"textrm\s*\{[^{}]*\}|textbf\s*\{[^{}]*\}|\\)(?![A-Za-z])|[,;:\n]")
_RELATIONS = re.compile(r"\\(?:approx|neq|ne|leq|le|geq|ge|lt|gt|equiv|sim|simeq|propto|cong|leqslant|geqslant)"
                        r"(?![A-Za-z])|=|<|>")
_UNIT_TEXT = re.compile(r"\\(?:text|mathrm|textrm|mbox|rm)\s*\{([^{}]*)\}(\s*\^\s*(?:\{-?\d\}|\d))?")
_FUNCTIONS = {"sen": "sin", "tg": "tan", "sin": "sin", "cos": "cos", "tan": "tan", "ln": "ln", "log": "log"}
_FUNCTION_TEXT = re.compile(r"\\(?:text|mathrm|textrm|operatorname|mbox|rm)\s*\{\s*(sen|sin|cos|tan|tg|ln|log)\s*\}")
_DROP = re.compile(r"\\(?:left|right|displaystyle|big|Big|bigg|Bigg|limits)(?![A-Za-z])|\\(?:begin|end)\{[a-z*]*\}"
                   r"|&|\\[!;: ]")
_ALLOWED_COMMANDS = frozenset(
    "frac sqrt cdot times div sin cos tan sec csc cot arcsin arccos arctan sinh cosh tanh ln log exp pi infty int "
    "lim to pm mp binom circ alpha beta gamma delta Delta theta lambda mu rho sigma tau phi varphi omega Omega "
    "epsilon varepsilon".split())
_SIDE_CHARS = re.compile(r"[A-Za-z0-9\s+\-*/^_(){}\[\]|.!'\\]*")


@dataclass(frozen=True)
class Link:
    """One claimed equality: ``left relation right`` in step ``step`` (0-based), ``order`` in reading order."""
    step: int
    order: int
    left: str
    relation: str  # "=" or "≈"
    right: str

    @property
    def text(self) -> str:
        return f"{self.left} {'=' if self.relation == '=' else chr(8776)} {self.right}"


def answer_links(contents: list[str]) -> list[Link]:
    """Every link of every step's formulas, in reading order."""
    links: list[Link] = []
    for step, content in enumerate(contents):
        for formula in formulas(content):
            for chain in chains(formula):
                for left, relation, right in zip(chain[::2], chain[1::2], chain[2::2]):
                    if relation in ("=", r"\approx") and left.strip() and right.strip():
                        links.append(Link(step, len(links), left.strip(), "=" if relation == "=" else "≈",
                                          right.strip()))
    return links


def formulas(content: str) -> list[str]:
    """The inside of each formula of a step's text."""
    found = []
    for start, end in formula_spans(content):
        text = content[start:end]
        opener = "$$" if text.startswith("$$") else text[:2] if text.startswith("\\") else "$"
        found.append(text[len(opener):len(text) - len(opener)])
    return found


def chains(formula: str) -> list[list[str]]:
    """``[part, relation, part, relation, part…]`` for each chain of the formula; none if it is ambiguous."""
    text = normalise(formula)
    if text is None:
        return []
    return [_relations(piece) for piece in _split_top(text, _SEPARATORS) if piece.strip()]


def normalise(formula: str) -> str | None:
    for char, replacement in _UNICODE.items():
        formula = formula.replace(char, replacement)
    formula = re.sub(r"(\d)\{,\}(\d)", r"\1.\2", formula)
    if re.search(r"\d\s*,\s*-?\d", formula):
        return None  # "3,5": a Spanish decimal or a list of numbers
    formula = re.sub(r"(\d)\\,(\d)", r"\1\2", formula)  # 1\,000
    formula = _FUNCTION_TEXT.sub(lambda m: f" \\{_FUNCTIONS.get(m.group(1), m.group(1))} ", formula)
    formula = re.sub(r"\\(sen|tg)(?![A-Za-z])", lambda m: f"\\{_FUNCTIONS[m.group(1)]} ", formula)
    formula = _UNIT_TEXT.sub(_unit_or_word, formula)
    formula = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", formula)
    return _DROP.sub(" ", formula.replace(r"\,", " "))


def _unit_or_word(match: re.Match) -> str:
    """A unit (``\\text{m/s}^2``: the power goes to the last unit) becomes ``(U_{m}/U_{s}^{2})``; any other
    text separates claims."""
    tokens = re.findall(r"[^\s/·^\\]+|/|\\cdot|·|\^\{?-?\d\}?|\S", match.group(1))
    words = [t for t in tokens if re.fullmatch(r"[A-Za-zΩ]+", t)]
    if not words or any(w not in UNITS for w in words) or any(
            not re.fullmatch(r"[A-Za-zΩ]+|/|\\cdot|·|\^\{?-?\d\}?", t) for t in tokens):
        return r" \text{} "
    parts = [f"U_{{{t}}}" if t in UNITS else r" \cdot " if t in ("·", r"\cdot") else t for t in tokens]
    if match.group(2):
        last = max(i for i, part in enumerate(parts) if part.startswith("U_"))
        parts[last] += match.group(2).strip()
    return " (" + " ".join(parts) + ") "


def _split_top(text: str, pattern: re.Pattern) -> list[str]:
    """``text`` cut where ``pattern`` matches outside braces, brackets and parentheses."""
    return [text[a:b] for a, b in _pieces(text, pattern)[0::2]]


def _relations(text: str) -> list[str]:
    pieces = _pieces(text, _RELATIONS)
    return [text[a:b] for a, b in pieces]


def _pieces(text: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    """Alternating spans: a part, a separator, a part… (separators only at depth 0)."""
    spans, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "{}()[]":
            index += 2
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth = max(0, depth - 1)
        elif depth == 0:
            match = pattern.match(text, index)
            if match and match.end() > index:
                spans += [(start, index), (index, match.end())]
                start = index = match.end()
                continue
        index += 1
    spans.append((start, len(text)))
    return spans


def side_latex(text: str) -> list[str] | None:
    """The side of a link as LaTeX for SymPy's parser, once per sign of ``\\pm``; ``None`` if it is not safe to
    parse (unknown commands, characters outside a small set, digits separated by spaces, too long)."""
    text = text.strip()
    if not text or len(text) > MAX_SIDE or text.count("{") != text.count("}"):
        return None
    text = re.sub(r"(\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?", r"(\1 \\cdot \\pi / 180)", text)
    commands = set(re.findall(r"\\([A-Za-z]+)", text))
    if not commands <= _ALLOWED_COMMANDS or "circ" in commands or not _SIDE_CHARS.fullmatch(text):
        return None
    if re.search(r"\d\s+\.?\d|\.\d*\.|\d\.(?!\d)", text) or re.search(r"\\[^A-Za-z{}()\[\]|]", text):
        return None
    if "\\pm" in text or "\\mp" in text:
        plus = re.sub(r"\\pm(?![A-Za-z])", "+", re.sub(r"\\mp(?![A-Za-z])", "-", text))
        minus = re.sub(r"\\pm(?![A-Za-z])", "-", re.sub(r"\\mp(?![A-Za-z])", "+", text))
        return [plus, minus]
    return [text]


def decimals(text: str) -> int:
    """The most digits after a decimal point among the numbers written in ``text``."""
    return max((len(m) for m in re.findall(r"\d\.(\d+)", text)), default=0)
