"""What a step's text may contain beyond plain Markdown: formulas of bounded size and http(s)/mailto links only.

KaTeX draws whatever a formula asks for: ``\\rule{200em}{200em}`` is a black box over the whole page, ``\\kern``
and ``\\\\[...]`` move things anywhere, ``\\def`` expands without end, ``\\href``/``\\html...`` add links and
attributes. ``content_problems`` lists what breaks these rules; the answer validator (shared by model output,
lessons and teacher edits) refuses any text with a problem.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .mathtext import code_spans, formula_spans

MAX_FORMULA = 500          # characters of one formula, delimiters included
MAX_FORMULA_LINES = 20     # \\ and \cr line breaks in one formula
MAX_DIMENSION_EM = 10.0    # largest \kern, \hspace, \raisebox, \\[...] ... in em
LINK_SCHEMES = ("http://", "https://", "mailto:")

# Macros that define macros, add links or HTML attributes, include images or draw boxes of any size.
REFUSED_MACROS = frozenset({
    "rule", "url", "includegraphics", "htmlClass", "htmlId", "htmlStyle", "htmlData",
    "def", "gdef", "edef", "xdef", "let", "futurelet", "global", "long", "newcommand", "renewcommand",
    "providecommand", "DeclareMathOperator", "expandafter", "noexpand", "csname", "endcsname", "char",
    "abovewithdelims", "vrule", "hrule",
})
# Macros whose argument is a length: it must be a plain dimension of at most MAX_DIMENSION_EM.
DIMENSION_MACROS = frozenset({"kern", "mkern", "hskip", "mskip", "hspace", "mspace", "vspace", "vskip",
                              "raisebox", "above", "raise", "lower", "moveleft", "moveright", "genfrac"})
COLOR_MACROS = frozenset({"color", "textcolor", "colorbox", "fcolorbox"})
_EM_PER_UNIT = {"em": 1.0, "ex": 0.431, "pt": 0.1, "bp": 0.1004, "px": 0.1004, "pc": 1.2, "dd": 0.107,
                "cc": 1.284, "nd": 0.107, "nc": 1.284, "mm": 0.2845, "cm": 2.845, "in": 7.227, "mu": 1 / 18,
                "sp": 0.1 / 65536}
_MACRO = re.compile(r"\\([A-Za-z]+|.)")
_DIMENSION = re.compile(r"\s*([-+]?)\s*(\d+(?:[.,]\d*)?|[.,]\d+)\s*(?:true\s*)?([a-z]{2})\s*", re.IGNORECASE)
_COLOR = re.compile(r"#?[A-Za-z0-9]{1,20}")
_INLINE_LINK = re.compile(r"\]\(\s*(<[^>\n]*>|[^\s)]*)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)", re.MULTILINE)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")


@dataclass(frozen=True)
class Problem:
    """One rule broken: ``code`` names it (an error code), ``reason`` says it in English (for the model's repair
    prompt and the logs) and ``params`` fill the translated message."""

    code: str
    reason: str
    params: dict = field(default_factory=dict)


def content_problems(text: str) -> list[Problem]:
    """The formula and link problems of a step's Markdown ``text``; empty when it is fine."""
    problems: list[Problem] = []
    for start, end in formula_spans(text):
        problems += formula_problems(text[start:end])
    problems += link_problems(_outside(text, formula_spans(text) + code_spans(text)))
    return problems


def formula_problems(formula: str) -> list[Problem]:
    """What a formula (delimiters included) may not do: be too long, use a refused macro, a length or a colour
    out of bounds, or stack too many lines."""
    if len(formula) > MAX_FORMULA:
        return [Problem("formula_too_long", f"a formula is longer than {MAX_FORMULA} characters",
                        {"limit": MAX_FORMULA})]
    problems = [_macro_problem(formula, match) for match in _MACRO.finditer(formula)]
    lines = len(re.findall(r"\\\\|\\cr\b", formula))
    if lines > MAX_FORMULA_LINES:
        problems.append(Problem("formula_too_long", f"a formula has more than {MAX_FORMULA_LINES} lines",
                                {"limit": MAX_FORMULA}))
    return [problem for problem in problems if problem is not None]


def _macro_problem(formula: str, match: re.Match) -> Problem | None:
    name, after = match.group(1), match.end()
    if name in REFUSED_MACROS or name.startswith("html"):
        return _refused(name)
    if name == "href":
        url = _group(formula, after)
        return None if url is not None and _allowed_link(url) else _refused(name)
    if name in DIMENSION_MACROS:
        return _dimension_problem(name, formula, after)
    if name == "\\" and formula[after:].lstrip().startswith("["):
        opening = after + formula[after:].index("[")
        closing = formula.find("]", opening)
        return _size_problem("\\\\", formula[opening + 1:closing] if closing > 0 else "")
    if name in COLOR_MACROS:
        color = _group(formula, after)
        if color is None or not _COLOR.fullmatch(color.strip()):
            return Problem("formula_color", f"\\{name} needs a colour name or #hex code",
                           {"macro": f"\\{name}"})
    return None


def _refused(name: str) -> Problem:
    return Problem("formula_macro", f"formulas may not use \\{name}", {"macro": f"\\{name}"})


def _dimension_problem(name: str, formula: str, index: int) -> Problem | None:
    index = _skip(formula, index, "*")
    if name == "genfrac":  # \genfrac{left}{right}{thickness}{style}{num}{den}: the thickness is a length
        for _ in range(2):
            index = _group_end(formula, index)
            if index < 0:
                return _size_problem("\\genfrac", "")
        argument = _group(formula, index)
        return None if argument is not None and not argument.strip() else _size_problem("\\genfrac", argument or "")
    argument = _group(formula, index)
    if argument is None:
        bare = _DIMENSION.match(formula, _skip(formula, index, "="))
        argument = bare.group(0) if bare else ""
    return _size_problem(f"\\{name}", argument)


def _size_problem(macro: str, argument: str) -> Problem | None:
    """``None`` when ``argument`` is one plain length within the cap."""
    match = _DIMENSION.fullmatch(argument)
    unit = match.group(3).lower() if match else ""
    if match and unit in _EM_PER_UNIT:
        size = float(match.group(2).replace(",", ".")) * _EM_PER_UNIT[unit]
        if size <= MAX_DIMENSION_EM:
            return None
    return Problem("formula_size", f"{macro} takes a plain length of at most {MAX_DIMENSION_EM:g}em, "
                                   f"not {argument.strip()[:40]!r}",
                   {"macro": macro, "size": argument.strip()[:40], "limit": f"{MAX_DIMENSION_EM:g}"})


def _skip(text: str, index: int, extra: str = "") -> int:
    while index < len(text) and (text[index].isspace() or text[index] in extra):
        index += 1
    return index


def _group_end(text: str, index: int) -> int:
    """The index just past the braced group starting (after spaces) at ``index``, or -1."""
    index = _skip(text, index)
    if index >= len(text) or text[index] != "{":
        return -1
    depth, position = 0, index
    while position < len(text):
        if text[position] == "\\":
            position += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        position += 1
        if depth == 0:
            return position
    return -1


def _group(text: str, index: int) -> str | None:
    """The inside of the braced group starting (after spaces) at ``index``, or ``None``."""
    end = _group_end(text, index)
    return None if end < 0 else text[text.index("{", index) + 1:end - 1]


# --- links -------------------------------------------------------------------------------------------------------

def link_problems(text: str) -> list[Problem]:
    """Markdown links, images, reference definitions and autolinks whose target is not http(s) or mailto."""
    targets = [m.group(1) for pattern in (_INLINE_LINK, _REFERENCE, _AUTOLINK) for m in pattern.finditer(text)]
    return [Problem("link_not_allowed", f"links may only go to http(s) or mailto addresses, not {url[:60]!r}",
                    {"url": url[:60]}) for url in targets if not _allowed_link(url)]


def _allowed_link(url: str) -> bool:
    url = url.strip().strip("<>").strip().lower()
    return any(url.startswith(scheme) and len(url) > len(scheme) for scheme in LINK_SCHEMES)


def _outside(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the given spans blanked out (same length, so nothing joins across them)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)

