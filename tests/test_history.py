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
    session_id = read(tutor, ana, lesson)
    svg = tutor.history.board_svg(ana, session_id)
    assert ET.fromstring(svg).tag.endswith("svg")
    last = len(lesson.answer.steps)
    assert ET.fromstring(tutor.history.board_svg(ana, session_id, step=last)).tag.endswith("svg")
    with pytest.raises(NotFound) as error:
        tutor.history.board_svg(ana, session_id, step=last + 1)
    assert error.value.code == "step_not_found" and str(last + 1) in error.value.message_for("es")


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


PITAGORAS = LESSONS[6]  # "¿Cómo se calcula la hipotenusa con el teorema de Pitágoras?"


def test_search_ignores_accents_and_case_on_both_backends(world):
    tutor, ana, _ = world
    assert "Pitágoras" in PITAGORAS.question.text
    found = read(tutor, ana, PITAGORAS, chunks=1)
    read(tutor, ana, LESSONS[0], chunks=1)
    chat = tutor.chats.create(ana, title="Dudas de CÁLCULO")["id"]
    for search in ("pitagoras", "PITÁGORAS", "Pitágoras", "  teorema de pitagoras "):
        assert [s["id"] for s in tutor.history.sessions(ana, search=search)] == [found], search
    assert [s["id"] for s in tutor.history.sessions(ana, search="CALCUL")] == [chat, found]


def test_search_takes_percent_and_underscore_as_text(world):
    tutor, ana, _ = world
    read(tutor, ana, LESSONS[0], chunks=1)
    percent = tutor.chats.create(ana, title="Un 50% de descuento")["id"]
    under = tutor.chats.create(ana, title="La variable x_1")["id"]
    assert [s["id"] for s in tutor.history.sessions(ana, search="%")] == [percent]
    assert [s["id"] for s in tutor.history.sessions(ana, search="_")] == [under]
    assert tutor.history.sessions(ana, search="%_%") == []


def test_search_length_is_capped(world):
    tutor, ana, _ = world
    read(tutor, ana, LESSONS[0], chunks=1)
    assert tutor.history.sessions(ana, search="x" * 200) == []
    for search in ("x" * 201, "ecuación" * 7_500):
        with pytest.raises(InvalidInput) as refused:
            tutor.history.sessions(ana, search=search)
        assert refused.value.code == "search_too_long" and "200" in refused.value.message_for("es")
    teacher = tutor.identity_of(tutor.accounts.register("teo@example.org", "otter-42-moss", role="teacher"))
    with pytest.raises(InvalidInput, match="200"):
        tutor.curation.answers(teacher, search="x" * 60_000)


@pytest.mark.parametrize("bad", ["not-a-uuid", "abc", "", "1 or 1=1", "%", "x" * 60_000,
                                 "00000000-0000-0000-0000-00000000000G", "{12345678-1234-5678-1234-567812345678}",
                                 "12345678-1234-5678-1234-56781234567A"])
def test_ids_that_are_not_ids_are_not_found(world, bad):
    tutor, ana, _ = world
    explanation_calls = [lambda: tutor.snapshot(ana, bad), lambda: tutor.pause(ana, bad),
                         lambda: tutor.resume(ana, bad), lambda: list(tutor.stream(ana, bad)),
                         lambda: tutor.history.delete(ana, bad), lambda: tutor.history.export_markdown(ana, bad),
                         lambda: tutor.history.board_svg(ana, bad), lambda: tutor.history.rating(ana, bad),
                         lambda: tutor.history.rate(ana, bad, helpful=True),
                         lambda: tutor.chats.create(ana, explanation_id=bad)]
    chat_calls = [lambda: tutor.chats.history(ana, bad), lambda: tutor.chats.send(ana, bad, "Hola")]
    for calls, code in ((explanation_calls, "session_not_found"), (chat_calls, "chat_not_found")):
        for call in calls:
            with pytest.raises(NotFound) as missing:
                call()
            assert missing.value.code == code
    assert tutor.history.sessions(ana) == [], "nothing was created"
