"""The teacher page (app_pages/teacher.py): AppTest on a class seeded through the facade, plus one real-browser check.

The class is seeded like tests/test_frames.py does: real asks, streams, pauses and ratings of library lessons
(``TUTOR_CHUNK_DELAY_MS=0``); the browser check adds a few past days of activity written with explicit dates, so
the per-day chart has a shape. Every number the page shows is compared with what core computes.

Set ``TUTOR_SCREENSHOTS=<folder>`` to also save ``teacher-overview.png`` and ``teacher-library.png``.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from app_support import PASSWORD, new_app, signed_in
from streamlit.testing.v1 import AppTest

from core import create_tutor
from core.content.library import load_lessons
from core.errors import AIError, Forbidden
from core.platform import db
from core.school.frames import to_csv
from ui.render import step_markdown
from ui.teacher_view import (
    MAX_BARS,
    ROW_PX,
    DrawingError,
    command_rows,
    commands_from_rows,
    count,
    csv_file_name,
    date_range,
    default_range,
    duration,
    percent,
    reasons_text,
    rows_frame,
    step_label,
)
from ui.texts import TEXTS, t

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "app_pages" / "teacher.py")
LESSONS = {lesson.name: lesson for lesson in load_lessons()}
ALGEBRA = LESSONS["01_ecuacion_segundo_grado"]
GEOMETRY = LESSONS["07_teorema_pitagoras"]
NEWTON = LESSONS["26_newton_second_law"]
TABS_ES = ["Resumen", "Dificultades", "Alumnos", "Valoraciones", "Respuestas", "Clases"]
TABS_EN = ["Overview", "Struggles", "Students", "Ratings", "Answer library", "Classes"]


# --- the seeded class -----------------------------------------------------------------------------------------------

def read(tutor, user, lesson, *, pause_after: int | None = None) -> dict:
    """Ask and stream; pause after ``pause_after`` chunks, else read to the end."""
    me = tutor.identity_of(user)
    state = tutor.ask(me, lesson.question.text)
    chunks = 0
    for item in tutor.stream(me, state["id"]):
        chunks += item["event"] == "content_chunk"
        if pause_after is not None and chunks == pause_after:
            return tutor.pause(me, state["id"])
    return tutor.snapshot(me, state["id"])


def seed(tutor, *, teacher_language: str = "es") -> SimpleNamespace:
    """Teo's class "3º ESO B" (Ana, Ben, Carla), Olga's class "4º ESO A" (Eva), a student of no class (Dan), and
    today's activity through the facade: Ana reads the algebra lesson (helpful) and asks it again, pausing; Ben
    pauses the geometry lesson, resumes it to the end (not helpful), then asks something with no answer and no
    provider (an AI error); Carla reads Newton's second law. Eva reads a lesson too: never in Teo's numbers."""
    register = lambda email, **kw: tutor.accounts.register(email, PASSWORD, **kw)  # noqa: E731
    w = SimpleNamespace(tutor=tutor)
    w.teacher = register("teo@example.org", role="teacher", name="Teo", language=teacher_language)
    w.other_teacher = register("olga@example.org", role="teacher", name="Olga", language="es")
    w.admin = register("admin@example.org", role="admin", name="Admin", language="es")
    w.klass = tutor.accounts.create_class(w.teacher, "3º ESO B")
    w.other_class = tutor.accounts.create_class(w.other_teacher, "4º ESO A")
    w.ana = register("ana@example.org", name="Ana", language="es", class_code=w.klass.join_code)
    w.ben = register("ben@example.org", name="Ben", language="es", class_code=w.klass.join_code)
    w.carla = register("carla@example.org", name="Carla", language="es", class_code=w.klass.join_code)
    w.eva = register("eva@example.org", name="Eva", language="es", class_code=w.other_class.join_code)
    w.dan = register("dan@example.org", name="Dan", language="es")

    ana, ben = tutor.identity_of(w.ana), tutor.identity_of(w.ben)
    first = read(tutor, w.ana, ALGEBRA)
    tutor.history.rate(ana, first["session_id"], helpful=True, comment="Muy clara")
    read(tutor, w.ana, ALGEBRA, pause_after=2)
    paused = read(tutor, w.ben, GEOMETRY, pause_after=1)
    tutor.resume(ben, paused["id"])
    assert list(tutor.stream(ben, paused["id"]))[-1]["event"] == "explanation_complete"
    tutor.history.rate(ben, paused["id"], helpful=False, comment="No entiendo el paso 2")
    with pytest.raises(AIError):
        tutor.ask(ben, "¿Cuánto es 2 + 2 en base 7?")
    read(tutor, w.carla, NEWTON)
    read(tutor, w.eva, GEOMETRY, pause_after=1)
    return w


def past_days(w: SimpleNamespace, days: int = 12) -> None:
    """A few earlier days of the class, written with explicit dates (as tests/test_frames.py does), so the chart
    of questions per day has a shape."""
    tutor = w.tutor
    today = dt.datetime.now(dt.timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0)
    students, lessons = [w.ana, w.ben, w.carla], [ALGEBRA, GEOMETRY, NEWTON]
    answers = {lesson.name: tutor.cache.lookup(lesson.question.hash).id for lesson in lessons}
    with tutor.engine.begin() as conn:  # the students were in the class by then (only activity since joining counts)
        conn.execute(db.memberships.update().values(joined_at=today - dt.timedelta(days=days + 1)))
    for back in range(1, days + 1):
        when = today - dt.timedelta(days=back)
        for index in range((back * 7) % 4 + 1):
            user, lesson = students[(back + index) % 3], lessons[(back * 2 + index) % 3]
            session_id = db.new_id()
            done = (back + index) % 3 != 0
            with tutor.engine.begin() as conn:
                conn.execute(db.tutor_sessions.insert().values(
                    id=session_id, user_id=user.id, kind="explanation", title=lesson.question.text,
                    question=lesson.question.text, question_hash=lesson.question.hash, language="es",
                    status="complete" if done else "paused", step=len(lesson.answer.steps) if done else 2,
                    position=0, created_at=when, updated_at=when + dt.timedelta(minutes=3),
                    answer_id=answers[lesson.name]))
                events = [("question_asked", when, None, {"question": lesson.question.text, "language": "es"}),
                          ("cache_hit", when, None, {})]
                events.append(("complete", when + dt.timedelta(minutes=3), len(lesson.answer.steps), {}) if done
                              else ("pause", when + dt.timedelta(minutes=1), 2, {}))
                for kind, at, step, data in events:
                    conn.execute(db.events.insert().values(kind=kind, user_id=user.id, session_id=session_id,
                                                           step=step, created_at=at,
                                                           question_hash=lesson.question.hash, data=data))


# --- AppTest fixtures and helpers -----------------------------------------------------------------------------------

@pytest.fixture
def settings(app_settings):
    return app_settings


@pytest.fixture
def tutor(settings, make_tutor):
    return make_tutor(**settings)


@pytest.fixture
def world(tutor):
    return seed(tutor)


@pytest.fixture
def media(monkeypatch):
    """The files the app under AppTest offers for download (its in-memory media storages)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    storages = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            storages.append(self)

    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", Recording)

    def get(url: str):
        name = url.rsplit("/", 1)[-1]
        for storage in reversed(storages):
            try:
                return storage.get_file(name)
            except Exception:
                continue
        raise KeyError(url)

    return get


def teacher_page(email: str = "teo@example.org") -> AppTest:
    at = signed_in(email)
    at.switch_page("app_pages/teacher.py").run()
    assert not at.exception, at.exception
    return at


def last_30_days() -> tuple[dt.date, dt.date]:
    return default_range(dt.datetime.now(dt.timezone.utc).date())


def me(world, user):
    return world.tutor.identity_of(user)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def download_keys(at) -> list[str]:
    return [b.key for b in at.download_button]


def table_keys(at) -> list[str]:
    """The page's tables (containers keyed ``teacher_table_<name>`` holding a dataframe), in page order."""
    return [node.key for node in at if (getattr(node, "key", None) or "").startswith("teacher_table_")]


def frame_of(at, name: str):
    """What the page shows in table ``name`` (a display copy of core's frame)."""
    return at.get_by_key(f"teacher_table_{name}").dataframe[0].value


def select_answer(at, answer_id: str) -> AppTest:
    at.selectbox(key="teacher_answer").set_value(answer_id).run()
    assert not at.exception, at.exception
    return at


def shown_markdown(at, key: str) -> list[str]:
    return [m.value for m in at.get_by_key(key).markdown]


# --- the analytics ----------------------------------------------------------------------------------------------------

def test_the_kpis_are_the_ones_core_computes(world):
    at = teacher_page()
    start, end = last_30_days()
    kpis = world.tutor.frames.kpis(me(world, world.teacher), world.klass.id, start, end)
    assert kpis["students"] == 3 and kpis["active_students"] == 3 and kpis["questions"] == 4
    assert kpis["ai_errors"] >= 1
    assert metrics(at) == {
        "Estudiantes activos": f"{kpis['active_students']} / {kpis['students']}",
        "Preguntas": str(kpis["questions"]),
        "Desde la caché": percent(kpis["cache_hit_rate"], "es"),
        "Terminadas": percent(kpis["completion_rate"], "es"),
        "Tiempo medio": duration(kpis["avg_time_to_complete_s"]),
        "Errores de IA": str(kpis["ai_errors"]),
    }
    assert at.selectbox(key="teacher_class").value == world.klass.id
    assert at.date_input(key="teacher_range").value == (start, end)
    assert [tab.label for tab in at.tabs][:6] == TABS_ES


def test_every_tab_renders_and_every_table_has_a_csv_under_it(world, media):
    at = teacher_page()
    at.selectbox(key="teacher_student").set_value(world.ben.id).run()
    answer_id = world.tutor.cache.lookup(GEOMETRY.question.hash).id
    select_answer(at, answer_id)
    assert not at.exception and not [e.value for e in at.error]
    tables = table_keys(at)
    assert tables == ["teacher_table_top_questions", "teacher_table_topics", "teacher_table_match_decisions",
                      "teacher_table_struggles",
                      "teacher_table_needing_help", "teacher_table_student_sessions",
                      "teacher_table_student_questions", "teacher_table_student_pauses",
                      "teacher_table_student_ratings", "teacher_table_ratings", "teacher_table_answers",
                      "teacher_table_versions", "teacher_table_credits"]
    csvs = download_keys(at)
    assert csvs == ["teacher_csv_per_day"] + [k.replace("teacher_table_", "teacher_csv_") for k in tables]
    assert all(b.label == "Descargar CSV" for b in at.download_button)

    # each button serves core's CSV of that frame (to_csv), as text/csv, named after the class and the dates
    start, end = last_30_days()
    teo = me(world, world.teacher)
    frames = world.tutor.frames
    expected = {
        "teacher_csv_per_day": frames.questions_per_day(teo, world.klass.id, start, end),
        "teacher_csv_top_questions": frames.top_questions(teo, world.klass.id, start, end),
        "teacher_csv_struggles": frames.struggle_points(teo, world.klass.id, start, end),
        "teacher_csv_needing_help": readable(frames.students_needing_help(teo, world.klass.id, start, end)),
        "teacher_csv_ratings": frames.ratings(teo, world.klass.id, start, end),
        "teacher_csv_student_pauses": frames.student_detail(teo, world.klass.id, world.ben.id, start, end).pauses,
    }
    for key, frame in expected.items():
        served = media(at.download_button(key=key).proto.url)
        assert served.mimetype == "text/csv", key
        assert served.content == to_csv(frame), key
    served = media(at.download_button(key="teacher_csv_top_questions").proto.url)
    assert served.filename == csv_file_name(world.klass.name, "top_questions", start, end) == \
        f"3o-eso-b-top-questions-{start}-{end}.csv"
    assert served.content.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the accents


def test_the_overview_shows_how_answers_were_found_in_spanish(world, media):
    """Ana's reworded question is served by meaning; the table says so in Spanish and its CSV is core's frame."""
    state = world.tutor.ask(me(world, world.ana), "Una ecuación de segundo grado, ¿cómo se resuelve?")
    assert state["question_hash"] == ALGEBRA.question.hash
    at = teacher_page()
    assert "Cómo se encontraron las respuestas" in [h.value for h in at.subheader]
    shown = frame_of(at, "match_decisions")
    assert shown[["how", "questions"]].values.tolist() == [
        ["Misma pregunta", 4], ["Mismo significado", 1], ["Pregunta parecida", 0], ["Generada", 0]]
    config = json.loads(at.get_by_key("teacher_table_match_decisions").dataframe[0].proto.columns)
    assert [config[c]["label"] for c in ("how", "questions", "share", "avg_score")] == [
        "Cómo", "Número", "Proporción", "Parecido medio (0–100)"]
    start, end = last_30_days()
    frame = world.tutor.frames.match_decisions(me(world, world.teacher), world.klass.id, start, end)
    assert frame["how"].tolist() == ["exact", "canonical", "similar", "generated"]
    served = media(at.download_button(key="teacher_csv_match_decisions").proto.url)
    assert served.content == to_csv(frame) and at.download_button(key="teacher_csv_match_decisions").label == \
        "Descargar CSV"


def test_struggles_students_and_ratings_show_core_frames(world):
    at = teacher_page()
    start, end = last_30_days()
    teo = me(world, world.teacher)
    frames = world.tutor.frames

    points = frames.struggle_points(teo, world.klass.id, start, end)
    assert len(points) >= 2 and frame_of(at, "struggles")["pauses"].tolist() == points["pauses"].tolist()
    assert at.get_by_key("teacher_chart_struggles")

    needing = frames.students_needing_help(teo, world.klass.id, start, end)
    table = frame_of(at, "needing_help")
    assert table["email"].tolist() == needing["email"].tolist()
    assert set(needing["email"]) == {"ana@example.org", "ben@example.org"}  # Carla read without trouble
    assert table["reasons"].tolist() == readable(needing)["reasons"].tolist()
    assert all(text for text in table["reasons"])

    # the drill-down lists only this class's students and shows core's student_detail
    options = at.selectbox(key="teacher_student").options
    assert len(options) == 3 and not any("eva@" in o or "dan@" in o for o in options)
    at.selectbox(key="teacher_student").set_value(world.ana.id).run()
    detail = frames.student_detail(teo, world.klass.id, world.ana.id, start, end)
    sessions = frame_of(at, "student_sessions")
    assert sessions["session_id"].tolist() == detail.sessions["session_id"].tolist()
    assert len(sessions) == 2

    ratings = frames.ratings(teo, world.klass.id, start, end)
    shown = frame_of(at, "ratings")
    assert shown["comment"].tolist() == ratings["comment"].tolist()
    assert sorted(shown["helpful"].tolist()) == ["No", "Sí"]


def test_the_date_range_filters_the_numbers(world):
    at = teacher_page()
    long_ago = (dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    at.date_input(key="teacher_range").set_value(long_ago).run()
    assert not at.exception
    kpis = world.tutor.frames.kpis(me(world, world.teacher), world.klass.id, *long_ago)
    assert kpis["questions"] == 0
    assert metrics(at)["Preguntas"] == "0" and metrics(at)["Desde la caché"] == "—"
    assert metrics(at)["Estudiantes activos"] == "0 / 3"
    assert "Nadie ha pausado ni abandonado una explicación en estas fechas." in [i.value for i in at.info]
    csv = at.download_button(key="teacher_csv_per_day")
    assert csv.label == "Descargar CSV"


def readable(needing, language="es"):
    """``students_needing_help`` as the page shows it and downloads it: the reasons in words."""
    shown = needing.copy()
    shown["reasons"] = [reasons_text(row["reasons"], row, language) for row in needing.to_dict("records")]
    return shown


def test_reasons_in_words_heaviest_first_in_both_languages():
    ben = {"pauses": 0, "repeated_questions": 0, "abandoned": 1, "unhelpful_ratings": 1}
    ana = {"pauses": 3, "repeated_questions": 0, "abandoned": 2, "unhelpful_ratings": 0}
    assert reasons_text(("abandoned", "unhelpful_ratings"), ben, "es") == \
        "1 explicación abandonada · 1 valoración negativa"
    assert reasons_text(("abandoned", "unhelpful_ratings"), ben, "en") == \
        "1 abandoned explanation · 1 “not helpful” rating"
    assert reasons_text(("abandoned", "pauses"), ana, "es") == "2 explicaciones abandonadas · 3 pausas"
    assert reasons_text(("abandoned", "pauses"), ana, "en") == "2 abandoned explanations · 3 pauses"
    assert reasons_text((), ana, "en") == ""


def test_english_labels(tutor):
    seed(tutor, teacher_language="en")
    at = teacher_page()
    assert [tab.label for tab in at.tabs][:6] == TABS_EN
    assert set(metrics(at)) == {"Active students", "Questions", "Cache hit rate", "Completion rate", "Average time",
                                "AI errors"}
    assert at.download_button[0].label == "Download CSV"


# --- who may see what -----------------------------------------------------------------------------------------------

def test_a_teacher_with_no_classes_gets_a_friendly_empty_state(tutor):
    tutor.accounts.register("new@example.org", PASSWORD, role="teacher", name="Nueva", language="es")
    at = teacher_page("new@example.org")
    assert [i.value for i in at.info][0] == "Todavía no tienes clases. Crea una y comparte su código."
    assert not at.metric and not at.tabs and not at.date_input
    assert at.text_input(key="class_name") and "class_create" in [b.key for b in at.button]
    assert at.get_by_key("teacher_table_answers")  # the answer library is still there
    at.text_input(key="class_name").input("Física 1")
    at.button(key="class_create").click().run()
    assert not at.exception
    [klass] = tutor.accounts.classes_of(tutor.accounts.by_email("new@example.org"))
    assert any(s.value == f"Clase creada. Código: {klass.join_code}" for s in at.success)
    assert klass.join_code in [c.value for c in at.code]
    assert at.selectbox(key="teacher_class").value == klass.id
    # nobody has joined yet: the page opens on the Classes tab, with the join code
    assert metrics(at)["Estudiantes activos"] == "0 / 0"


def test_a_teacher_cannot_select_another_teachers_class(world):
    at = teacher_page("olga@example.org")
    picker = at.selectbox(key="teacher_class")
    assert picker.options == [world.other_class.name] and picker.value == world.other_class.id
    assert metrics(at)["Estudiantes activos"] == "1 / 1"

    # forged in the session: Teo's class is not one of hers (a fresh tab, so the widget has no state yet)
    at = new_app()
    at.session_state["token"] = world.tutor.token_for(world.other_teacher)
    at.run()
    at.session_state["teacher_class"] = world.klass.id
    at.switch_page("app_pages/teacher.py").run()
    assert not at.exception
    assert at.selectbox(key="teacher_class").value == world.other_class.id
    assert metrics(at)["Estudiantes activos"] == "1 / 1"  # still her class's numbers, not Teo's (3)
    emails = {e for d in at.dataframe if "email" in d.value for e in d.value["email"]}
    assert emails <= {"eva@example.org"}
    # and core refuses the class anyway
    start, end = last_30_days()
    with pytest.raises(Forbidden):
        world.tutor.frames.kpis(me(world, world.other_teacher), world.klass.id, start, end)


def test_an_admin_can_pick_any_class(world):
    at = teacher_page("admin@example.org")
    picker = at.selectbox(key="teacher_class")
    assert sorted(picker.options) == [world.klass.name, world.other_class.name]
    picker.set_value(world.klass.id).run()
    assert metrics(at)["Estudiantes activos"] == "3 / 3"


def test_a_student_gets_no_teacher_content(world):
    from ui.app import Who
    at = signed_in("ana@example.org")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/teacher.py")  # not even registered for a student

    # the page script itself, run for a student (who is a member of a class)
    page = AppTest.from_file(PAGE, default_timeout=60)
    page.session_state["_who"] = Who(tutor=world.tutor, identity=me(world, world.ana), lang="es")
    page.run()
    assert not page.exception
    assert [w.value for w in page.warning] == ["Esta página no está disponible para tu cuenta."]
    assert not page.metric and not page.tabs and not page.dataframe and not page.download_button
    assert not page.selectbox and not page.text_input and not page.code
    # core is the wall behind the page
    start, end = last_30_days()
    with pytest.raises(Forbidden):
        world.tutor.frames.kpis(me(world, world.ana), world.klass.id, start, end)
    with pytest.raises(Forbidden):
        world.tutor.curation.answers(me(world, world.ana))


# --- the answer library -----------------------------------------------------------------------------------------------

def test_the_library_lists_searches_and_previews_as_the_student_sees_it(world):
    at = teacher_page()
    teo = me(world, world.teacher)
    listing = frame_of(at, "answers")
    answers = world.tutor.curation.answers(teo)
    assert listing["id"].tolist() == [a["id"] for a in answers]
    assert listing["hits"].tolist() == [a["hits"] for a in answers]
    at.text_input(key="teacher_library_search").input("PITAGORAS").run()
    listing = frame_of(at, "answers")
    assert listing["id"].tolist() == [a["id"] for a in world.tutor.curation.answers(teo, search="PITAGORAS")]
    assert len(listing) >= 1

    answer_id = world.tutor.cache.lookup(GEOMETRY.question.hash).id
    select_answer(at, answer_id)
    preview = world.tutor.curation.get(teo, answer_id)["preview"]
    for step in preview:
        shown = shown_markdown(at, f"teacher_preview_step_{step['step']}")
        assert step_markdown(step["content"]) in shown
        assert any(m.startswith(f"##### {step['step']}. ") for m in shown)
        if step["svg"]:
            assert shown_markdown(at, f"teacher_board_{step['step']}") == [step["svg"]]
    assert at.text_input(key="teacher_step_1_title").value == GEOMETRY.answer.steps[0].title
    board = board_editor(at, 1).value
    assert commands_from_rows(board.to_dict("records")) == GEOMETRY.answer.to_json()["steps"][0]["canvas_commands"]
    assert json.loads(at.text_area(key="teacher_edit_json").value) == GEOMETRY.answer.to_json()["steps"]


def board_editor(at, number: int):
    """Step ``number``'s whiteboard table (its key carries the editor's generation)."""
    [table] = [d for d in at.data_editor if d.key.startswith(f"teacher_step_{number}_board_")]
    return table


def step_blocks(at) -> list[str]:
    return [node.key for node in at if (getattr(node, "key", None) or "").startswith("teacher_edit_step_")]


def errors_in(at, key: str) -> list[str]:
    return [e.value for e in at.get_by_key(key).error]


@pytest.fixture(params=["es", "en"])
def lang_world(request, tutor):
    return seed(tutor, teacher_language=request.param), request.param


EDITOR_TEXTS = {
    "es": {"saved": "Guardado como versión {v}.", "unchanged": "No había nada que cambiar.",
           "empty_title": "Paso 2 · título: está vacío.", "html": "Paso 1 · texto: no puede llevar HTML.",
           "drawing": "Paso 3 · pizarra, trazo 1: no es un trazo válido (r tiene que ser mayor que 0).",
           "points": "Paso 1 · pizarra, trazo 1: los puntos se escriben «x, y; x, y; x, y».",
           "json": "No es JSON válido (línea 1, columna 3).", "op": "círculo"},
    "en": {"saved": "Saved as version {v}.", "unchanged": "There was nothing to change.",
           "empty_title": "Step 2 · title: is empty.", "html": "Step 1 · text: may not contain HTML.",
           "drawing": "Step 3 · whiteboard, drawing 1: is not a valid drawing (r must be greater than 0).",
           "points": "Step 1 · whiteboard, drawing 1: points are written “x, y; x, y; x, y”.",
           "json": "This is not valid JSON (line 1, column 3).", "op": "circle"},
}


def test_the_editor_edits_a_step_with_a_live_preview_adds_a_drawing_and_saves_a_new_version(lang_world):
    world, lang = lang_world
    texts = EDITOR_TEXTS[lang]
    at = teacher_page()
    teo = me(world, world.teacher)
    answer_id = world.tutor.cache.lookup(GEOMETRY.question.hash).id
    select_answer(at, answer_id)
    before = world.tutor.curation.get(teo, answer_id)
    assert step_blocks(at) == [f"teacher_edit_step_{n}" for n in range(1, len(before["steps"]) + 1)]
    added = "\n\nNuevo: con $a = 3$ y $b = 4$ sale $c = 5$."
    at.text_area(key="teacher_step_2_content").input(before["steps"][1]["content"] + added).run()
    assert step_markdown(before["steps"][1]["content"] + added) in shown_markdown(at, "teacher_edit_preview_2")

    drawings = len(before["steps"][2]["canvas_commands"])
    new_op = at.selectbox(key="teacher_step_3_new_op")
    assert new_op.format_func("circle") == texts["op"]  # the ops in the page's language
    new_op.set_value("circle").run()
    at.button(key="teacher_step_3_add_drawing").click().run()
    assert not at.exception
    rows = board_editor(at, 3).value.to_dict("records")
    assert len(rows) == drawings + 1 and rows[-1]["op"] == "circle"
    assert at.text_area(key="teacher_step_2_content").value.endswith(added)  # the text edit survived the redraw
    circle = {"op": "circle", "x": 0.0, "y": 0.0, "r": 1.0, "color": "blue", "at_char": 0}
    drawn = world.tutor.curation.draw(teo, [*before["steps"][2]["canvas_commands"], circle])
    assert shown_markdown(at, "teacher_edit_board_3") == [drawn["svg"]] and not drawn["problems"]
    assert drawn["svg"] != world.tutor.curation.draw(teo, before["steps"][2]["canvas_commands"])["svg"]

    at.button(key="teacher_save").click().run()
    assert not at.exception and not [e.value for e in at.error]
    after = world.tutor.curation.get(teo, answer_id)
    assert after["version"] == before["version"] + 1 and after["source"] == "edited"
    assert after["steps"][1]["content"].endswith("sale $c = 5$.")
    assert circle in after["steps"][2]["canvas_commands"]
    assert texts["saved"].format(v=after["version"]) in [s.value for s in at.success]
    versions = frame_of(at, "versions")
    assert versions["version"].tolist() == [1, 2]
    assert versions["summary"].tolist()[-1] == {"es": "paso 2: texto, paso 3: pizarra",  # the teacher's language
                                                "en": "step 2 content, step 3 canvas"}[lang]

    at.button(key="teacher_save").click().run()  # nothing changed: nothing written
    assert world.tutor.curation.get(teo, answer_id)["version"] == after["version"]
    assert texts["unchanged"] in [i.value for i in at.info]


def test_a_refused_edit_is_shown_at_its_step_and_field_and_nothing_is_saved(lang_world):
    world, lang = lang_world
    texts = EDITOR_TEXTS[lang]
    at = teacher_page()
    teo = me(world, world.teacher)
    answer_id = world.tutor.cache.lookup(GEOMETRY.question.hash).id
    select_answer(at, answer_id)
    before = world.tutor.curation.get(teo, answer_id)

    at.text_input(key="teacher_step_2_title").input("   ")
    at.button(key="teacher_save").click().run()
    assert errors_in(at, "teacher_edit_step_2") == [texts["empty_title"]]
    assert not errors_in(at, "teacher_edit_step_1")
    assert at.text_input(key="teacher_step_2_title").value == "   "  # what the teacher typed is kept

    at.text_input(key="teacher_step_2_title").input("Los catetos")
    at.text_area(key="teacher_step_1_content").input("<script>alert(1)</script>")
    at.button(key="teacher_save").click().run()
    assert errors_in(at, "teacher_edit_step_1") == [texts["html"]]

    at.text_area(key="teacher_step_1_content").input(before["steps"][0]["content"])
    at.selectbox(key="teacher_step_3_new_op").set_value("circle").run()
    at.button(key="teacher_step_3_add_drawing").click().run()
    table = board_editor(at, 3)
    last = len(table.value) - 1
    at.session_state[table.key] = {"edited_rows": {last: {"r": -2.0}}, "added_rows": [], "deleted_rows": []}
    at.run()  # the table's edit, as the browser sends it
    at.button(key="teacher_save").click().run()
    [error] = errors_in(at, "teacher_edit_step_3")
    assert error == texts["drawing"].replace("trazo 1", f"trazo {last + 1}").replace("drawing 1", f"drawing {last + 1}")

    table = board_editor(at, 1)
    at.session_state[table.key] = {"edited_rows": {0: {"op": "polygon", "points": "0, 0; 3"}}, "added_rows": [],
                                   "deleted_rows": []}
    at.run()
    at.button(key="teacher_save").click().run()
    assert errors_in(at, "teacher_edit_step_1") == [texts["points"]]
    after = world.tutor.curation.get(teo, answer_id)
    assert (after["version"], after["steps"]) == (before["version"], before["steps"])
    assert world.tutor.curation.history(teo, answer_id)[-1]["version"] == before["version"]


def test_steps_can_be_added_moved_and_removed(world):
    at = teacher_page()
    teo = me(world, world.teacher)
    answer_id = world.tutor.cache.lookup(NEWTON.question.hash).id
    select_answer(at, answer_id)
    before = world.tutor.curation.get(teo, answer_id)["steps"]
    count = len(before)
    at.button(key="teacher_add_step").click().run()
    at.text_input(key=f"teacher_step_{count + 1}_title").input("Resumen")
    at.text_area(key=f"teacher_step_{count + 1}_content").input("Fuerza igual a masa por aceleración: $F = ma$.")
    at.run()
    at.button(key=f"teacher_step_{count + 1}_up").click().run()  # the new step goes before the last one
    assert at.text_input(key=f"teacher_step_{count}_title").value == "Resumen"
    assert at.text_input(key=f"teacher_step_{count + 1}_title").value == before[-1]["title"]
    assert commands_from_rows(board_editor(at, count + 1).value.to_dict("records")) == before[-1]["canvas_commands"]
    at.button(key="teacher_step_1_remove").click().run()
    assert at.text_input(key="teacher_step_1_title").value == before[1]["title"]
    at.button(key="teacher_save").click().run()
    assert not at.exception and not [e.value for e in at.error]
    after = world.tutor.curation.get(teo, answer_id)["steps"]
    assert [s["title"] for s in after] == [s["title"] for s in before[1:-1]] + ["Resumen", before[-1]["title"]]
    assert after[-1]["canvas_commands"] == before[-1]["canvas_commands"]


def test_the_advanced_tab_saves_json_and_points_at_a_syntax_error(lang_world):
    world, lang = lang_world
    at = teacher_page()
    teo = me(world, world.teacher)
    answer_id = world.tutor.cache.lookup(ALGEBRA.question.hash).id
    select_answer(at, answer_id)
    at.text_area(key="teacher_edit_json").input("[{").run()
    at.button(key="teacher_save_json").click().run()
    assert EDITOR_TEXTS[lang]["json"] in [e.value for e in at.error]
    steps = world.tutor.curation.get(teo, answer_id)["steps"]
    steps[0]["title"] = "Un título desde el JSON"
    at.text_area(key="teacher_edit_json").input(json.dumps(steps, ensure_ascii=False)).run()
    at.button(key="teacher_save_json").click().run()
    after = world.tutor.curation.get(teo, answer_id)
    assert after["version"] == 2 and after["steps"][0]["title"] == "Un título desde el JSON"
    assert at.text_input(key="teacher_step_1_title").value == "Un título desde el JSON"  # the form follows


def test_retire_asks_first_then_approve_brings_it_back(world):
    at = teacher_page()
    teo = me(world, world.teacher)
    answer_id = world.tutor.cache.lookup(NEWTON.question.hash).id
    select_answer(at, answer_id)
    at.button(key="teacher_retire").click().run()
    assert at.warning[0].value.startswith("¿Retirar esta respuesta?")
    at.button(key="teacher_retire_no").click().run()
    assert world.tutor.curation.get(teo, answer_id)["status"] == "approved"
    assert not at.warning

    at.button(key="teacher_retire").click().run()
    at.button(key="teacher_retire_yes").click().run()
    assert not at.exception
    assert world.tutor.curation.get(teo, answer_id)["status"] == "retired"
    assert "Respuesta retirada." in [s.value for s in at.success]
    assert "teacher_retire" not in [b.key for b in at.button]
    assert world.tutor.cache.lookup(NEWTON.question.hash) is None  # the cache no longer serves it

    at.button(key="teacher_approve").click().run()
    detail = world.tutor.curation.get(teo, answer_id)
    assert detail["status"] == "approved" and detail["version"] == 3
    assert "Respuesta aprobada: la caché la servirá." in [s.value for s in at.success]
    versions = frame_of(at, "versions")
    assert versions["action"].tolist() == ["Creada", "Retirada", "Aprobada"]

    at.segmented_control(key="teacher_library_status").set_value("retired").run()
    assert at.selectbox(key="teacher_answer").value is None  # the approved answer is not in that list
    listing = frame_of(at, "answers")
    assert len(listing) == 0 and "Ninguna respuesta coincide." in [i.value for i in at.info]


# --- classes and credits ----------------------------------------------------------------------------------------------

def failed_check_answer(tutor) -> str:
    from core.content.answers import validate_answer
    from core.content.questions import prepare
    answer, _ = validate_answer({"steps": [{"title": "Paso 1", "type": "math", "content": r"$12 \cdot 4 = 46$",
                                            "canvas_commands": []}], "total_duration": 10})
    question = prepare("¿Cuánto es 12 por 4?", language="es", limit=1000)
    return tutor.cache.store(question, answer, model="m", prompt_version="p", verified=False,
                             failures=[{"step": 1, "claim": r"12 \cdot 4 = 46"}])


REVIEW_TEXTS = {
    "es": ("Para revisar", "La comprobación matemática encontró 1 afirmación que no se cumple.",
           "Valoraciones desde la última edición · no útil: 2 · útil: 0"),
    "en": ("Needs review", "The maths check found 1 claim that does not hold.",
           "Ratings since the last edit · not helpful: 2 · helpful: 0"),
}


def test_answers_that_need_review_come_first_with_why_and_open_in_the_editor(lang_world):
    world, lang = lang_world
    title, check_failed, poor = REVIEW_TEXTS[lang]
    failed = failed_check_answer(world.tutor)
    carla = me(world, world.carla)  # Ben already rated the geometry lesson "not helpful"; Carla does too
    session = read(world.tutor, world.carla, GEOMETRY)
    world.tutor.history.rate(carla, session["session_id"], helpful=False)
    geometry = world.tutor.cache.lookup(GEOMETRY.question.hash).id
    at = teacher_page()
    assert at.get_by_key("teacher_review").markdown[0].value == f"**{title}**"
    listed = [node.key for node in at if (getattr(node, "key", None) or "").startswith("teacher_review_")
              and not node.key.startswith("teacher_review_open_")]
    assert listed == [f"teacher_review_{failed}", f"teacher_review_{geometry}"]  # the failed check first
    assert check_failed in at.get_by_key(f"teacher_review_{failed}").markdown[0].value
    assert poor in at.get_by_key(f"teacher_review_{geometry}").markdown[0].value

    at.text_input(key="teacher_library_search").input("newton").run()  # a search that hides it does not matter
    at.button(key=f"teacher_review_open_{failed}").click().run()
    assert not at.exception
    assert at.selectbox(key="teacher_answer").value == failed
    assert at.session_state["teacher_answer_tabs"] == ("Editar" if lang == "es" else "Edit")  # on the editor
    assert at.text_area(key="teacher_step_1_content").value == r"$12 \cdot 4 = 46$"
    assert [w.value for w in at.warning if r"12 \cdot 4 = 46" in w.value]
    at.button(key="teacher_approve").click().run()  # the teacher overrules the check: it leaves the list
    assert not at.exception
    assert failed not in [r["id"] for r in world.tutor.curation.needing_review(me(world, world.teacher))]


def test_classes_show_join_codes_and_credits_can_be_granted(world):
    at = teacher_page()
    teo = me(world, world.teacher)
    assert [c.value for c in at.code] == [world.klass.join_code]
    balances = frame_of(at, "credits")
    assert dict(zip(balances["email"], balances["credits"])) == {
        u.email: world.tutor.credits.balance(teo, u.id) for u in (world.ana, world.ben, world.carla)}
    before = world.tutor.credits.balance(teo, world.ben.id)
    at.selectbox(key="teacher_grant_student").set_value(world.ben.id)
    at.number_input(key="teacher_grant_amount").set_value(7)
    at.text_input(key="teacher_grant_reason").input("examen")
    at.button(key="teacher_grant").click().run()
    assert not at.exception
    assert world.tutor.credits.balance(teo, world.ben.id) == before + 7
    assert f"Ben tiene ahora {before + 7} créditos." in [s.value for s in at.success]
    balances = frame_of(at, "credits")
    assert dict(zip(balances["email"], balances["credits"]))["ben@example.org"] == before + 7


# --- presentation helpers (core/teacher_view.py) ---------------------------------------------------------------------

def test_presentation_helpers():
    assert percent(2 / 3, "es") == "67 %" and percent(2 / 3, "en") == "67%" and percent(None, "es") == "—"
    assert duration(None) == "—" and duration(44.6) == "45 s" and duration(125) == "2 min 5 s"
    assert duration(120) == "2 min" and duration(3780) == "1 h 3 min"
    assert count(None) == "—" and count(3) == "3"
    today = dt.date(2025, 3, 30)
    assert default_range(today) == (dt.date(2025, 3, 1), today)
    assert date_range((dt.date(2025, 3, 5),), (today, today)) == (dt.date(2025, 3, 5),) * 2
    assert date_range((), (today, today)) == (today, today)
    assert date_range((today, dt.date(2025, 3, 1)), (today, today)) == (dt.date(2025, 3, 1), today)
    assert step_label("¿Cómo se resuelve una ecuación de segundo grado paso a paso?", 2, "Factorizar", "Paso") == \
        "¿Cómo se resuelve una ecuación de segun… · Paso 2: Factorizar"
    assert step_label("Q", 0, "", "Step") == "Q · Step 0"
    for lesson in LESSONS.values():  # every lesson's whiteboard survives the table unchanged (no phantom edits)
        for step in lesson.answer.to_json()["steps"]:
            table = rows_frame(command_rows(step["canvas_commands"])).to_dict("records")
            assert commands_from_rows(table) == step["canvas_commands"]
    assert commands_from_rows([{"op": None, "color": "blue", "at_char": 0}]) == []  # a blank new row
    with pytest.raises(DrawingError) as error:
        commands_from_rows([{"op": "polygon", "points": "0, 0; 1"}])
    assert (error.value.kind, error.value.index) == ("points", 1)
    with pytest.raises(DrawingError) as error:
        commands_from_rows([{"op": "circle", "x": 1.0}, {"op": None, "x": 2.0}])
    assert (error.value.kind, error.value.index) == ("no_op", 2)
    assert csv_file_name("4ºB", "needing_help", dt.date(2025, 3, 1), today, "student-ana@example.org") == \
        "4ob-student-ana-example-org-needing-help-2025-03-01-2025-03-30.csv"
    assert t("answer_meta", "en", status="approved", source="library", version=2, hits=5, ratings=1) == \
        "approved · library · version 2 · 5 uses · 1 rating"


# --- one real browser -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``streamlit run`` on loopback over a seeded class (plus earlier days); yields (base url, world)."""
    from browser_support import require_browser, server_settings, streamlit_running
    require_browser()
    data = tmp_path_factory.mktemp("teacher-browser")
    settings = server_settings(data, TUTOR_CHUNK_DELAY_MS="0", TUTOR_DEFAULT_LANGUAGE="es")
    tutor = create_tutor(settings, environ={}, env_file=None)
    world = seed(tutor)
    past_days(world)
    try:
        with streamlit_running(data, settings) as url:
            yield url, world
    finally:
        tutor.close()


def test_in_a_browser_a_teacher_sees_kpis_charts_and_downloads_csv_and_a_student_sees_nothing(server):
    from browser_support import chromium, key, screenshot, sign_in
    base, world = server
    teo = me(world, world.teacher)
    start, end = last_30_days()
    kpis = world.tutor.frames.kpis(teo, world.klass.id, start, end)
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1250}, locale="es-ES",
                                      accept_downloads=True)
        context.set_default_timeout(20_000)
        page = context.new_page()
        sign_in(page, base, "teo@example.org", path="/teacher")
        values = page.locator(key("teacher_kpis") + " [data-testid='stMetricValue']")
        values.nth(5).wait_for()
        shown = values.all_inner_texts()
        assert shown == [f"{kpis['active_students']} / {kpis['students']}", str(kpis["questions"]),
                         percent(kpis["cache_hit_rate"], "es"), percent(kpis["completion_rate"], "es"),
                         duration(kpis["avg_time_to_complete_s"]), str(kpis["ai_errors"])]
        drawn = page.locator(key("teacher_chart_per_day") + " [data-testid='stVegaLiteChart']").locator(
            "svg.marks, canvas")
        drawn.first.wait_for()
        assert drawn.first.bounding_box()["height"] > 100
        assert page.locator(key("teacher_chart_topics") + " [data-testid='stVegaLiteChart'] svg.marks, "
                            + key("teacher_chart_topics") + " [data-testid='stVegaLiteChart'] canvas").count() == 1
        page.locator(key("teacher_csv_per_day") + " button").wait_for()
        page.wait_for_timeout(500)  # let the charts settle before the picture
        screenshot(page, "teacher-overview", full_page=True)

        with page.expect_download() as download:
            page.locator(key("teacher_csv_top_questions") + " button").click()
        served = Path(download.value.path()).read_bytes()
        assert served == to_csv(world.tutor.frames.top_questions(teo, world.klass.id, start, end))
        assert download.value.suggested_filename == csv_file_name(world.klass.name, "top_questions", start, end)

        # the struggles chart gives every bar row its height (it was 120 px for any number of rows)
        page.get_by_role("tab", name="Dificultades").click()
        bars = page.locator(key("teacher_chart_struggles") + " [data-testid='stVegaLiteChart']").locator(
            "svg.marks, canvas").first
        bars.wait_for()
        rows = min(len(world.tutor.frames.struggle_points(teo, world.klass.id, start, end)), MAX_BARS)
        assert rows >= 2 and bars.bounding_box()["height"] >= rows * ROW_PX + 30  # the bars, then axis and legend
        page.wait_for_timeout(500)
        screenshot(page, "teacher-struggles", full_page=True)

        page.get_by_role("tab", name="Respuestas").click()
        answer_id = world.tutor.cache.lookup(GEOMETRY.question.hash).id
        picker = page.locator(key("teacher_answer"))
        picker.click()
        page.get_by_role("option", name=GEOMETRY.question.text[:40], exact=False).first.click()
        board = page.locator(key("teacher_board_1") + " svg")
        board.wait_for()
        assert board.locator("script").count() == 0
        assert world.tutor.curation.get(teo, answer_id)["preview"][0]["svg"] is not None
        picker.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        screenshot(page, "teacher-library", full_page=False)
        page.get_by_role("tab", name="Editar").click()
        page.locator(key("teacher_edit_board_1") + " svg").wait_for()  # the board previewed from the table
        page.locator(key("teacher_step_1_board_1")).wait_for()
        page.wait_for_timeout(300)
        screenshot(page, "teacher-editor", full_page=False)
        page.get_by_role("tab", name="Así la ve el estudiante").click()

        # retire (with its confirmation) and approve again: the answer stays open across both reruns
        page.locator(key("teacher_retire") + " button").click()
        page.locator(key("teacher_retire_yes") + " button").click()
        page.get_by_text("Respuesta retirada.").wait_for()
        page.locator(key("teacher_approve") + " button").click()
        page.get_by_text("Respuesta aprobada: la caché la servirá.").wait_for()
        assert world.tutor.curation.get(teo, answer_id)["status"] == "approved"

        student = browser.new_context(viewport={"width": 1400, "height": 900}, locale="es-ES")
        try:
            other = student.new_page()
            sign_in(other, base, "ana@example.org", path="/teacher")
            other.get_by_text("Esta página no está disponible para tu cuenta.").wait_for()
            assert other.locator(key("teacher_kpis")).count() == 0
            assert other.locator("[data-testid='stMetric']").count() == 0
            assert other.locator(key("teacher_class")).count() == 0
            assert other.get_by_text(world.klass.join_code).count() == 0
            assert other.locator("[data-testid='stDownloadButton']").count() == 0
        finally:
            student.close()


def test_every_canvas_error_has_words_in_both_languages():
    """The editor says what is wrong with a drawing in the page's language, for every code core's canvas raises."""
    content = Path(__file__).parent.parent / "core" / "content"
    source = "".join((content / name).read_text(encoding="utf-8") for name in ("canvas.py", "expressions.py"))
    codes = set(re.findall(r'CanvasError\(f?"(?:[^"\\]|\\.)*", "([a-z_]+)"', source)) | {"expression"}
    assert len(codes) >= 15
    for code in codes:
        words = TEXTS[f"canvas_{code}"]
        assert words["es"] and words["en"] and words["es"] != words["en"], code
