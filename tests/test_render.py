"""Presentation helpers: safe Markdown for streamed text, the explanation view model, labels."""
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.content.canvas import validate_command
from core.content.library import load_lessons
from core.content.mathtext import unbalanced_delimiters
from core.content.svg import render_svg
from ui.render import (
    ExplanationView,
    duration_label,
    event_error_message,
    file_stem,
    local_time,
    message_markdown,
    plain_markdown,
    progress_label,
    step_markdown,
)

LESSONS = load_lessons()
CONTENTS = [step.content for lesson in LESSONS for step in lesson.answer.steps]


# --- formulas are never half-shown --------------------------------------------------------------------------

@hsettings(max_examples=300, deadline=None)
@given(st.sampled_from(CONTENTS), st.integers(min_value=0, max_value=4000))
def test_a_prefix_of_a_lesson_never_shows_half_a_formula(content, n):
    shown = step_markdown(content[:n])
    assert content.startswith(shown)  # never more than was reached, never anything else
    assert unbalanced_delimiters(shown) == []


def test_an_open_formula_is_held_back_until_it_closes():
    assert step_markdown("The area is $\\pi r") == "The area is "
    assert step_markdown("The area is $\\pi r^2$") == "The area is $\\pi r^2$"
    assert step_markdown("So $$x = 5") == "So "
    assert step_markdown("So \\[x = 5") == "So "


def test_backslash_delimiters_become_dollars():
    assert step_markdown("Inline \\(x^2\\) and display \\[x = 1\\]") == "Inline $x^2$ and display $$x = 1$$"
    assert message_markdown("\\( a \\)") == "$a$"


def test_markdown_images_are_shown_as_text_not_fetched():
    assert "![" not in step_markdown("look ![x](http://example.org/t.png)")


@given(st.text(max_size=200))
def test_plain_markdown_leaves_no_markup_active(text):
    shown = plain_markdown(text)
    i = 0
    while i < len(shown):  # every special character comes escaped
        if shown[i] == "\\":
            i += 2
            continue
        assert shown[i] not in "<>*_`[]#$:|&!()"
        i += 1
    assert "\n" not in shown


def test_plain_markdown_escapes_html_and_directives():
    assert plain_markdown("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert\\(1\\)\\>"
    assert plain_markdown(":red[hi] **b**") == "\\:red\\[hi\\] \\*\\*b\\*\\*"


# --- labels --------------------------------------------------------------------------------------------------

def test_progress_labels_in_both_languages():
    assert progress_label(2, 4, 60, "es") == "Paso 2 de 4 · ~1 min"
    assert progress_label(2, 4, 60, "en") == "Step 2 of 4 · ~1 min"
    assert progress_label(1, None, 200, "en") == "Step 1 · ~3 min"
    assert progress_label(3, 5, None, "es") == "Paso 3 de 5"


@pytest.mark.parametrize("seconds, label", [(None, ""), (0, ""), (12, "~10 s"), (3, "~5 s"), (44, "~45 s"),
                                            (60, "~1 min"), (89, "~1 min"), (91, "~2 min"), (226, "~4 min")])
def test_duration_label(seconds, label):
    assert duration_label(seconds, "en") == label


def test_error_event_message_in_the_interface_language():
    assert event_error_message({"code": "ai_failed", "message": "El tutor no…"}, "en").startswith("The tutor could not")
    # a message that needs parameters the event does not carry keeps the event's own text
    assert event_error_message({"code": "ai_invalid_output", "message": "La respuesta…"}, "en") == "La respuesta…"


def test_local_time_and_file_names():
    moment = datetime(2026, 1, 2, 13, 5)
    assert local_time(moment) == "2026-01-02 13:05"
    assert local_time(moment, "Europe/Madrid") == "2026-01-02 14:05"
    assert local_time(moment.replace(tzinfo=timezone.utc), "Nowhere/Unknown") == "2026-01-02 13:05"
    assert local_time(None) == ""
    assert file_stem("¿Cómo se calcula el área de un círculo?") == "como-se-calcula-el-area-de-un-circulo"
    assert file_stem("3º ESO B") == "3o-eso-b"
    assert file_stem("<<>>") == "tutor"


# --- the explanation view follows core's events exactly ------------------------------------------------------

def reveal_order(lesson):
    return [c for s in lesson.answer.steps for c in sorted(s.canvas_commands, key=lambda c: c.get("at_char", 0))]


@pytest.fixture
def reader(make_tutor):
    tutor = make_tutor()
    user = tutor.accounts.register("view@example.org", "otter-42-moss", language="es")
    return tutor, tutor.identity_of(user)


def test_view_built_from_events_equals_the_lesson(reader):
    tutor, me = reader
    lesson = next(l for l in LESSONS if l.question.language == "es" and
                  sum(len(s.canvas_commands) for s in l.answer.steps) > 5)
    state = tutor.ask(me, lesson.question.text)
    view = ExplanationView.from_snapshot(tutor.snapshot(me, state["id"]))
    changes = [view.apply(item) for item in tutor.stream(me, state["id"])]
    assert "start" in changes and changes[-1] == "complete"
    assert view.status == "complete" and view.total_steps == len(lesson.answer.steps)
    assert [s.text for s in view.steps] == [s.content for s in lesson.answer.steps]
    assert [s.title for s in view.steps] == [s.title for s in lesson.answer.steps]
    assert all(s.complete for s in view.steps)
    assert view.commands == reveal_order(lesson)
    assert view.board_svg() == render_svg(view.commands)
    reloaded = ExplanationView.from_snapshot(tutor.snapshot(me, state["id"]))
    assert reloaded.commands == view.commands and reloaded.board_svg() == view.board_svg()
    assert [s.markdown for s in view.steps] == [s.content for s in lesson.answer.steps]


def test_view_resumed_from_a_snapshot_continues_exactly(reader):
    tutor, me = reader
    lesson = LESSONS[0]
    state = tutor.ask(me, lesson.question.text, language=lesson.question.language)
    chunks = 0
    for item in tutor.stream(me, state["id"]):
        if item["event"] == "content_chunk":
            chunks += 1
            if chunks == 7:
                tutor.pause(me, state["id"])
    paused = ExplanationView.from_snapshot(tutor.snapshot(me, state["id"]))
    assert paused.status == "paused" and 0 < len("".join(s.text for s in paused.steps)) < lesson.answer.text_length
    tutor.resume(me, state["id"])
    for item in tutor.stream(me, state["id"]):
        paused.apply(item)
    assert paused.status == "complete"
    assert [s.text for s in paused.steps] == [s.content for s in lesson.answer.steps]
    assert paused.commands == reveal_order(lesson)


def test_pause_and_error_events_change_the_status():
    view = ExplanationView(session_id="s", status="streaming")
    assert view.apply({"event": "waiting_phrase", "data": {"message": "Casi listo…"}}) == "waiting"
    assert view.waiting == "Casi listo…"
    assert view.apply({"event": "explanation_start", "data": {"total_steps": None, "estimated_duration": 30}}) == "start"
    assert view.waiting is None and view.total_steps is None
    assert view.apply({"event": "streaming_paused", "data": {"step": 0, "position": 0}}) == "paused"
    assert view.status == "paused"
    assert view.apply({"event": "streaming_resumed", "data": {"step": 0, "position": 0}}) == "resumed"
    assert view.apply({"event": "error", "data": {"code": "ai_failed", "message": "x"}}) == "error"
    assert view.status == "error" and view.error["code"] == "ai_failed"
    assert view.apply({"event": "something_new", "data": {}}) is None


def test_board_text_is_escaped():
    command = validate_command({"op": "text", "x": 0, "y": 0, "text": "<script>alert(1)</script>"})
    view = ExplanationView(session_id="s", status="complete")
    view.apply({"event": "step_start", "data": {"step": 1, "title": "T", "type": "text"}})
    view.apply({"event": "canvas_command", "data": {"step": 1, "command": command}})
    svg = view.board_svg()
    assert "<script" not in svg and "&lt;script&gt;" in svg
