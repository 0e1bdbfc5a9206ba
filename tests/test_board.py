"""The live whiteboard (core.content.board): patches rebuild exactly the board ``render_svg`` draws, for every
board state of every lesson; the board is readable at 320 px and its labels do not collide."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from core.content import svg_shapes
from core.content.board import HEIGHT, WIDTH, Board
from core.content.canvas import validate_command
from core.content.library import load_lessons
from core.content.svg import render_svg
from core.content.svg_shapes import CHAR_WIDTH, text_box

NS = "http://www.w3.org/2000/svg"
SVG = "{" + NS + "}"
LESSONS = load_lessons()


def lesson_commands(lesson) -> list[dict]:
    """Every step's drawings of a lesson, in the order a student sees them (``clear`` included)."""
    return [c for step in lesson.answer.steps for c in sorted(step.canvas_commands, key=lambda c: c["at_char"])]


def fragment(markup: str) -> list[ET.Element]:
    """Parse SVG element markup on its own, as a client inserts it into an existing board."""
    return list(ET.fromstring(f'<svg xmlns="{NS}">{markup}</svg>'))


class Copy:
    """A client's copy of the board, patched with ElementTree the way the explanation component patches the DOM."""

    def __init__(self):
        self.root: ET.Element | None = None

    def apply(self, patch: dict) -> None:
        if patch["op"] == "reset":
            self.root = ET.fromstring(patch["svg"])
            return
        assert self.root is not None, "a patch before the first reset"
        if patch["op"] == "append":
            layer = self.root.find(f"{SVG}g[@data-layer='{patch['layer']}']")
            layer.extend(fragment(patch["svg"]))
        elif patch["op"] == "replace":
            parent, index = self.find(patch["id"])
            [element] = fragment(patch["svg"])
            parent[index] = element
        else:
            pytest.fail(f"unknown patch {patch['op']!r}")

    def find(self, slot: str) -> tuple[ET.Element, int]:
        for parent in self.root.iter():
            for index, child in enumerate(parent):
                if child.get("data-id") == slot:
                    return parent, index
        pytest.fail(f"no element with data-id={slot!r}")


def canonical(root: ET.Element) -> str:
    """The tree as markup without the whitespace between elements (the board has no mixed content)."""
    for element in root.iter():
        element.tail = None
        if element.text is not None and not element.text.strip():
            element.text = None
    return ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_patches_rebuild_every_board_state_exactly(lesson):
    commands = lesson_commands(lesson)
    board, copy = Board(key="k"), Copy()
    for end, command in enumerate(commands, start=1):
        for patch in board.add(command):
            copy.apply(patch)
        expected = render_svg(commands[:end], key="k")
        assert board.svg() == expected
        assert canonical(copy.root) == canonical(ET.fromstring(expected)), (lesson.name, end, command)


def patch_bytes(commands: list[dict]) -> tuple[int, int]:
    board = Board(key="k")
    sent = sum(len(json.dumps(patch, ensure_ascii=False).encode()) for c in commands for patch in board.add(c))
    return sent, len(board.svg().encode())


def test_patches_cost_a_small_multiple_of_the_final_board():
    totals = [patch_bytes(lesson_commands(lesson)) for lesson in LESSONS if lesson_commands(lesson)]
    sent, final = map(sum, zip(*totals))
    assert sent <= 2.5 * final, (sent, final)
    assert all(one <= 4 * board for one, board in totals), totals


def test_first_command_resets_then_drawings_append():
    board = Board(key="k")
    axes = validate_command({"op": "axes", "x_min": 0, "x_max": 4, "y_min": 0, "y_max": 3})
    assert [p["op"] for p in board.add(axes)] == ["reset"]
    patches = board.add(validate_command({"op": "point", "x": 1, "y": 1, "label": "A"}))
    assert [(p["op"], p["layer"]) for p in patches] == [("append", "shapes"), ("append", "labels")]
    assert [e.tag for e in fragment(patches[0]["svg"])] == [f"{SVG}circle"]
    assert [e.text for e in fragment(patches[1]["svg"])] == ["A"]


def test_axes_that_move_drawn_shapes_reset_and_others_replace_the_axes():
    board = Board(key="k")
    board.add(validate_command({"op": "point", "x": 1, "y": 1}))
    same = validate_command({"op": "axes", "x_min": -10, "x_max": 10, "y_min": -10, "y_max": 10, "grid": True})
    [patch] = board.add(same)
    assert patch["op"] == "replace" and patch["id"] == "_axes"
    moved = validate_command({"op": "axes", "x_min": 0, "x_max": 2, "y_min": 0, "y_max": 2})
    assert [p["op"] for p in board.add(moved)] == ["reset"]
    circle = ET.fromstring(board.svg()).find(f".//{SVG}circle")
    assert (circle.get("cx"), circle.get("cy")) == ("180", "135")


def test_clear_resets_to_an_empty_board():
    board = Board(key="k")
    board.add(validate_command({"op": "point", "x": 1, "y": 1, "label": "A"}))
    [patch] = board.add(validate_command({"op": "clear"}))
    assert patch["op"] == "reset" and patch["svg"] == render_svg([], key="k")
    assert [p["op"] for p in board.add(validate_command({"op": "text", "x": 0, "y": 0, "text": "B"}))] == ["append"]


def test_a_drawing_with_an_id_is_replaced_by_a_later_one():
    board, copy = Board(key="k"), Copy()
    question = validate_command({"op": "text", "x": 1, "y": 1, "text": "c = ?", "id": "c", "color": "red"})
    answer = validate_command({"op": "text", "x": 1, "y": 1, "text": "c = 5", "id": "c", "color": "green"})
    for patch in board.add(question) + board.add(answer):
        copy.apply(patch)
    assert [p["op"] for p in board.add(answer)] == ["replace", "replace"]
    texts = [e.text for e in copy.root.iter(f"{SVG}text")]
    assert "c = 5" in texts and "c = ?" not in texts
    assert canonical(copy.root) == canonical(ET.fromstring(board.svg()))


def test_two_boards_get_different_clip_ids_and_keep_theirs():
    first, second = Board(), Board()
    ids = []
    for board in (first, second):
        board.add(validate_command({"op": "point", "x": 1, "y": 1}))
        board.add(validate_command({"op": "axes", "x_min": 0, "x_max": 2, "y_min": 0, "y_max": 2}))
        board.add(validate_command({"op": "clear"}))
        ids.append(ET.fromstring(board.svg()).find(f".//{SVG}clipPath").get("id"))
    assert ids[0] != ids[1]
    assert ET.fromstring(first.svg()).find(f".//{SVG}clipPath").get("id") == ids[0]


# --- readable on any screen --------------------------------------------------------------------------------------

def board_states(lesson):
    """The board at the end of each step that draws (before a later ``clear`` wipes it)."""
    drawn = []
    for step in lesson.answer.steps:
        drawn += sorted(step.canvas_commands, key=lambda c: c["at_char"])
        if step.canvas_commands:
            yield ET.fromstring(render_svg(drawn))


ALL_STATES = [(lesson.name, root) for lesson in LESSONS for root in board_states(lesson)]
SMALLEST_SCREEN = 320  # CSS px: the explanation component never shows the board narrower


def test_every_text_is_at_least_12_css_px_on_a_320_px_board():
    sizes = {}
    for name, root in ALL_STATES:
        width = float(root.get("viewBox").split()[2])
        for text in root.iter(f"{SVG}text"):
            sizes[(name, text.text)] = float(text.get("font-size")) * SMALLEST_SCREEN / width
    assert len(sizes) > 200
    assert min(sizes.values()) >= 12, sorted(sizes.items(), key=lambda item: item[1])[:5]


def label_boxes(root: ET.Element) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The estimated box of every label (texts with a halo: labels, text commands, axis names)."""
    boxes = []
    for text in root.iter(f"{SVG}text"):
        if text.get("paint-order") != "stroke":
            continue
        size, x = float(text.get("font-size")), float(text.get("x"))
        width = len(text.text) * CHAR_WIDTH * size
        left = {"middle": x - width / 2, "end": x - width}.get(text.get("text-anchor"), x)
        boxes.append((text.text, text_box(left, float(text.get("y")), width, size)))
    return boxes


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_no_two_labels_overlap_and_none_leaves_the_board():
    collisions, outside, labels = [], [], 0
    for name, root in ALL_STATES:
        boxes = label_boxes(root)
        labels += len(boxes)
        collisions += [(name, a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:]
                       if overlap(box, other)]
        outside += [(name, text) for text, box in boxes
                    if box[0] < 0 or box[1] < 0 or box[2] > WIDTH or box[3] > HEIGHT]
    assert labels > 150
    assert collisions == [] and outside == []


def test_labels_have_a_white_halo_and_the_board_a_painted_background():
    _, root = ALL_STATES[0]
    labels = list(root.find(f"{SVG}g[@data-layer='labels']").iter(f"{SVG}text"))
    assert labels and all(t.get("stroke") == "#ffffff" and t.get("paint-order") == "stroke" for t in labels)
    background = root.find(f"{SVG}rect")
    assert background.get("fill") == "#ffffff" and float(background.get("width")) >= WIDTH - 1


def test_labels_move_away_from_earlier_labels():
    point = {"op": "point", "x": 0, "y": 0, "label": "A long label"}
    root = ET.fromstring(render_svg([validate_command(point), validate_command(point)]))
    [(_, first), (_, second)] = label_boxes(root)
    assert not overlap(first, second)


def test_a_lesson_can_name_its_axes_hide_the_ticks_or_hide_the_axes():
    bounds = {"op": "axes", "x_min": 0, "x_max": 5, "y_min": 0, "y_max": 40}
    named = ET.fromstring(render_svg([validate_command({**bounds, "x_label": "t (s)", "y_label": "v (m/s)"})]))
    texts = [t.text for t in named.iter(f"{SVG}text")]
    assert {"t (s)", "v (m/s)", "20"} <= set(texts) and "x" not in texts and "y" not in texts
    plain = ET.fromstring(render_svg([validate_command({**bounds, "ticks": False})]))
    assert [t.text for t in plain.iter(f"{SVG}text")] == ["x", "y"]
    hidden = ET.fromstring(render_svg([validate_command({**bounds, "visible": False}),
                                       validate_command({"op": "point", "x": 1, "y": 20})]))
    assert list(hidden.find(f"{SVG}g[@data-layer='axes']").iter(f"{SVG}line")) == []
    assert hidden.find(f".//{SVG}circle").get("cx") == "78"  # the coordinates still hold: 10 + 340 / 5


# --- plots are evaluated once -------------------------------------------------------------------------------------

def test_a_plot_is_compiled_and_sampled_once_per_expression_range_and_view(monkeypatch):
    compiled, evaluations = [], []
    real = svg_shapes.compile_expression

    def counting(expr):
        function = real(expr)
        compiled.append(expr)
        return lambda x: evaluations.append(x) or function(x)

    monkeypatch.setattr(svg_shapes, "compile_expression", counting)
    svg_shapes.sample_plot.cache_clear()
    axes = validate_command({"op": "axes", "x_min": -3, "x_max": 3, "y_min": -1, "y_max": 9})
    plot = validate_command({"op": "plot", "expr": "x^2", "label": "y = x²"})
    board = Board()
    for command in (axes, plot, validate_command({"op": "point", "x": 1, "y": 1, "label": "P"})):
        board.add(command)
    assert compiled == ["x^2"] and 201 <= len(evaluations) <= 220
    render_svg([axes, plot])
    render_svg([axes, {**plot, "color": "red"}])
    assert compiled == ["x^2"] and len(evaluations) <= 220
    render_svg([validate_command({**axes, "x_max": 4}), plot])  # another view: sampled again
    assert compiled == ["x^2", "x^2"]
