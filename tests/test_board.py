"""The live whiteboard (core.content.board): patches rebuild exactly the board ``render_svg`` draws, for every
board state of every lesson; the board is readable at 320 px and its labels do not collide."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from core.content.board import Board
from core.content.canvas import validate_command
from core.content.library import load_lessons
from core.content.svg import render_svg

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
