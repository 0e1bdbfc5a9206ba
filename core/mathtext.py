"""Maths delimiters and word- and formula-safe chunking for streamed Markdown.

Streamlit's Markdown renders ``$…$`` and ``$$…$$`` only, so ``\\( … \\)`` and ``\\[ … \\]`` are converted.
``\\$`` is a literal dollar, never a delimiter. Code spans and fences are left alone.
"""
from __future__ import annotations

import re
from typing import Iterator

_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)
_OPENERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def _code_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _CODE.finditer(text)]


def _escaped(text: str, i: int) -> bool:
    backslashes = 0
    while i - backslashes - 1 >= 0 and text[i - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _scan(text: str):
    """Yield ``(start, end, opener)`` for each formula; ``end`` is None for an unclosed one. Stray closers are
    yielded as ``(i, i + 2, None)``."""
    code = _code_spans(text)
    i = 0
    while i < len(text):
        inside_code = next((b for a, b in code if a <= i < b), None)
        if inside_code is not None:
            i = inside_code
            continue
        opener = next((o for o in _OPENERS if text.startswith(o[0], i) and not _escaped(text, i)), None)
        if opener is None:
            if text.startswith(("\\)", "\\]"), i) and not _escaped(text, i):
                yield i, i + 2, None
                i += 2
                continue
            i += 1
            continue
        start, closer = i, opener[1]
        j = i + len(opener[0])
        while j < len(text):
            if text.startswith(closer, j) and not _escaped(text, j) and not (
                    closer == "$" and text.startswith("$$", j)):
                break
            if closer == "$" and text[j] == "\n" and text[j - 1:j] == "\n":
                j = len(text)
                break
            j += 1
        if j >= len(text):
            yield start, None, opener[0]
            i = start + len(opener[0])
            continue
        yield start, j + len(closer), opener[0]
        i = j + len(closer)


def formula_spans(text: str) -> list[tuple[int, int]]:
    """The ``[start, end)`` spans of complete formulas, in any delimiter style."""
    return [(a, b) for a, b, opener in _scan(text) if b is not None and opener is not None]


def unbalanced_delimiters(text: str) -> list[str]:
    """Problems for the validator: unclosed openers and stray closers (empty when the maths is well formed)."""
    problems = []
    for a, b, opener in _scan(text):
        if opener is None:
            problems.append(f"stray {text[a:b]} at {a}")
        elif b is None:
            problems.append(f"unclosed {opener} at {a}")
    return problems


def to_markdown_math(text: str) -> str:
    """``\\( x \\)`` → ``$x$`` and ``\\[ x \\]`` → ``$$x$$``; everything else unchanged."""
    out, last = [], 0
    for a, b, opener in _scan(text):
        if b is None or opener not in ("\\(", "\\["):
            continue
        inner = text[a + 2:b - 2].strip()
        dollars = "$" if opener == "\\(" else "$$"
        out += [text[last:a], f"{dollars}{inner}{dollars}"]
        last = b
    out.append(text[last:])
    return "".join(out)


def safe_prefix(text: str, n: int) -> str:
    """``text[:n]`` shortened so that it never ends inside a formula: a formula shows whole or not at all."""
    n = max(0, min(n, len(text)))
    for a, b, opener in _scan(text):
        if a >= n:
            break
        if opener is not None and (b is None or b > n):
            return text[:a]
    return text[:n]


def _unbreakable(text: str) -> list[tuple[int, int]]:
    return [(a, b if b is not None else len(text)) for a, b, opener in _scan(text) if opener is not None]


def chunk_text(text: str, size: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """Split ``text[start:]`` into consecutive ``[a, b)`` ranges of about ``size`` characters.

    A range may end only right after whitespace (or at the end of the text), never inside a formula; trailing
    whitespace goes with the range before it. A word or formula longer than ``size`` is a range of its own.
    The ranges cover ``text[start:]`` exactly.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    formulas = _unbreakable(text)
    boundaries = [i for i in range(start + 1, len(text))
                  if text[i - 1].isspace() and not text[i].isspace()
                  and not any(a < i < b for a, b in formulas)] + [len(text)]
    a = start
    index = 0
    while a < len(text):
        while boundaries[index] <= a:
            index += 1
        b = boundaries[index]
        while index + 1 < len(boundaries) and boundaries[index + 1] - a <= size:
            index += 1
            b = boundaries[index]
        yield a, b
        a = b
