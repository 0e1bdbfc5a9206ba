"""Formula delimiters, Markdown conversion and word/formula-safe chunking (core.content.mathtext)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.content.mathtext import chunk_text, formula_spans, safe_prefix, to_markdown_math, unbalanced_delimiters

WS = " \t\n\r\f\v"

# --- generated texts whose formulas are known by construction ---------------------------------------------------

WORD_CHARS = "abcdefghijklmnñopqrstuvwxyzáéíóúüÁÉÑ¿¡,.;:()0123456789"
INNER_PIECES = ["x", "y", "2", "+", "-", "=", " ", "^2", "{", "}", "á", "ñ", "\\alpha", "\\frac{1}{2}", "\\cdot"]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", " \n", "\n \n"]

words = st.text(alphabet=WORD_CHARS, min_size=1, max_size=8) | st.just("\\$5")
inner = st.lists(st.sampled_from(INNER_PIECES), min_size=1, max_size=6).map("".join)
display_inner = st.lists(st.sampled_from(INNER_PIECES + ["\n"]), min_size=1, max_size=8).map("".join)
formulas = st.one_of(
    inner.map(lambda s: f"${s}$"),
    display_inner.map(lambda s: f"$${s}$$"),
    inner.map(lambda s: f"\\({s}\\)"),
    display_inner.map(lambda s: f"\\[{s}\\]"),
)
pieces = st.one_of(words.map(lambda w: (w, False)), formulas.map(lambda f: (f, True)))
units = st.lists(pieces, min_size=1, max_size=3)


@st.composite
def texts(draw):
    """``(text, formula spans)`` mixing words, whitespace, newlines, accents and all four formula styles."""
    text, spans = draw(st.sampled_from(["", " ", "\n"])), []
    for index, unit in enumerate(draw(st.lists(units, min_size=1, max_size=12))):
        if index:
            text += draw(st.sampled_from(SEPARATORS))
        for piece, is_formula in unit:
            if is_formula:
                spans.append((len(text), len(text) + len(piece)))
            text += piece
    text += draw(st.sampled_from(["", " ", "\n", "  "]))
    return text, spans


def inside(position, spans):
    return any(a < position < b for a, b in spans)


def boundaries(text, spans):
    return {b for b in range(1, len(text)) if text[b - 1] in WS and text[b] not in WS and not inside(b, spans)}


@given(texts())
@settings(max_examples=300)
def test_formula_spans_are_found_exactly(case):
    text, spans = case
    assert formula_spans(text) == spans
    assert unbalanced_delimiters(text) == []


@given(texts(), st.integers(min_value=1, max_value=40), st.data())
@settings(max_examples=400)
def test_chunks_cover_the_text_and_split_only_between_units(case, size, data):
    text, spans = case
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    chunks = list(chunk_text(text, size, start))
    assert "".join(text[a:b] for a, b in chunks) == text[start:]
    assert all(a < b for a, b in chunks)
    assert [a for a, _ in chunks] == ([start] + [b for _, b in chunks[:-1]] if chunks else [])
    allowed = boundaries(text, spans)
    for a, b in chunks:
        assert b == len(text) or b in allowed
        assert not inside(b, spans)
        assert not (0 < b < len(text) and text[b - 1] not in WS and text[b] not in WS), "split inside a word"
        if b - a > size:
            assert not any(a < k < b for k in allowed), "a long chunk must be a single unbreakable unit"
        else:
            assert not any(b < k <= a + size for k in allowed), "a chunk ends at the last boundary that fits"


@given(texts(), st.data())
@settings(max_examples=300)
def test_safe_prefix_shows_a_formula_whole_or_not_at_all(case, data):
    text, spans = case
    n = data.draw(st.integers(min_value=0, max_value=len(text)))
    shown = safe_prefix(text, n)
    assert text.startswith(shown) and len(shown) <= n
    assert not inside(len(shown), spans)
    straddled = [a for a, b in spans if a < n < b]
    if straddled:
        assert len(shown) == straddled[0]
    else:
        assert len(shown) == n or (len(shown) == n - 1 and text[n - 1] == "\\")


@given(texts())
@settings(max_examples=300)
def test_markdown_conversion_keeps_every_formula_as_dollars(case):
    text, spans = case
    converted = to_markdown_math(text)
    converted_spans = formula_spans(converted)
    assert len(converted_spans) == len(spans)
    assert to_markdown_math(converted) == converted
    assert unbalanced_delimiters(converted) == []
    for a, b in converted_spans:
        if converted[a] != "$":
            inner = converted[a + 2:b - 2]
            assert not inner.strip() or converted[a - 1:a] == "$" or converted[b:b + 1] == "$"


# --- explicit examples ------------------------------------------------------------------------------------------

def test_formula_spans_all_delimiter_styles():
    text = r"a $x$ b $$y$$ c \(z\) d \[w\] e"
    assert [text[a:b] for a, b in formula_spans(text)] == ["$x$", "$$y$$", r"\(z\)", r"\[w\]"]


def test_escaped_dollars_are_literal():
    assert formula_spans(r"cuesta \$5 y \$7") == []
    assert unbalanced_delimiters(r"cuesta \$5") == []
    text = r"$\$5 + x$"
    assert formula_spans(text) == [(0, len(text))]


def test_code_is_never_a_formula():
    assert formula_spans("usa `$x$` aquí") == []
    assert formula_spans("```\n$x\n```\ny $z$") == [(13, 16)]
    assert unbalanced_delimiters("```python\nprice = '$'\n```") == []
    assert to_markdown_math(r"`\(x\)` y \(y\)") == r"`\(x\)` y $y$"


def test_to_markdown_math():
    assert to_markdown_math(r"Sea \( x^2 \) y \[ \frac{a}{b} \]") == r"Sea $x^2$ y $$ \frac{a}{b} $$"
    assert to_markdown_math(r"\(a\) cuesta \$3") == r"$a$ cuesta \$3"
    assert to_markdown_math("ya $x$ y $$y$$") == "ya $x$ y $$y$$"
    assert to_markdown_math(r"abierto \( x") == r"abierto \( x"
    assert to_markdown_math("\\[\nx = 1\n\\]") == "$$\nx = 1\n$$"


def test_unbalanced_delimiters_messages():
    assert unbalanced_delimiters("ok $x$ y $$z$$") == []
    assert unbalanced_delimiters("precio $5 hoy") == ["unclosed $ at 7"]
    assert unbalanced_delimiters(r"a \( b") == [r"unclosed \( at 2"]
    assert unbalanced_delimiters(r"a \[ b") == [r"unclosed \[ at 2"]
    assert unbalanced_delimiters("a $$ b") == ["unclosed $$ at 2"]
    assert unbalanced_delimiters(r"a b \) c \]") == [r"stray \) at 4", r"stray \] at 9"]
    assert unbalanced_delimiters(r"\\(x") == []


def test_inline_formulas_do_not_cross_paragraphs():
    text = "uno $x\n\ndos $y$"
    assert unbalanced_delimiters(text) == ["unclosed $ at 4"]
    assert [text[a:b] for a, b in formula_spans(text)] == ["$y$"]
    assert formula_spans("$$a\n\nb$$") == [(0, 8)]


def test_chunk_text_examples():
    text = "Hola mundo, $a + b = c$ es  fácil.\n\nFin"
    chunks = [text[a:b] for a, b in chunk_text(text, 8)]
    assert chunks == ["Hola ", "mundo, ", "$a + b = c$ ", "es  ", "fácil.\n\n", "Fin"]
    assert [text[a:b] for a, b in chunk_text(text, 1000)] == [text]
    assert list(chunk_text("", 5)) == []
    assert list(chunk_text("abc", 5, 3)) == []


def test_chunk_text_resumes_mid_word():
    text = "palabra larga aquí"
    assert [text[a:b] for a, b in chunk_text(text, 4, 3)] == ["abra ", "larga ", "aquí"]


def test_chunk_text_is_deterministic_and_checks_arguments():
    text = r"Sea \(x^2 + 1\) la función. " * 5
    assert list(chunk_text(text, 10)) == list(chunk_text(text, 10))
    with pytest.raises(ValueError):
        list(chunk_text(text, 0))
    with pytest.raises(ValueError):
        list(chunk_text(text, 5, len(text) + 1))


def test_no_break_space_keeps_words_together():
    text = "5\u00a0km por hora"
    assert [text[a:b] for a, b in chunk_text(text, 1)] == ["5\u00a0km ", "por ", "hora"]


def test_safe_prefix_examples():
    text = r"Sea $x + 1$ y \(y\) fin"
    assert safe_prefix(text, 7) == "Sea "
    assert safe_prefix(text, 11) == "Sea $x + 1$"
    assert safe_prefix(text, 15) == "Sea $x + 1$ y "
    assert safe_prefix(text, len(text)) == text
    assert safe_prefix(text, 100) == text
    assert safe_prefix("mientras $x^2 +", 15) == "mientras "
    assert safe_prefix("a $$x\n\ny", 8) == "a "
    assert safe_prefix("a $x\n\nb", 7) == "a $x\n\nb"
    assert safe_prefix(r"cuesta \$5", 8) == "cuesta "
    assert safe_prefix(r"cuesta \$5", 9) == r"cuesta \$"
