"""What a student reaches from the sidebar and the Ask page, in core, on both backends: joining a class with a code,
what things cost, and "another explanation" (a fresh generation kept beside the stored answer)."""
import threading

import pytest
import sqlalchemy as sa

from core.content.library import load_lessons
from core.errors import AIError, Conflict, Forbidden, InsufficientCredits, NotFound
from core.platform import db
from core.testing.fakeai import FakeAI

LESSON = next(lesson for lesson in load_lessons() if lesson.question.language == "es")
PASSWORD = "otter-42-moss"


def register(tutor, email, role="student", **fields):
    return tutor.identity_of(tutor.accounts.register(email, PASSWORD, role=role, **fields))


def read_to_end(tutor, me, session_id) -> list[dict]:
    return list(tutor.stream(me, session_id))


def answers_of(tutor, question_hash) -> dict[str, str]:
    a = db.ai_answers
    with tutor.engine.connect() as conn:
        return {str(r.id): r.status for r in conn.execute(sa.select(a.c.id, a.c.status)
                                                         .where(a.c.question_hash == question_hash))}


# --- joining a class ---------------------------------------------------------------------------------------------

@pytest.fixture
def school(make_tutor, backend):
    tutor = make_tutor(**backend)
    profe = register(tutor, "profe@example.org", "teacher")
    klass = tutor.create_class(profe, "3º B")
    return tutor, profe, klass


def test_a_student_joins_a_class_with_its_code_typed_loosely(school):
    tutor, profe, klass = school
    ana = register(tutor, "ana@example.org")
    assert tutor.classes(ana) == []
    joined = tutor.join_class(ana, f"  {klass.join_code.lower()} ")
    assert joined == klass and tutor.classes(ana) == [klass]
    assert [u.email for u in tutor.students(profe, klass.id)] == ["ana@example.org"]


def test_joining_says_why_it_cannot(school):
    tutor, profe, klass = school
    ana = register(tutor, "ana@example.org", class_code=klass.join_code)
    with pytest.raises(Conflict) as again:
        tutor.join_class(ana, klass.join_code)
    assert again.value.code == "already_member" and "3º B" in again.value.message_for("es")
    with pytest.raises(NotFound) as unknown:
        tutor.join_class(ana, "ZZZZZZ")
    assert unknown.value.code == "unknown_class" and "ZZZZZZ" in unknown.value.message_for("es")
    with pytest.raises(NotFound):
        tutor.join_class(ana, None)
    with pytest.raises(Forbidden) as staff:
        tutor.join_class(profe, klass.join_code)
    assert staff.value.code == "join_students_only"
    assert tutor.classes(ana) == [klass]


def test_guessing_codes_is_rate_limited(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_REGISTER="3/600")
    ana = register(tutor, "ana@example.org")
    for _ in range(3):
        with pytest.raises(NotFound):
            tutor.join_class(ana, "ZZZZZZ")
    with pytest.raises(Exception) as limited:
        tutor.join_class(ana, "ZZZZZZ")
    assert limited.value.code == "rate_limited"


def test_prices_follow_the_settings(make_tutor):
    tutor = make_tutor(TUTOR_CHAT_MESSAGES_PER_CREDIT=7)
    assert tutor.prices == {"explanation": 1, "chat_messages_per_credit": 7}


# --- another explanation -----------------------------------------------------------------------------------------

def test_another_explanation_needs_a_provider_and_says_so(make_tutor):
    tutor = make_tutor()
    ana = register(tutor, "ana@example.org")
    with pytest.raises(AIError) as error:
        tutor.ask(ana, LESSON.question.text, fresh=True)
    assert error.value.code == "fresh_unavailable"
    assert "proveedor" in error.value.message_for("es") and "provider" in error.value.message_for("en")
    assert tutor.history.sessions(ana) == []


def test_another_explanation_is_generated_paid_and_kept_beside_the_lesson(make_tutor, backend, ai, fake_ai):
    tutor = make_tutor(**backend, **ai)
    ana = register(tutor, "ana@example.org")
    before = tutor.credits.balance(ana)
    lesson_id = tutor.cache.lookup(LESSON.question.hash).id

    first = tutor.ask(ana, LESSON.question.text)
    assert first["answer_id"] == lesson_id and tutor.credits.balance(ana) == before  # the lesson is free
    read_to_end(tutor, ana, first["id"])
    again = tutor.ask(ana, LESSON.question.text, fresh=True)
    assert again["answer_id"] is None and again["generation_id"]
    text = "".join(e["data"]["chunk"] for e in read_to_end(tutor, ana, again["id"]) if e["event"] == "content_chunk")
    tutor.generations.wait()

    assert len(fake_ai.calls) == 1 and tutor.credits.balance(ana) == before - 1
    snapshot = tutor.snapshot(ana, again["id"])
    assert snapshot["answer_id"] not in (None, lesson_id) and snapshot["status"] == "complete"
    assert text and LESSON.answer.steps[0].content not in text
    assert answers_of(tutor, LESSON.question.hash) == {lesson_id: "approved", snapshot["answer_id"]: "retired"}
    assert tutor.cache.lookup(LESSON.question.hash).id == lesson_id  # the next asker still gets the lesson
    assert [s["id"] for s in tutor.history.sessions(ana)] == [again["id"], first["id"]]  # the old one stays
    assert tutor.snapshot(ana, first["id"])["answer_id"] == lesson_id


def test_another_explanation_costs_a_credit_the_student_must_have(make_tutor, backend, ai, fake_ai):
    tutor = make_tutor(**backend, **ai, TUTOR_STARTING_CREDITS=0)
    ana = register(tutor, "ana@example.org")
    with pytest.raises(InsufficientCredits):
        tutor.ask(ana, LESSON.question.text, fresh=True)
    assert fake_ai.calls == [] and tutor.history.sessions(ana) == []
    assert tutor.ask(ana, LESSON.question.text)["answer_id"]  # the stored lesson stays free


def test_another_explanation_is_single_flight_per_question(make_tutor, backend, ai):
    with FakeAI(tokens_per_second=80) as slow:  # slow enough that every ask finds the generation in flight
        tutor = make_tutor(**backend, **(ai | {"OPENAI_BASE_URL": slow.base_url}))
        students = [register(tutor, f"s{i}@example.org") for i in range(4)]
        before = [tutor.credits.balance(s) for s in students]
        started, barrier = [], threading.Barrier(len(students))

        def ask(student):
            barrier.wait()
            started.append(tutor.ask(student, LESSON.question.text, fresh=True))

        threads = [threading.Thread(target=ask, args=(s,)) for s in students]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tutor.generations.wait()
        assert len(slow.calls) == 1
        assert len({state["generation_id"] for state in started}) == 1
        spent = sum(b - tutor.credits.balance(s) for s, b in zip(students, before))
        assert spent == 1  # whoever started it paid; the others followed it
        statuses = sorted(answers_of(tutor, LESSON.question.hash).values())
        assert statuses == ["approved", "retired"]
