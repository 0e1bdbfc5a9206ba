"""Whiteboard commands: validation, safe expressions and SVG rendering (core.content.canvas, core.content.expressions)."""
from __future__ import annotations

import logging
import math
import os
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.content.canvas import (
    CanvasError,
    commands_until,
    validate_command,
    validate_commands,
)
from core.content.expressions import compile_expression
from core.content.svg import render_svg

SVG = "{http://www.w3.org/2000/svg}"

VALID = [
    {"op": "axes", "x_min": -5, "x_max": 5, "y_min": -2, "y_max": 8, "grid": True},
    {"op": "axes", "x_min": -5, "x_max": 5, "y_min": -2, "y_max": 8, "ticks": False, "x_label": "t (s)",
     "y_label": "v (m/s)"},
    {"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "visible": False},
    {"op": "point", "x": 1, "y": 2, "label": "P"},
    {"op": "text", "x": 1, "y": 2, "text": "c = ?", "id": "c-side_2"},
    {"op": "segment", "x1": 0, "y1": 0, "x2": 3, "y2": 4, "label": "AB"},
    {"op": "arrow", "x1": 0, "y1": 0, "x2": 3, "y2": 4},
    {"op": "vector", "x2": 2, "y2": -1, "label": "v"},
    {"op": "vector", "x1": 1, "y1": 1, "x2": 2, "y2": -1},
    {"op": "circle", "x": 0, "y": 0, "r": 2.5, "label": "C"},
    {"op": "rect", "x": -1, "y": -1, "w": 2, "h": 3, "label": "R"},
    {"op": "polygon", "points": [[0, 0], [1, 0], [0, 1]], "label": "T"},
    {"op": "text", "x": 1, "y": 1, "text": "Área = π r²"},
    {"op": "plot", "expr": "sin(x) + x^2/10", "x_min": -3, "x_max": 3, "label": "f"},
    {"op": "highlight", "x": 0, "y": 0, "w": 1, "h": 1},
    {"op": "clear"},
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def assert_harmless(svg: str) -> ET.Element:
    """The SVG is well-formed XML with no script element, no event handler and no link outside itself."""
    root = parse(svg)
    assert "<script" not in svg.lower()
    for element in root.iter():
        assert not element.tag.lower().endswith("script")
        assert not element.tag.lower().endswith("foreignobject")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "href" not in name.lower() and "src" not in name.lower()
            if "url(" in value and name != "aria-label":
                assert re.fullmatch(r"url\(#[\w-]+\)", value), value
    return root


def texts_of(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


# --- validation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", VALID, ids=lambda raw: raw["op"])
def test_every_op_validates(raw):
    command = validate_command(raw)
    assert command["op"] == raw["op"]
    assert command["color"] == "blue" and command["at_char"] == 0
    for name, value in raw.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert command[name] == float(value) and isinstance(command[name], float)


def test_normalised_form():
    raw = {"op": "polygon", "points": [(0, 0), [1, 0], [0, 1]], "color": "red", "at_char": 3, "x": None,
           "expr": None, "label": None, "grid": None}
    assert validate_command(raw) == {"op": "polygon", "points": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
                                     "color": "red", "at_char": 3}
    assert list(validate_command({"at_char": 2, "y": 1, "label": "P", "x": 0, "op": "point"})) == [
        "op", "x", "y", "label", "color", "at_char"]


def test_null_fields_of_the_strict_schema_are_ignored():
    fields = ["x", "y", "x1", "y1", "x2", "y2", "r", "w", "h", "x_min", "x_max", "y_min", "y_max", "points",
              "text", "expr", "label", "color", "grid", "ticks", "visible", "x_label", "y_label", "id", "at_char"]
    raw = {name: None for name in fields} | {"op": "point", "x": 1.5, "y": -2}
    assert validate_command(raw) == {"op": "point", "x": 1.5, "y": -2.0, "color": "blue", "at_char": 0}


INVALID = [
    ({"x": 1, "y": 2}, "unknown op"),
    ({"op": "ellipse", "x": 1, "y": 2}, "unknown op"),
    ({"op": 3}, "unknown op"),
    ({"op": "point", "x": 1}, "missing"),
    ({"op": "point", "x": 1, "y": 2, "r": 3}, "unknown field"),
    ({"op": "point", "x": 1, "y": 2, "onload": "x"}, "unknown field"),
    ({"op": "text", "x": 1, "y": 2, "text": "hi", "label": "L"}, "unknown field"),
    ({"op": "highlight", "x": 0, "y": 0, "w": 1, "h": 1, "label": "L"}, "unknown field"),
    ({"op": "clear", "x": 1}, "unknown field"),
    ({"op": "axes", "x_min": 1, "x_max": 1, "y_min": 0, "y_max": 1}, "less than"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 2, "y_max": 1}, "less than"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "grid": 1}, "true or false"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "ticks": "no"}, "ticks must be true or false"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "visible": 0}, "visible must be true or"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "x_label": "t" * 25}, "longer than 24"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "y_label": 3}, "y_label must be a string"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "y_label": "\x00"}, "y_label is empty"),
    ({"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1, "id": "a"}, "unknown field"),
    ({"op": "clear", "id": "a"}, "unknown field"),
    ({"op": "point", "x": 0, "y": 1, "ticks": False}, "unknown field"),
    ({"op": "text", "x": 0, "y": 0, "text": "c", "id": "1st"}, "id must be"),
    ({"op": "text", "x": 0, "y": 0, "text": "c", "id": 'a" onload="x'}, "id must be"),
    ({"op": "text", "x": 0, "y": 0, "text": "c", "id": "a" * 33}, "id must be"),
    ({"op": "text", "x": 0, "y": 0, "text": "c", "id": 7}, "id must be"),
    ({"op": "point", "x": "1", "y": 2}, "number"),
    ({"op": "point", "x": 1001, "y": 2}, "within"),
    ({"op": "point", "x": -1000.5, "y": 2}, "within"),
    ({"op": "point", "x": 10**400, "y": 2}, "within"),
    ({"op": "circle", "x": 0, "y": 0, "r": 0}, "greater than 0"),
    ({"op": "circle", "x": 0, "y": 0, "r": -1}, "greater than 0"),
    ({"op": "rect", "x": 0, "y": 0, "w": 0, "h": 1}, "greater than 0"),
    ({"op": "highlight", "x": 0, "y": 0, "w": 1, "h": -2}, "greater than 0"),
    ({"op": "vector", "x1": 1, "x2": 2, "y2": 2}, "both x1 and y1"),
    ({"op": "polygon", "points": [[0, 0], [1, 1]]}, "3 to 20"),
    ({"op": "polygon", "points": [[i, i] for i in range(21)]}, "3 to 20"),
    ({"op": "polygon", "points": [[0, 0], [1, 1], [1]]}, "pair"),
    ({"op": "polygon", "points": [[0, 0], [1, 1], [1, "a"]]}, "number"),
    ({"op": "polygon", "points": "0,0 1,1 2,2"}, "3 to 20"),
    ({"op": "text", "x": 0, "y": 0, "text": ""}, "empty"),
    ({"op": "text", "x": 0, "y": 0, "text": " \x00\x07\n\t "}, "empty"),
    ({"op": "text", "x": 0, "y": 0, "text": "a" * 81}, "longer than 80"),
    ({"op": "text", "x": 0, "y": 0, "text": 5}, "string"),
    ({"op": "point", "x": 0, "y": 0, "label": "b" * 41}, "longer than 40"),
    ({"op": "point", "x": 0, "y": 0, "label": "\u202e\u0000"}, "empty"),
    ({"op": "point", "x": 0, "y": 0, "color": "pink"}, "color"),
    ({"op": "point", "x": 0, "y": 0, "color": "#ff0000"}, "color"),
    ({"op": "point", "x": 0, "y": 0, "color": "Blue"}, "color"),
    ({"op": "point", "x": 0, "y": 0, "at_char": -1}, "at_char"),
    ({"op": "point", "x": 0, "y": 0, "at_char": 2.0}, "at_char"),
    ({"op": "point", "x": 0, "y": 0, "at_char": "3"}, "at_char"),
    ({"op": "plot", "expr": "x^2", "x_min": 2, "x_max": 1}, "less than"),
    ({"op": "plot", "expr": "x" * 121}, "longer than 120"),
    ({"op": "plot", "expr": "2x"}, "implicit multiplication"),
    ({"op": "plot", "expr": ""}, "empty"),
    ({"op": "plot"}, "missing"),
]


@pytest.mark.parametrize("raw,reason", INVALID, ids=[f"{i}-{r}" for i, (_, r) in enumerate(INVALID)])
def test_invalid_commands_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(CanvasError) as info:
        validate_command(raw)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason
    assert isinstance(info.value, ValueError)


def test_non_dict_is_rejected():
    for raw in (None, [], "point", 3):
        with pytest.raises(CanvasError):
            validate_command(raw)


NUMERIC_FIELDS = [(raw["op"], name) for raw in VALID for name, value in raw.items()
                  if isinstance(value, (int, float)) and not isinstance(value, bool)]


@pytest.mark.parametrize("op,name", NUMERIC_FIELDS)
@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf, -math.inf, "1", [1]])
def test_booleans_and_non_finite_numbers_are_rejected(op, name, bad):
    raw = dict(next(r for r in VALID if r["op"] == op and name in r))
    raw[name] = bad
    with pytest.raises(CanvasError):
        validate_command(raw)


@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf])
def test_booleans_and_non_finite_numbers_rejected_in_points_and_at_char(bad):
    with pytest.raises(CanvasError):
        validate_command({"op": "polygon", "points": [[0, 0], [1, bad], [0, 1]]})
    with pytest.raises(CanvasError):
        validate_command({"op": "point", "x": 0, "y": 0, "at_char": bad})


def test_text_and_labels_lose_control_characters():
    command = validate_command({"op": "text", "x": 0, "y": 0, "text": "  a\x00b\x1b[31m\nc\u202e  "})
    assert command["text"] == "ab[31m c"
    assert validate_command({"op": "point", "x": 0, "y": 0, "label": "\tP\r\n"})["label"] == "P"
    assert validate_command({"op": "text", "x": 0, "y": 0, "text": "é" * 80})["text"] == "é" * 80


def test_validate_commands_keeps_valid_clamps_and_reports_dropped(caplog):
    raws = [
        {"op": "point", "x": 1, "y": 1, "at_char": 500},
        "not a command",
        {"op": "point", "x": True, "y": 1},
        {"op": "plot", "expr": "__import__('os')"},
        {"op": "text", "x": 0, "y": 0, "text": "hola", "at_char": 3},
    ]
    with caplog.at_level(logging.WARNING, logger="core.content.canvas"):
        valid, dropped = validate_commands(raws, 40)
    assert [c["at_char"] for c in valid] == [40, 3]
    assert [raw for raw, _ in dropped] == raws[1:4]
    assert all(isinstance(error, CanvasError) and error.reason and error.code for _, error in dropped)
    assert len([r for r in caplog.records if r.name == "core.content.canvas" and r.levelno == logging.WARNING]) == 3
    assert validate_commands([], 10) == ([], [])
    assert validate_commands(None, 10) == ([], [])


# --- safe expressions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr,x,expected", [
    ("x^2", 3, 9), ("-x^2", 2, -4), ("2^-1", 0, 0.5), ("x**3", 2, 8), ("e^x", 1, math.e), ("pi", 0, math.pi),
    ("sin(pi/2)", 0, 1), ("cos(x)", 0, 1), ("tan(0)", 0, 0), ("asin(1)", 0, math.pi / 2), ("acos(1)", 0, 0),
    ("atan(1)", 0, math.pi / 4), ("sqrt(x)", 16, 4), ("exp(0)", 0, 1), ("log(100)", 0, 2), ("ln(e)", 0, 1),
    ("abs(x)", -3, 3), ("2*(x+1)/4", 3, 2), ("1.5e2", 0, 150), ("x^(1/2)", 9, 3), ("2^10", 0, 1024),
])
def test_expressions_evaluate(expr, x, expected):
    assert compile_expression(expr)(x) == pytest.approx(expected)


@pytest.mark.parametrize("expr,x", [
    ("sqrt(x)", -1), ("1/x", 0), ("ln(x)", 0), ("log(x)", -2), ("exp(x)", 1000), ("x^0.5", -4),
    ("asin(x)", 2), ("x^x", -0.5), ("10^x", 999), ("1/(x-x)", 3),
])
def test_evaluation_errors_give_nan(expr, x):
    assert math.isnan(compile_expression(expr)(x))


DANGEROUS = [
    "__import__('os')", "__import__('os').system('touch /tmp/pwned')", "x.__class__", "().__class__",
    "().__class__.__bases__[0].__subclasses__()", '"a"*9', "'a'", "9**9**9", "9^9^9", "x^1000", "2^(10^3)",
    "lambda: 1", "(lambda: 1)()", "[x for x in (1,)]", "x if x else 1", "x > 1", "x and 1", "(1, 2)", "[1][0]",
    "{}", "open('/etc/passwd')", "eval('1')", "exec('1')", "getattr(x, 'real')", "x.real", "sin", "sin(x, 2)",
    "sin(x=1)", "f'{x}'", "(y := 1)", "x % 2", "x // 2", "x << 2", "x | 1", "~x", "not x", "True", "None",
    "1j", "import os", "x; 1", "1e400", "2x", "2(x+1)", "x(x+1)", "(x+1)(x-1)", "2 sin(x)", "xy", "sinx",
    "\x00", "x\n+1\n;import os",
]


@pytest.mark.parametrize("expr", DANGEROUS)
def test_unsafe_or_unsupported_expressions_are_rejected(expr, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))
    with pytest.raises(CanvasError) as info:
        compile_expression(expr)
    assert info.value.reason
    with pytest.raises(CanvasError):
        validate_command({"op": "plot", "expr": expr})
    svg = render_svg([{"op": "plot", "expr": expr, "color": "blue", "at_char": 0}])
    assert parse(svg).find(f".//{SVG}path") is None
    assert calls == []


@pytest.mark.parametrize("expr", ["2x", "2(x+1)", "x(x+1)", "(x+1)(x-1)", "2 sin(x)", "3 x"])
def test_implicit_multiplication_is_explained(expr):
    with pytest.raises(CanvasError, match="implicit multiplication"):
        compile_expression(expr)


def test_expression_cannot_reach_python_eval(monkeypatch):
    import builtins
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: pytest.fail("eval called"))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: pytest.fail("exec called"))
    assert compile_expression("sin(x)^2 + cos(x)^2")(0.7) == pytest.approx(1)


# --- rendering ----------------------------------------------------------------------------------------------------

def test_empty_board_is_just_the_frame():
    svg = render_svg([])
    root = assert_harmless(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("viewBox") == "0 0 360 270"
    drawn = [e for e in root.iter() if e.tag in {f"{SVG}{t}" for t in ("line", "text", "path", "circle",
                                                                           "polygon", "ellipse")}]
    assert drawn == []
    assert len([e for e in root if e.tag == f"{SVG}rect"]) == 1


def test_every_op_renders():
    valid, dropped = validate_commands(VALID[:-1], 100)
    assert dropped == []
    root = assert_harmless(render_svg(valid, width=600, height=400, title="Todo"))
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert {"line", "circle", "ellipse", "rect", "polygon", "text", "path", "title"} <= tags
    assert root.get("viewBox") == "0 0 600 400"
    assert {"P", "AB", "v", "C", "R", "T", "f", "Área = π r²", "Todo"} <= set(texts_of(root))


def test_numbers_are_compact_and_colours_real():
    svg = render_svg([validate_command({"op": "point", "x": 0, "y": 0, "color": "red"})])
    assert not re.search(r"\d\.\d*0\"", svg)
    assert 'fill="#dc2626"' in svg
    root = parse(svg)
    circle = root.find(f".//{SVG}circle")
    assert (circle.get("cx"), circle.get("cy")) == ("180", "135")


HOSTILE = ['<script>alert(1)</script>', '" onload="alert(1)', "' onmouseover='x", "javascript:alert(1)",
           "]]><script>", "&amp; &lt; $x$ \\(y\\)", "<svg onload=alert(1)>", "<!-- x -->"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_is_always_escaped(text):
    commands = [validate_command(c) for c in (
        {"op": "text", "x": 0, "y": 0, "text": text},
        {"op": "point", "x": 1, "y": 1, "label": text[:40]},
        {"op": "plot", "expr": "x", "label": text[:40]},
    )]
    svg = render_svg(commands, title=text)
    root = assert_harmless(svg)
    assert text in texts_of(root) and text[:40] in texts_of(root)
    assert root.get("aria-label") == text
    assert "$" not in svg


@given(st.text(max_size=100), st.text(max_size=60))
@settings(max_examples=200)
def test_any_text_gives_well_formed_harmless_svg(text, title):
    commands = []
    for raw in ({"op": "text", "x": 0, "y": 0, "text": text}, {"op": "circle", "x": 0, "y": 0, "r": 1,
                                                               "label": text}):
        try:
            commands.append(validate_command(raw))
        except CanvasError:
            pass
    assert_harmless(render_svg(commands, title=title or None))


def test_unvalidated_text_is_still_escaped():
    svg = render_svg([{"op": "text", "x": 0, "y": 0, "text": "<script>\x00\x1b</script>", "color": "blue"}],
                     title="\x07<b>")
    assert_harmless(svg)


def path_pieces(svg: str) -> list[list[tuple[float, float]]]:
    d = parse(svg).find(f".//{SVG}path").get("d")
    return [[tuple(map(float, p.split())) for p in piece.strip().split("L")] for piece in d.split("M")[1:]]


def test_tan_is_plotted_with_breaks_at_its_poles():
    svg = render_svg([validate_command({"op": "axes", "x_min": -5, "x_max": 5, "y_min": -5, "y_max": 5}),
                      validate_command({"op": "plot", "expr": "tan(x)"})])
    pieces = path_pieces(svg)
    assert len(pieces) == 5
    for piece in pieces:
        ys = [y for _, y in piece]
        steps = [b - a for a, b in zip(ys, ys[1:])]
        assert all(step <= 0 for step in steps), "each branch of tan rises"


def test_reciprocal_breaks_at_zero_and_steep_lines_do_not():
    reciprocal = render_svg([validate_command({"op": "plot", "expr": "1/x"})])
    assert len(path_pieces(reciprocal)) == 2
    steep = render_svg([validate_command({"op": "plot", "expr": "100*x"})])
    assert len(path_pieces(steep)) == 1


def test_plot_is_clipped_and_uses_its_own_range():
    svg = render_svg([validate_command({"op": "plot", "expr": "x^2", "x_min": 0, "x_max": 2})])
    root = parse(svg)
    group = root.find(f"{SVG}g[@data-layer='shapes']")
    clip = root.find(f".//{SVG}clipPath")
    assert group.get("clip-path") == f"url(#{clip.get('id')})"
    xs = [x for piece in path_pieces(svg) for x, _ in piece]
    assert min(xs) == pytest.approx(180) and max(xs) == pytest.approx(180 + 2 * 17)


def test_plot_of_nowhere_defined_expression_draws_nothing():
    svg = render_svg([validate_command({"op": "plot", "expr": "sqrt(-1 - x^2)"})])
    assert parse(svg).find(f".//{SVG}path") is None


def test_clear_wipes_what_came_before():
    a = validate_command({"op": "point", "x": 1, "y": 1, "label": "A"})
    b = validate_command({"op": "point", "x": 2, "y": 2, "label": "B"})
    axes = validate_command({"op": "axes", "x_min": 0, "x_max": 4, "y_min": 0, "y_max": 4})
    svg = render_svg([axes, a, validate_command({"op": "clear"}), b])
    assert svg == render_svg([b])
    assert "A" not in texts_of(parse(svg))


def test_latest_axes_sets_the_transform():
    first = validate_command({"op": "axes", "x_min": -10, "x_max": 10, "y_min": -10, "y_max": 10})
    second = validate_command({"op": "axes", "x_min": 0, "x_max": 100, "y_min": 0, "y_max": 50, "grid": True})
    point = validate_command({"op": "point", "x": 50, "y": 25})
    root = parse(render_svg([first, point, second]))
    circle = root.find(f".//{SVG}circle")
    assert (circle.get("cx"), circle.get("cy")) == ("180", "135")
    labels = texts_of(root)
    assert "40" in labels and "−5" not in labels


def test_circle_is_an_ellipse_only_when_scales_differ():
    circle = validate_command({"op": "circle", "x": 0, "y": 0, "r": 2})
    root = parse(render_svg([circle]))
    assert root.find(f".//{SVG}ellipse") is not None
    equal = validate_command({"op": "axes", "x_min": -17, "x_max": 17, "y_min": -12.5, "y_max": 12.5})
    root = parse(render_svg([equal, circle]))
    assert root.find(f".//{SVG}ellipse") is None
    assert root.find(f".//{SVG}g/{SVG}circle").get("r") == "20"


def test_arrows_and_vectors_have_heads():
    commands = [validate_command({"op": "arrow", "x1": 0, "y1": 0, "x2": 5, "y2": 5}),
                validate_command({"op": "vector", "x2": -5, "y2": 2, "color": "purple"})]
    root = parse(render_svg(commands))
    heads = root.findall(f".//{SVG}polygon")
    assert len(heads) == 2 and heads[1].get("fill") == "#7c3aed"
    shafts = root.findall(f".//{SVG}g/{SVG}line")
    assert (shafts[1].get("x1"), shafts[1].get("y1")) == ("180", "135")


def test_rendering_is_deterministic():
    commands, _ = validate_commands(VALID, 10)
    assert render_svg(commands) == render_svg(commands)


def test_svg_embeds_as_one_markdown_html_block():
    commands, _ = validate_commands(VALID[:-1], 10)
    svg = render_svg(commands, title="t")
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "\n\n" not in svg and not any(line.startswith((" ", "\t")) for line in svg.splitlines())


def test_commands_until():
    commands, _ = validate_commands([
        {"op": "axes", "x_min": 0, "x_max": 1, "y_min": 0, "y_max": 1},
        {"op": "point", "x": 0.5, "y": 0.5, "at_char": 10},
        {"op": "text", "x": 0, "y": 0, "text": "fin", "at_char": 30},
    ], 100)
    assert [c["op"] for c in commands_until(commands, 0)] == ["axes"]
    assert [c["op"] for c in commands_until(commands, 10)] == ["axes", "point"]
    assert [c["op"] for c in commands_until(commands, 29)] == ["axes", "point"]
    assert commands_until(commands, 30) == commands
    assert commands_until([], 5) == []
