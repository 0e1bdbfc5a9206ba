"""The answer library as teachers curate it: list, preview, edit, approve, retire, versions — on both backends."""
import copy
import dataclasses

import pytest
import sqlalchemy as sa

from core.content.library import load_lessons
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.platform import db

LESSONS = {lesson.name: lesson for lesson in load_lessons()}
PYTHAGORAS = LESSONS["07_teorema_pitagoras"]
NEWTON = LESSONS["26_newton_second_law"]


@pytest.fixture
def library(make_tutor, backend):
    tutor = make_tutor(**backend)
    return Library(tutor)


class Library:
    def __init__(self, tutor):
        self.tutor = tutor
        register = tutor.accounts.register
        self.teacher = tutor.identity_of(register("profe@example.org", "otter-42-moss", role="teacher", name="Profe"))
        self.student = tutor.identity_of(register("ana@example.org", "otter-42-moss", name="Ana"))

    def answer_id(self, lesson) -> str:
        return self.tutor.cache.lookup(lesson.question.hash).id

    def rows(self, question_hash) -> list:
        with self.tutor.engine.connect() as conn:
            return conn.execute(sa.select(db.ai_answers).where(db.ai_answers.c.question_hash == question_hash)
                                .order_by(db.ai_answers.c.created_at)).all()

    def versions(self, answer_id=None) -> list:
        query = sa.select(db.answer_versions).order_by(db.answer_versions.c.version)
        if answer_id:
            query = query.where(db.answer_versions.c.answer_id == answer_id)
        with self.tutor.engine.connect() as conn:
            return conn.execute(query).all()

    def read(self, identity, question: str) -> tuple[str, str]:
        """Ask and read to the end; the session id and the text read."""
        state = self.tutor.ask(identity, question)
        events = list(self.tutor.stream(identity, state["id"]))
        assert events[-1]["event"] == "explanation_complete", events[-1]
        return state["id"], "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


def edited_steps(lesson) -> list[dict]:
    """The lesson's steps with step 2's text and step 3's drawings changed."""
    steps = copy.deepcopy(lesson.answer.to_json()["steps"])
    steps[1]["content"] += "\n\nNuevo en el paso 2: $a^2 + b^2 = c^2$ con $a = 3$ y $b = 4$."
    steps[2]["canvas_commands"] = [{"op": "circle", "x": 0, "y": 0, "r": 2, "color": "red", "at_char": 0}]
    return steps


# --- listing and preview -------------------------------------------------------------------------------------------

def test_list_shows_library_answers_with_hits_and_ratings(library):
    tutor, ana = library.tutor, library.student
    first, _ = library.read(ana, PYTHAGORAS.question.text)
    second, _ = library.read(ana, PYTHAGORAS.question.text)
    tutor.history.rate(ana, first, helpful=True)
    tutor.history.rate(ana, second, helpful=False)
    answers = tutor.curation.answers(library.teacher)
    assert len(answers) == len(LESSONS)
    top = answers[0]
    assert top["id"] == library.answer_id(PYTHAGORAS)
    assert {k: top[k] for k in ("question", "subject", "source", "status", "hits", "helpful", "ratings",
                                "helpful_rate", "step_count", "version")} == {
        "question": PYTHAGORAS.question.text, "subject": "geometry", "source": "library", "status": "approved",
        "hits": 2, "helpful": 1, "ratings": 2, "helpful_rate": 0.5, "step_count": len(PYTHAGORAS.answer.steps),
        "version": 1}
    assert all(a["ratings"] == 0 and a["helpful_rate"] is None for a in answers[1:])


@pytest.mark.parametrize("search, expected", [
    ("pitagoras", [PYTHAGORAS]),     # without the accent
    ("PITÁGORAS", [PYTHAGORAS]),
    ("hipotenusa", [PYTHAGORAS]),
    ("newton", [NEWTON]),
    ("100%_", []),                   # LIKE wildcards are literal
])
def test_search(library, search, expected):
    found = library.tutor.curation.answers(library.teacher, search=search)
    assert [a["question"] for a in found] == [lesson.question.text for lesson in expected]


def test_filters_by_subject_status_and_source(library):
    curation, me = library.tutor.curation, library.teacher
    physics = curation.answers(me, search="physics")
    assert len(physics) == sum(lesson.subject == "physics" for lesson in LESSONS.values())
    curation.retire(me, library.answer_id(NEWTON))
    assert [a["question"] for a in curation.answers(me, status="retired")] == [NEWTON.question.text]
    assert len(curation.answers(me, status="approved")) == len(LESSONS) - 1
    assert len(curation.answers(me, source="library")) == len(LESSONS)
    assert curation.answers(me, source="edited") == []
    with pytest.raises(InvalidInput):
        curation.answers(me, status="deleted")


def test_get_gives_a_preview_as_the_student_sees_it(library):
    got = library.tutor.curation.get(library.teacher, library.answer_id(PYTHAGORAS))
    assert got["answer"] == PYTHAGORAS.answer
    assert got["steps"] == PYTHAGORAS.answer.to_json()["steps"]
    assert [p["title"] for p in got["preview"]] == [s.title for s in PYTHAGORAS.answer.steps]
    for preview, step in zip(got["preview"], PYTHAGORAS.answer.steps):
        assert preview["content"] == step.content
        assert (preview["svg"] is None) == (not step.canvas_commands)
        assert preview["svg"] is None or preview["svg"].startswith("<svg")


# --- editing -------------------------------------------------------------------------------------------------------

def test_edit_validates_versions_and_serves_the_new_text(library):
    tutor, me = library.tutor, library.teacher
    answer_id = library.answer_id(PYTHAGORAS)
    steps = edited_steps(PYTHAGORAS)
    got = tutor.curation.edit(me, answer_id, steps, expected_version=1)
    assert (got["version"], got["source"], got["status"]) == (2, "edited", "approved")
    assert got["steps"][1]["content"] == steps[1]["content"]
    assert got["steps"][2]["canvas_commands"] == [
        {"op": "circle", "x": 0.0, "y": 0.0, "r": 2.0, "color": "red", "at_char": 0}]
    history = tutor.curation.history(me, answer_id)
    assert [(v["version"], v["action"], v["changes"], v["editor"], v["status"]) for v in history] == [
        (1, "created", "library answer", "", "approved"),
        (2, "edited", "step 2 content, step 3 canvas", "Profe", "approved")]
    assert history[0]["steps"] == PYTHAGORAS.answer.to_json()["steps"]
    assert history[1]["steps"] == got["steps"] and history[1]["editor_id"] == me.user_id
    _, text = library.read(library.student, PYTHAGORAS.question.text)
    assert steps[1]["content"] in text


def test_an_edit_that_changes_nothing_writes_nothing(library):
    answer_id = library.answer_id(PYTHAGORAS)
    got = library.tutor.curation.edit(library.teacher, answer_id, PYTHAGORAS.answer.to_json()["steps"])
    assert (got["version"], got["source"]) == (1, "library")
    assert library.versions() == []


def test_edit_summaries_name_every_change(library):
    tutor, me = library.tutor, library.teacher
    answer_id = library.answer_id(PYTHAGORAS)
    steps = PYTHAGORAS.answer.to_json()["steps"]
    tutor.curation.edit(me, answer_id, [dict(steps[0], title="Otro título")] + steps[1:], total_duration=99)
    tutor.curation.edit(me, answer_id, steps[:2])
    summaries = [v["changes"] for v in tutor.curation.history(me, answer_id)]
    assert summaries[1:] == ["step 1 title, total duration", "step 1 title, step 3 removed, step 4 removed"]
    assert tutor.curation.get(me, answer_id)["total_duration"] == 99


@pytest.mark.parametrize("language, words", [
    ("es", ["lección de la biblioteca", "paso 1: título, duración total"]),
    ("en", ["library answer", "step 1 title, total duration"])])
def test_version_summaries_are_in_the_callers_language(library, language, words):
    tutor = library.tutor
    me = dataclasses.replace(library.teacher, language=language)
    answer_id = library.answer_id(PYTHAGORAS)
    steps = PYTHAGORAS.answer.to_json()["steps"]
    tutor.curation.edit(me, answer_id, [dict(steps[0], title="Otro título")] + steps[1:], total_duration=99)
    assert [v["summary"] for v in tutor.curation.history(me, answer_id)] == words


def bad_steps():
    base = PYTHAGORAS.answer.to_json()["steps"]

    def changed(number, **fields):
        steps = copy.deepcopy(base)
        steps[number - 1].update(fields)
        return steps
    return [
        (changed(2, content=""), "step 2 content is empty", {"step": 2, "part": "content", "check": "empty"}),
        (changed(2, content="<script>alert(1)</script>"), "step 2 content contains HTML",
         {"step": 2, "part": "content", "check": "html"}),
        (changed(3, content="Sin cerrar $x^2"), "step 3", {"step": 3, "part": "content", "check": "delimiters"}),
        (changed(4, title="x" * 200), "step 4 title is longer than 120",
         {"step": 4, "part": "title", "check": "too_long", "limit": 120}),
        (changed(1, type="video"), "step 1 type", {"step": 1, "part": "type", "check": "type"}),
        (changed(3, canvas_commands=[{"op": "axes", "x_min": -1, "x_max": 1, "y_min": -1, "y_max": 1},
                                     {"op": "laser", "x": 1}]), "step 3 drawing 2: unknown op 'laser'",
         {"step": 3, "part": "canvas_commands", "command": 2, "check": "drawing"}),
        (changed(2, canvas_commands=[{"op": "circle", "x": 0, "y": 0, "r": -1}]), "step 2 drawing 1: r must be",
         {"step": 2, "part": "canvas_commands", "command": 1, "check": "drawing"}),
        (base * 3, "1 to 8 steps", {"check": "steps", "limit": 8}),
        ([], "1 to 8 steps", {"check": "steps"}),
        ("not a list", "1 to 8 steps", {"check": "steps"}),
    ]


@pytest.mark.parametrize("steps, reason, where", bad_steps())
def test_invalid_edits_are_refused_and_write_nothing(library, steps, reason, where):
    answer_id = library.answer_id(PYTHAGORAS)
    before = library.rows(PYTHAGORAS.question.hash)
    with pytest.raises(InvalidInput) as error:
        library.tutor.curation.edit(library.teacher, answer_id, steps)
    assert error.value.code == "invalid_text" and reason in error.value.params["reason"]
    assert reason in error.value.message_for("en")
    # where it is and which check failed, for an editor to point at the step and field
    assert {key: error.value.params.get(key) for key in where} == where
    assert ("step" in error.value.params) == ("step" in where)
    assert library.rows(PYTHAGORAS.question.hash) == before
    assert library.versions() == []


def test_a_formula_rule_broken_names_its_step_and_field(library):
    steps = copy.deepcopy(PYTHAGORAS.answer.to_json()["steps"])
    steps[1]["title"] = r"Con $\def\x{1}$"
    with pytest.raises(InvalidInput) as error:
        library.tutor.curation.edit(library.teacher, library.answer_id(PYTHAGORAS), steps)
    assert error.value.code == "formula_macro"
    assert {k: error.value.params[k] for k in ("step", "part", "check")} == {"step": 2, "part": "title",
                                                                             "check": "rule"}


def test_a_bad_duration_is_refused(library):
    with pytest.raises(InvalidInput):
        library.tutor.curation.edit(library.teacher, library.answer_id(PYTHAGORAS),
                                    edited_steps(PYTHAGORAS), total_duration=0)
    assert library.versions() == []


def test_a_failed_version_write_undoes_the_change(library):
    """The change and its version are one transaction: if writing the version fails, the answer is untouched."""
    answer_id = library.answer_id(PYTHAGORAS)
    before = library.rows(PYTHAGORAS.question.hash)
    with library.tutor.engine.begin() as conn:  # a stray version 2 makes the edit's own version 2 collide
        conn.execute(db.answer_versions.insert().values(id=db.new_id(), answer_id=answer_id, version=2,
                                                        action="edited", steps=[], status="approved"))
    with pytest.raises(sa.exc.IntegrityError):
        library.tutor.curation.edit(library.teacher, answer_id, edited_steps(PYTHAGORAS))
    assert library.rows(PYTHAGORAS.question.hash) == before
    assert [v.version for v in library.versions()] == [2]


def test_a_stale_edit_is_a_conflict(library):
    tutor, me = library.tutor, library.teacher
    answer_id = library.answer_id(PYTHAGORAS)
    tutor.curation.edit(me, answer_id, edited_steps(PYTHAGORAS), expected_version=1)
    with pytest.raises(Conflict):
        tutor.curation.edit(me, answer_id, PYTHAGORAS.answer.to_json()["steps"], expected_version=1)
    with pytest.raises(Conflict):
        tutor.curation.retire(me, answer_id, expected_version=1)
    assert tutor.curation.get(me, answer_id)["version"] == 2


# --- retiring and approving ----------------------------------------------------------------------------------------

def test_retire_then_the_next_ask_regenerates(make_tutor, backend, ai, fake_ai):
    library = Library(make_tutor(**backend, **ai))
    tutor, me, ana = library.tutor, library.teacher, library.student
    lesson_id = library.answer_id(PYTHAGORAS)
    library.read(ana, PYTHAGORAS.question.text)
    assert fake_ai.calls == []
    retired = tutor.curation.retire(me, lesson_id)
    assert (retired["status"], retired["version"]) == ("retired", 2)
    assert tutor.cache.lookup(PYTHAGORAS.question.hash) is None
    assert [r.status for r in library.rows(PYTHAGORAS.question.hash)] == ["retired"]
    assert tutor.curation.retire(me, lesson_id)["version"] == 2  # retiring twice changes nothing

    _, text = library.read(ana, PYTHAGORAS.question.text)
    assert len(fake_ai.calls) == 1
    generated = tutor.cache.lookup(PYTHAGORAS.question.hash)
    assert generated.source == "generated" and generated.id != lesson_id
    assert text == "".join(step.content for step in generated.answer.steps)
    library.read(ana, PYTHAGORAS.question.text)
    assert len(fake_ai.calls) == 1
    assert [(v["action"], v["status"]) for v in tutor.curation.history(me, lesson_id)] == [
        ("created", "approved"), ("retired", "retired")]


def test_approving_a_retired_answer_retires_the_approved_one(make_tutor, backend, ai, fake_ai):
    library = Library(make_tutor(**backend, **ai))
    tutor, me = library.tutor, library.teacher
    lesson_id = library.answer_id(PYTHAGORAS)
    tutor.curation.retire(me, lesson_id)
    library.read(library.student, PYTHAGORAS.question.text)
    generated_id = library.answer_id(PYTHAGORAS)

    approved = tutor.curation.approve(me, lesson_id)
    assert (approved["status"], approved["version"]) == ("approved", 3)
    assert tutor.cache.lookup(PYTHAGORAS.question.hash).id == lesson_id
    assert {str(r.id): r.status for r in library.rows(PYTHAGORAS.question.hash)} == {
        lesson_id: "approved", generated_id: "retired"}
    assert [(v["version"], v["action"]) for v in tutor.curation.history(me, lesson_id)] == [
        (1, "created"), (2, "retired"), (3, "approved")]
    replaced = tutor.curation.history(me, generated_id)
    assert [(v["version"], v["action"]) for v in replaced] == [(1, "created"), (2, "retired")]
    assert replaced[1]["changes"] == f"replaced by answer {lesson_id}"
    assert tutor.curation.approve(me, lesson_id)["version"] == 3  # approving twice changes nothing

    _, text = library.read(library.student, PYTHAGORAS.question.text)
    assert text == "".join(step.content for step in PYTHAGORAS.answer.steps) and len(fake_ai.calls) == 1


# --- the review list --------------------------------------------------------------------------------------------------

def failed_check_answer(tutor) -> str:
    """A generated answer whose maths check failed (stored retired, awaiting a teacher)."""
    from core.content.answers import validate_answer
    from core.content.questions import prepare
    answer, _ = validate_answer({"steps": [{"title": "Paso 1", "type": "math", "content": r"$12 \cdot 4 = 46$",
                                            "canvas_commands": []}], "total_duration": 10})
    question = prepare("¿Cuánto es 12 por 4?", language="es", limit=1000)
    return tutor.cache.store(question, answer, model="m", prompt_version="p", verified=False,
                             failures=[{"step": 1, "claim": r"12 \cdot 4 = 46"}])


def test_the_review_list_has_failed_checks_first_then_poorly_rated_answers(library):
    tutor, teacher = library.tutor, library.teacher
    ben = tutor.identity_of(tutor.accounts.register("ben@example.org", "otter-42-moss", name="Ben"))
    assert tutor.curation.needing_review(teacher) == []
    failed = failed_check_answer(tutor)
    newton = library.answer_id(NEWTON)
    for student in (library.student, ben):  # two "not helpful" ratings of Newton's lesson, one helpful of Pythagoras
        session, _ = library.read(student, NEWTON.question.text)
        tutor.history.rate(student, session, helpful=False)
    session, _ = library.read(ben, PYTHAGORAS.question.text)
    tutor.history.rate(ben, session, helpful=False)
    listed = tutor.curation.needing_review(teacher)
    assert [(row["id"], row["reasons"]) for row in listed] == [(failed, ("check_failed",)),
                                                               (newton, ("poor_ratings",))]
    assert (listed[0]["failed_claims"], listed[0]["status"]) == (1, "retired")
    assert (listed[1]["recent_unhelpful"], listed[1]["recent_helpful"], listed[1]["ratings"]) == (2, 0, 2)

    # more helpful than unhelpful ratings takes it off; so does an edit (the ratings were about the old text)
    for _ in range(3):
        session, _ = library.read(library.student, NEWTON.question.text)
        tutor.history.rate(library.student, session, helpful=True)
    assert [row["id"] for row in tutor.curation.needing_review(teacher)] == [failed]
    for _ in range(4):
        session, _ = library.read(ben, NEWTON.question.text)
        tutor.history.rate(ben, session, helpful=False)
    assert [row["id"] for row in tutor.curation.needing_review(teacher)] == [failed, newton]
    tutor.curation.edit(teacher, newton, edited_steps(NEWTON))
    tutor.curation.retire(teacher, failed)  # the teacher's "reviewed, keep it out"
    assert tutor.curation.needing_review(teacher) == []
    with pytest.raises(Forbidden):
        tutor.curation.needing_review(library.student)


def test_an_untouched_answer_has_its_creation_as_history(library):
    history = library.tutor.curation.history(library.teacher, library.answer_id(NEWTON))
    assert [(v["version"], v["action"], v["status"], v["editor_id"]) for v in history] == [
        (1, "created", "approved", None)]


# --- who may curate ------------------------------------------------------------------------------------------------

def test_students_may_not_curate(library):
    curation, ana = library.tutor.curation, library.student
    answer_id = library.answer_id(PYTHAGORAS)
    calls = [lambda: curation.answers(ana), lambda: curation.get(ana, answer_id),
             lambda: curation.history(ana, answer_id), lambda: curation.approve(ana, answer_id),
             lambda: curation.retire(ana, answer_id),
             lambda: curation.edit(ana, answer_id, edited_steps(PYTHAGORAS))]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert library.versions() == []
    assert [(r.status, r.version, r.source) for r in library.rows(PYTHAGORAS.question.hash)] == [
        ("approved", 1, "library")]


def test_an_admin_may_curate(library):
    admin = library.tutor.identity_of(library.tutor.accounts.register("admin@example.org", "otter-42-moss",
                                                                      role="admin"))
    assert library.tutor.curation.retire(admin, library.answer_id(NEWTON))["status"] == "retired"


@pytest.mark.parametrize("answer_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_answers(library, answer_id):
    curation, me = library.tutor.curation, library.teacher
    for call in (curation.get, curation.history, curation.approve, curation.retire):
        with pytest.raises(NotFound):
            call(me, answer_id)
    with pytest.raises(NotFound):
        curation.edit(me, answer_id, edited_steps(PYTHAGORAS))
