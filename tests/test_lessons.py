"""The lessons say what their boards show, and their maths holds (fixes from review, issue 9)."""
import json
import math
import re
import xml.etree.ElementTree as ET
from importlib import resources

import pytest

from core.content.board import HEIGHT, MARGIN, WIDTH  # render_svg's default board, as the pages draw it
from core.content.library import load_lessons
from core.content.svg import render_svg

LESSONS = {lesson.name[:2]: lesson for lesson in load_lessons()}


def step(number: str, index: int) -> str:
    return LESSONS[number].answer.steps[index - 1].content


def boards(lesson):
    """The board after each step that draws, as the student sees it (commands accumulate across steps)."""
    drawn = []
    for number, one in enumerate(lesson.answer.steps, start=1):
        drawn += one.canvas_commands
        if one.canvas_commands:
            yield number, list(drawn)


@pytest.mark.parametrize("lesson, number, present, absent", [
    ("27", 4, [r"\le F", "**dividido**", "tangente", "no da un valor mayor"], ["has confundido seno y coseno o"]),
    ("08", 2, ["red vertical segment"], ["dashed"]),
    ("13", 2, [r"$\Delta < 0$", "x(ax + b) = 0"], ["las raíces cuadradas se cancelan"]),
    ("11", 2, ["$n - 3$ diagonales", "$n - 2$ triángulos", "añade un trozo más"], []),
    ("11", 4, ["cuadrados", "triángulos equiláteros", "menos pared para encerrar la misma área"],
     ["Por eso las abejas construyen los panales con hexágonos: encajan"]),
    ("28", 4, ["lands at the same height it was thrown from"], []),
    ("26", 2, ["drawn to the same scale"], []),
    ("21", 1, [r"\frac{8}{3}", r"$40\ \%$"], ["un poco más"]),
    ("24", 2, ["At $x = 0$", "$5u^4$ depends on where you are"], []),
    ("23", 1, ["**indeterminación**"], ["que no tiene sentido"]),
])
def test_reviewed_lesson_texts(lesson, number, present, absent):
    text = step(lesson, number)
    assert all(phrase in text for phrase in present), [p for p in present if p not in text]
    assert not any(phrase in text for phrase in absent)


def test_lesson_17_shows_the_three_steps_it_announces():
    text = step("17", 2)
    assert "tres pasos" in text and all(f"**{n}.**" in text for n in (1, 2, 3))


def test_lesson_27_components_never_exceed_the_force():
    vector = next(c for c in LESSONS["27"].answer.steps[0].canvas_commands if c["op"] == "vector")
    force = math.hypot(vector["x2"], vector["y2"])
    assert force == pytest.approx(10, abs=0.01)
    assert abs(vector["x2"]) <= force and abs(vector["y2"]) <= force


def test_lesson_08_text_and_board_agree_on_the_height():
    segment = next(c for c in LESSONS["08"].answer.steps[1].canvas_commands if c["op"] == "segment")
    assert segment["color"] == "red" and segment["x1"] == segment["x2"]  # a solid red vertical segment
    assert "red vertical segment" in step("08", 2)


def test_no_lesson_mentions_a_line_style_the_board_cannot_draw():
    for lesson in LESSONS.values():
        for one in lesson.answer.steps:
            assert not re.search(r"dashed|dotted|discontinu|punteada", one.content, re.IGNORECASE), lesson.name


def test_lesson_26_force_arrows_are_proportional_to_their_forces():
    commands = [c for one in LESSONS["26"].answer.steps[1:3] for c in one.canvas_commands]
    axes = commands[0]
    texts = [c for c in commands if c["op"] == "text"]
    scales = {}
    for arrow in (c for c in commands if c["op"] == "arrow"):
        named = arrow.get("label") or next(t["text"] for t in texts if t["color"] == arrow["color"]
                                           and t["at_char"] == arrow["at_char"])
        newtons = float(re.search(r"(\d+) N", named).group(1))
        scales[named] = math.hypot(arrow["x2"] - arrow["x1"], arrow["y2"] - arrow["y1"]) / newtons
    assert len(scales) == 5 and max(scales.values()) == pytest.approx(min(scales.values()), rel=0.02)
    # Same pixels per unit across and up, so the drawn arrows are proportional too.
    across = (WIDTH - 2 * MARGIN) / (axes["x_max"] - axes["x_min"])
    up = (HEIGHT - 2 * MARGIN) / (axes["y_max"] - axes["y_min"])
    assert across == pytest.approx(up, rel=0.03)


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_board_texts_stay_inside_the_board(name):
    for number, commands in boards(LESSONS[name]):
        for element in ET.fromstring(render_svg(commands)).iter("{http://www.w3.org/2000/svg}text"):
            y, size, text = float(element.get("y")), float(element.get("font-size")), element.text
            assert y - 0.72 * size >= MARGIN - 1, (name, number, text, "cut at the top")
            assert y <= HEIGHT - MARGIN + 2, (name, number, text, "cut at the bottom")


def test_spanish_lessons_write_sine_as_sen():
    spanish = [lesson for lesson in LESSONS.values() if lesson.question.language == "es"]
    texts = "".join(one.content for lesson in spanish for one in lesson.answer.steps)
    assert r"\operatorname{sen}" in texts
    assert not re.search(r"\\sin\b|\\text\{sen\}|\\mathrm\{sen\}|\\arcsin", texts)


def test_lesson_files_keep_every_drawing_within_its_text():
    """``at_char`` is an offset into the step's text as written: never past its end (the loader would clamp it)."""
    for path in resources.files("core.content.lessons").iterdir():
        if path.name.endswith(".json"):
            for one in json.loads(path.read_text(encoding="utf-8"))["answer"]["steps"]:
                assert all(0 <= c.get("at_char", 0) <= len(one["content"]) for c in one["canvas_commands"]), path.name
