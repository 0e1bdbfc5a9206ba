import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from core.content.library import load_lessons
from core.errors import Forbidden, InvalidInput, NotFound
from core.platform import db

LESSONS = load_lessons()


@pytest.fixture
def world(make_tutor, backend):
    tutor = make_tutor(**backend)
    ana = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    eve = tutor.identity_of(tutor.accounts.register("eve@example.org", "otter-42-moss"))
    return tutor, ana, eve


def read(tutor, me, lesson, chunks=None):
    state = tutor.ask(me, lesson.question.text, language=lesson.question.language)
    count = 0
    for item in tutor.stream(me, state["id"]):
        if item["event"] == "content_chunk":
            count += 1
            if count == chunks:
                tutor.pause(me, state["id"])
    return state["id"]


def test_sessions_newest_first_and_searchable(world):
    tutor, ana, eve = world
    first = read(tutor, ana, LESSONS[0])
    second = read(tutor, ana, LESSONS[1], chunks=2)
    read(tutor, eve, LESSONS[2])
    listed = tutor.history.sessions(ana)
    assert [s["id"] for s in listed] == [second, first]
    assert listed[0]["status"] == "paused" and listed[1]["status"] == "complete"
    word = LESSONS[1].question.text.split()[-1].strip("?¿").upper()
    assert [s["id"] for s in tutor.history.sessions(ana, search=word)] == [second]
    assert tutor.history.sessions(ana, search="zzzz-nothing") == []


def test_export_keeps_the_maths_and_stops_where_the_reader_stopped(world):
    tutor, ana, _ = world
    complete = read(tutor, ana, LESSONS[0])
    markdown = tutor.history.export_markdown(ana, complete)
    for step in LESSONS[0].answer.steps:
        assert step.content in markdown and step.title in markdown
    assert "$" in markdown
    partial = read(tutor, ana, LESSONS[0], chunks=2)
    position = tutor.snapshot(ana, partial)["position"]
    text = "".join(s.content for s in LESSONS[0].answer.steps)
    assert text[:position].strip()[-20:] in tutor.history.export_markdown(ana, partial)
    assert text[position:].strip()[:40] not in tutor.history.export_markdown(ana, partial)


def test_board_svg_is_well_formed(world):
    tutor, ana, _ = world
    lesson = next(l for l in LESSONS if any(s.canvas_commands for s in l.answer.steps))
    svg = tutor.history.board_svg(ana, read(tutor, ana, lesson))
    assert ET.fromstring(svg).tag.endswith("svg")


def test_delete_and_ownership(world):
    tutor, ana, eve = world
    session_id = read(tutor, ana, LESSONS[0])
    for action in (lambda: tutor.history.delete(eve, session_id),
                   lambda: tutor.history.export_markdown(eve, session_id),
                   lambda: tutor.history.rate(eve, session_id, helpful=True)):
        with pytest.raises(Forbidden):
            action()
    tutor.history.delete(ana, session_id)
    assert tutor.history.sessions(ana) == []
    with pytest.raises(NotFound):
        tutor.history.delete(ana, session_id)


def test_ratings(world):
    tutor, ana, _ = world
    session_id = read(tutor, ana, LESSONS[0])
    tutor.history.rate(ana, session_id, helpful=False, comment="No entiendo el paso 2")
    tutor.history.rate(ana, session_id, helpful=True, comment="Ahora sí")
    assert tutor.history.rating(ana, session_id) == {"helpful": True, "comment": "Ahora sí"}
    with tutor.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.ratings)).scalar() == 1
    for bad in ({"helpful": "yes"}, {"helpful": True, "comment": "<script>x</script>"},
                {"helpful": True, "comment": "x" * 2000}):
        with pytest.raises(InvalidInput):
            tutor.history.rate(ana, session_id, **bad)
    assert tutor.history.rating(ana, session_id)["comment"] == "Ahora sí"
