from collections import Counter

from core.content.library import install, load_lessons


def test_the_library_is_large_bilingual_and_covers_the_subjects():
    lessons = load_lessons()
    assert len(lessons) >= 30
    languages = Counter(lesson.question.language for lesson in lessons)
    assert languages["es"] >= 12 and languages["en"] >= 12
    subjects = Counter(lesson.subject for lesson in lessons)
    assert {"algebra", "geometry", "functions", "calculus", "physics"} <= set(subjects)
    assert all(3 <= len(lesson.answer.steps) <= 6 for lesson in lessons)
    assert all(step.type in ("text", "math") for lesson in lessons for step in lesson.answer.steps)
    drawn = [lesson for lesson in lessons if any(step.canvas_commands for step in lesson.answer.steps)]
    assert len(drawn) * 2 >= len(lessons)
    assert len({lesson.question.hash for lesson in lessons}) == len(lessons)


def test_loading_is_idempotent_and_keeps_teacher_changes(make_tutor):
    tutor = make_tutor()
    lessons = load_lessons()
    assert tutor.cache.lookup(lessons[0].question.hash).source == "library"
    assert install(tutor.cache, lessons) == 0
    make_tutor()
    with tutor.engine.connect() as conn:
        import sqlalchemy as sa

        from core.platform import db
        assert conn.execute(sa.select(sa.func.count()).select_from(db.ai_answers)).scalar() == len(lessons)


def test_a_students_plain_question_finds_the_lesson(make_tutor):
    tutor = make_tutor()
    lesson = next(lesson for lesson in load_lessons() if lesson.question.language == "es")
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    typed = lesson.question.text.upper().replace("¿", "").replace("?", "") + "   ?"
    state = tutor.ask(me, typed, language="es")
    assert state["answer_id"] == tutor.cache.lookup(lesson.question.hash).id


def test_a_question_typed_in_the_other_language_finds_its_lesson(make_tutor):
    tutor = make_tutor()
    lesson = next(lesson for lesson in load_lessons() if lesson.question.language == "en")
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss", language="es"))
    state = tutor.ask(me, lesson.question.text)
    assert state["answer_id"] == tutor.cache.lookup(lesson.question.hash).id
    assert state["language"] == "en" and tutor.snapshot(me, state["id"])["question"] == lesson.question.text
