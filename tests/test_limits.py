"""Per-user rate limits on asks and chat messages, on both backends (embedded store, and PostgreSQL + Redis)."""
import threading
import time

import pytest
import sqlalchemy as sa

from core.content.library import load_lessons
from core.errors import InvalidInput, RateLimited, SettingsError
from core.platform import db
from core.platform.limits import Rate
from core.platform.settings import Settings

LESSON = load_lessons()[0]


def count(tutor, table) -> int:
    with tutor.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


@pytest.mark.parametrize("text, rate", [("20/60", Rate(20, 60)), (" 3 / 1 ", Rate(3, 1)), ("5/0.5", Rate(5, 0.5)),
                                        ("0", Rate(0))])
def test_rates_parse(text, rate):
    assert Rate.parse(text) == rate
    assert Rate.parse(str(rate)) == rate


@pytest.mark.parametrize("text", ["", "20", "x/60", "1.5/60", "-1/60", "0/60", "5/0", "5/-1", "5/nan", "5/inf",
                                  "5/100000", "20 per minute"])
def test_bad_rates_are_clear_setting_errors(text):
    with pytest.raises(SettingsError) as error:
        Settings.load({"TUTOR_RATE_ASK_STUDENT": text}, environ={}, env_file=None)
    assert error.value.code == "settings_invalid" and "TUTOR_RATE_ASK_STUDENT" in str(error.value)


def test_default_rates_per_role():
    settings = Settings.load(environ={}, env_file=None)
    assert settings.rate_ask_student == Rate(20, 60) and settings.rate_ask_teacher == Rate(60, 60)
    assert settings.rate_chat_student == Rate(30, 60) and settings.rate_chat_teacher == Rate(60, 60)
    assert settings.rate_ask_admin.unlimited and settings.rate_chat_admin.unlimited


@pytest.fixture
def limited(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_ASK_STUDENT="3/1", TUTOR_RATE_ASK_TEACHER="5/1",
                       TUTOR_RATE_ASK_ADMIN="0")
    return tutor


def register(tutor, email, role="student"):
    return tutor.identity_of(tutor.accounts.register(email, "otter-42-moss", role=role))


def test_asks_over_the_limit_are_refused_with_retry_after_and_leave_nothing(limited):
    tutor = limited
    me = register(tutor, "ana@example.org")
    for _ in range(3):
        tutor.ask(me, LESSON.question.text)
    sessions, events = count(tutor, db.tutor_sessions), count(tutor, db.events)
    with pytest.raises(RateLimited) as refused:
        tutor.ask(me, LESSON.question.text)
    error = refused.value
    assert error.code == "rate_limited" and 0 < error.retry_after <= 1
    assert error.to_event("es")["data"]["message"] == "Demasiadas peticiones. Espera 1 s."
    assert error.to_event("en")["data"]["message"] == "Too many requests. Wait 1 s."
    assert (count(tutor, db.tutor_sessions), count(tutor, db.events)) == (sessions, events)
    time.sleep(error.retry_after + 0.05)
    tutor.ask(me, LESSON.question.text)


def test_limits_are_per_user_and_per_role(limited):
    tutor = limited
    ana, bea = register(tutor, "ana@example.org"), register(tutor, "bea@example.org")
    teacher, admin = register(tutor, "profe@example.org", "teacher"), register(tutor, "root@example.org", "admin")
    for _ in range(3):
        tutor.ask(ana, LESSON.question.text)
    with pytest.raises(RateLimited):
        tutor.ask(ana, LESSON.question.text)
    tutor.ask(bea, LESSON.question.text)
    for _ in range(5):
        tutor.ask(teacher, LESSON.question.text)
    with pytest.raises(RateLimited):
        tutor.ask(teacher, LESSON.question.text)
    for _ in range(12):
        tutor.ask(admin, LESSON.question.text)


def test_bad_questions_do_not_use_up_the_limit(limited):
    tutor = limited
    me = register(tutor, "ana@example.org")
    for _ in range(5):
        with pytest.raises(InvalidInput):
            tutor.ask(me, "")
    for _ in range(3):
        tutor.ask(me, LESSON.question.text)


def test_concurrent_asks_never_exceed_the_limit(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_ASK_STUDENT="4/10")
    me = register(tutor, "ana@example.org")
    start, results = threading.Barrier(12), []

    def ask():
        start.wait()
        try:
            tutor.ask(me, LESSON.question.text)
            results.append("ok")
        except RateLimited:
            results.append("refused")

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 4 and results.count("refused") == 8
    assert count(tutor, db.tutor_sessions) == 4


def test_the_limit_is_shared_by_processes(make_tutor, backend):
    first = make_tutor(**backend, TUTOR_RATE_ASK_STUDENT="2/1")
    second = make_tutor(**backend, TUTOR_RATE_ASK_STUDENT="2/1")
    me = register(first, "ana@example.org")
    first.ask(me, LESSON.question.text)
    second.ask(me, LESSON.question.text)
    with pytest.raises(RateLimited):
        first.ask(me, LESSON.question.text)


def test_chat_messages_over_the_limit_are_refused_before_saving(make_tutor, backend, ai):
    tutor = make_tutor(**backend, **ai, TUTOR_RATE_CHAT_STUDENT="2/5")  # a window a loaded machine cannot outlast
    me = register(tutor, "ana@example.org")
    session = tutor.chats.create(me)
    for text in ("uno", "dos"):
        assert list(tutor.chats.send(me, session["id"], text))[-1]["event"] == "done"
    with pytest.raises(RateLimited) as refused:
        list(tutor.chats.send(me, session["id"], "tres"))
    assert [m["content"] for m in tutor.chats.history(me, session["id"]) if m["role"] == "user"] == ["uno", "dos"]
    time.sleep(refused.value.retry_after + 0.05)
    assert list(tutor.chats.send(me, session["id"], "tres"))[-1]["event"] == "done"


def test_pauses_and_resumes_share_a_limit_and_a_refusal_writes_no_event(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_PAUSE="4/60")
    me = register(tutor, "ana@example.org")
    session_id = tutor.ask(me, LESSON.question.text)["id"]
    for call in (tutor.pause, tutor.resume, tutor.pause, tutor.resume):
        call(me, session_id)
    events = count(tutor, db.events)
    for call in (tutor.pause, tutor.resume):
        with pytest.raises(RateLimited) as refused:
            call(me, session_id)
        assert 0 < refused.value.retry_after <= 60
    assert count(tutor, db.events) == events
    other = register(tutor, "bea@example.org")
    tutor.pause(other, tutor.ask(other, LESSON.question.text)["id"])  # per user


def test_new_chats_are_limited_per_user_and_a_refusal_creates_nothing(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_NEW_CHAT="3/60")
    me = register(tutor, "ana@example.org")
    for _ in range(3):
        tutor.chats.create(me)
    with pytest.raises(RateLimited):
        tutor.chats.create(me, title="one too many")
    assert count(tutor, db.tutor_sessions) == 3
    tutor.chats.create(register(tutor, "bea@example.org"))


def test_default_rates_for_sign_in_registration_pauses_and_new_chats():
    settings = Settings.load(environ={}, env_file=None)
    assert (settings.rate_signin, settings.rate_signin_client) == (Rate(10, 300), Rate(60, 300))
    assert settings.rate_register == Rate(10, 600)
    assert (settings.rate_pause, settings.rate_new_chat) == (Rate(60, 60), Rate(20, 60))
