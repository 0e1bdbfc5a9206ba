"""Maths delimiters and word/formula-safe chunking for streamed Markdown.

Formulas are written ``$...$`` (inline), ``$$...$$`` (display), ``\\(...\\)`` (inline) or ``\\[...\\]`` (display);
``\\$`` is a literal dollar. Inline formulas cannot cross a blank line (a paragraph break); display formulas can.
Code spans and fenced code blocks are never formulas. Whitespace means ASCII whitespace: a no-break space keeps its
neighbours together.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

WHITESPACE = frozenset(" \t\n\r\f\v")
_CLOSERS = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}
_INLINE = frozenset({"$", "\\("})
_SPECIAL = re.compile(r"[`\\$\n]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True)
class Formula:
    """One formula: ``text[start:end]`` including its delimiters."""

    start: int
    end: int
    opener: str

    @property
    def inner(self) -> tuple[int, int]:
        return self.start + len(self.opener), self.end - len(_CLOSERS[self.opener])


@dataclass
class _Scan:
    formulas: list[Formula] = field(default_factory=list)
    code_spans: list[tuple[int, int]] = field(default_factory=list)
    unclosed: list[tuple[int, str]] = field(default_factory=list)
    stray: list[tuple[int, str]] = field(default_factory=list)


def _scan(text: str) -> _Scan:
    """Formulas, inline code spans and delimiter problems of ``text``, left to right."""
    scan = _Scan()
    position = _skip_fence(text, 0)
    while (match := _SPECIAL.search(text, position)) is not None:
        index = match.start()
        char = text[index]
        if char == "\n":
            position = _skip_fence(text, index + 1)
        elif char == "`":
            position = _code_span(text, index, scan)
        elif char == "\\":
            position = _backslash(text, index, scan)
        else:
            position = _formula(text, index, "$$" if text.startswith("$$", index) else "$", scan)
    return scan


def _skip_fence(text: str, index: int) -> int:
    """Past a fenced code block starting at line start ``index``, or ``index`` when there is none."""
    match = _FENCE.match(text, index)
    if not match:
        return index
    fence = match.group(1)
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
    line_end = text.find("\n", match.end())
    if line_end < 0:
        return len(text)
    found = closing.search(text, line_end + 1)
    return found.end() if found else len(text)


def _paragraph_end(text: str, index: int) -> int:
    match = _BLANK_LINE.search(text, index)
    return match.start() if match else len(text)


def _code_span(text: str, index: int, scan: _Scan) -> int:
    run = _BACKTICKS.match(text, index).end() - index
    closer = re.compile(rf"(?<!`){'`' * run}(?!`)")
    found = closer.search(text, index + run, _paragraph_end(text, index))
    if not found:
        return index + run
    scan.code_spans.append((index, found.end()))
    return found.end()


def _backslash(text: str, index: int, scan: _Scan) -> int:
    pair = text[index:index + 2]
    if pair in ("\\(", "\\["):
        return _formula(text, index, pair, scan)
    if pair in ("\\)", "\\]"):
        scan.stray.append((index, pair))
    return index + 2


def _formula(text: str, index: int, opener: str, scan: _Scan) -> int:
    limit = _paragraph_end(text, index) if opener in _INLINE else len(text)
    closer = _CLOSERS[opener]
    end = _find_closer(text, index + len(opener), closer, limit)
    if end < 0:
        scan.unclosed.append((index, opener))
        return index + len(opener)
    scan.formulas.append(Formula(index, end + len(closer), opener))
    return end + len(closer)


def _find_closer(text: str, index: int, closer: str, limit: int) -> int:
    while index + len(closer) <= limit:
        if text.startswith(closer, index):
            return index
        index += 2 if text[index] == "\\" else 1
    return -1


# --- public API ------------------------------------------------------------------------------------------------

def formula_spans(text: str) -> list[tuple[int, int]]:
    """The ``[start, end)`` spans of the formulas in ``text``, delimiters included, in order."""
    return [(formula.start, formula.end) for formula in _scan(text).formulas]


def code_spans(text: str) -> list[tuple[int, int]]:
    """The ``[start, end)`` spans of the inline code spans in ``text``, backticks included, in order."""
    return list(_scan(text).code_spans)


def unbalanced_delimiters(text: str) -> list[str]:
    """Delimiter problems in ``text`` (``"unclosed $ at 12"``, ``"stray \\) at 40"``); empty when fine."""
    scan = _scan(text)
    problems = [(index, f"unclosed {opener} at {index}") for index, opener in scan.unclosed]
    problems += [(index, f"stray {closer} at {index}") for index, closer in scan.stray]
    return [message for _, message in sorted(problems)]


def to_markdown_math(text: str) -> str:
    """``text`` with ``\\(...\\)`` turned into ``$...$`` and ``\\[...\\]`` into ``$$...$$``.

    Dollar formulas, escaped dollars, code and unclosed delimiters are left as they are; so is a backslash formula
    whose conversion would not survive as a dollar formula (an unescaped ``$`` inside, an empty inline formula, or
    a ``$`` right next to it).
    """
    parts, last = [], 0
    for formula in _scan(text).formulas:
        replacement = _dollar_form(text, formula)
        if replacement is not None:
            parts += [text[last:formula.start], replacement]
            last = formula.end
    parts.append(text[last:])
    return "".join(parts)


def _dollar_form(text: str, formula: Formula) -> str | None:
    if formula.opener not in ("\\(", "\\["):
        return None
    inner = text[slice(*formula.inner)]
    if formula.opener == "\\(":
        inner = inner.strip()
    before = text[formula.start - 1] if formula.start else ""
    after = text[formula.end] if formula.end < len(text) else ""
    if not inner.strip() or re.search(r"(?<!\\)\$", inner) or "$" in (before, after):
        return None
    return f"${inner}$" if formula.opener == "\\(" else f"$${inner}$$"


def chunk_text(text: str, size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """Consecutive ``[a, b)`` ranges covering ``text[start:]`` exactly, of about ``size`` characters each.

    A range may end only at the end of the text or right after a run of whitespace, never inside a formula or an
    inline code span: so no word or formula is split, and trailing whitespace stays with the range before it. Each
    range ends at the last such boundary within ``size`` characters; when there is none, at the next one (a single
    unit longer than ``size`` becomes its own range). ``start`` need not be a boundary.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if not 0 <= start <= len(text):
        raise ValueError(f"start must be between 0 and {len(text)}, got {start}")
    boundaries = _boundaries(text, start)
    position = start
    while position < len(text):
        following = bisect.bisect_right(boundaries, position)
        within = bisect.bisect_right(boundaries, position + size)
        end = boundaries[within - 1] if within > following else boundaries[following]
        yield position, end
        position = end


def _boundaries(text: str, start: int) -> list[int]:
    """Where a chunk may end after ``start``: after whitespace, before non-whitespace, outside formulas."""
    scan = _scan(text)
    blocked = bytearray(len(text) + 1)
    for begin, end in [(f.start, f.end) for f in scan.formulas] + scan.code_spans:
        blocked[begin + 1:end] = b"\x01" * (end - begin - 1)
    found = [index for index in range(start + 1, len(text))
             if text[index - 1] in WHITESPACE and text[index] not in WHITESPACE and not blocked[index]]
    return found + [len(text)]


def safe_prefix(text: str, n: int) -> str:
    """``text[:n]``, cut back so it does not end inside a formula: a formula is shown whole or not at all.

    The cut goes to the opening delimiter of a formula still open at ``n`` (an inline one stays open only until
    the end of its paragraph), and drops a backslash that starts a delimiter continuing past ``n``.
    """
    cut = max(0, min(n, len(text)))
    while True:
        if cut < len(text) and _splits_escape(text, cut):
            cut -= 1
        scan = _scan(text[:cut])
        open_at = [index for index, opener in scan.unclosed if _still_open(text, index, opener, cut)]
        if not open_at:
            return text[:cut]
        cut = min(open_at)


def _splits_escape(text: str, cut: int) -> bool:
    backslashes = len(text[:cut]) - len(text[:cut].rstrip("\\"))
    return backslashes % 2 == 1 and text[cut] in "([$"


def _still_open(text: str, index: int, opener: str, cut: int) -> bool:
    return opener not in _INLINE or _BLANK_LINE.search(text, index, cut) is None
