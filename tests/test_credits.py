"""Credits on both backends: starting balance, grants and who may give them, debits at generation time, refunds."""
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.content.library import load_lessons
from core.errors import Forbidden, InsufficientCredits, InvalidInput, NotFound
from core.platform import db
from core.testing.fakeai import FakeAI

LESSON = load_lessons()[0]
ROOT = Path(__file__).resolve().parent.parent


def register(tutor, email, role="student", class_code=None):
    return tutor.identity_of(tutor.accounts.register(email, "otter-42-moss", role=role, class_code=class_code))


def ledger_sum(tutor, user_id) -> int:
    with tutor.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.sum(db.credit_ledger.c.delta), 0))
                            .where(db.credit_ledger.c.user_id == user_id)).scalar()


@pytest.fixture
def school(make_tutor, backend):
    """A teacher with one student, another teacher with another student, and an admin."""
    tutor = make_tutor(**backend)
    profe, otra = register(tutor, "profe@example.org", "teacher"), register(tutor, "otra@example.org", "teacher")
    mine = tutor.accounts.create_class(tutor.accounts.get(profe.user_id), "3º B")
    theirs = tutor.accounts.create_class(tutor.accounts.get(otra.user_id), "4º A")
    ana = register(tutor, "ana@example.org", class_code=mine.join_code)
    bea = register(tutor, "bea@example.org", class_code=theirs.join_code)
    admin = register(tutor, "root@example.org", "admin")
    return tutor, profe, ana, bea, admin


def test_new_users_start_with_the_setting_and_the_ledger_adds_up(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_STARTING_CREDITS=3)
    ana = register(tutor, "ana@example.org")
    assert tutor.credits.balance(ana) == 3
    [row] = tutor.credits.ledger(ana)
    assert (row["delta"], row["reason"], row["granted_by"]) == (3, "starting", None)
    none = make_tutor(**backend, TUTOR_STARTING_CREDITS=0)
    assert none.credits.balance(register(none, "bea@example.org")) == 0


def test_grants_by_teachers_to_their_students_and_by_admins_to_anyone(school):
    tutor, profe, ana, bea, admin = school
    assert tutor.credits.grant(profe, ana.user_id, 5, "deberes") == 15
    assert tutor.credits.grant(admin, bea.user_id, 2) == 12
    assert tutor.credits.grant(admin, profe.user_id, 1) == 11
    latest = tutor.credits.ledger(profe, ana.user_id)[0]
    assert (latest["delta"], latest["reason"], latest["granted_by"]) == (5, "deberes", profe.user_id)
    assert tutor.credits.ledger(admin, bea.user_id)[0]["reason"] == "grant"
    for user in (ana, bea, profe):
        assert ledger_sum(tutor, user.user_id) == tutor.credits.balance(admin, user.user_id)


@pytest.mark.parametrize("who, whom", [("profe", "bea"), ("profe", "profe"), ("profe", "admin"), ("ana", "ana"),
                                       ("ana", "bea")])
def test_grants_outside_ones_own_classes_are_forbidden(school, who, whom):
    tutor, profe, ana, bea, admin = school
    people = {"profe": profe, "ana": ana, "bea": bea, "admin": admin}
    with pytest.raises(Forbidden):
        tutor.credits.grant(people[who], people[whom].user_id, 1)
    assert tutor.credits.balance(admin, people[whom].user_id) == 10
    assert len(tutor.credits.ledger(admin, people[whom].user_id)) == 1


@pytest.mark.parametrize("amount", [0, -1, -50, 1001, 10 ** 9, 1.5, True, "3", None])
def test_bad_amounts_are_refused(school, amount):
    tutor, profe, ana, bea, admin = school
    with pytest.raises(InvalidInput) as error:
        tutor.credits.grant(admin, ana.user_id, amount)
    assert error.value.code == "invalid_amount" and "1000" in error.value.message_for("es")
    assert tutor.credits.balance(ana) == 10


def test_bad_reasons_and_unknown_users(school):
    tutor, profe, ana, bea, admin = school
    with pytest.raises(InvalidInput) as error:
        tutor.credits.grant(admin, ana.user_id, 1, "x" * 41)
    assert error.value.code == "invalid_reason"
    for unknown in ("not-a-uuid", db.new_id()):
        with pytest.raises(NotFound):
            tutor.credits.grant(admin, unknown, 1)
    with pytest.raises(Forbidden):
        tutor.credits.grant(profe, db.new_id(), 1)


def test_who_may_read_a_balance(school):
    tutor, profe, ana, bea, admin = school
    assert tutor.credits.balance(ana) == tutor.credits.balance(ana, ana.user_id) == 10
    assert tutor.credits.balance(profe, ana.user_id) == 10
    assert tutor.credits.balance(admin, bea.user_id) == 10
    for who, whom in ((profe, bea), (ana, bea), (bea, ana)):
        with pytest.raises(Forbidden):
            tutor.credits.balance(who, whom.user_id)
        with pytest.raises(Forbidden):
            tutor.credits.ledger(who, whom.user_id)


def test_concurrent_debits_never_go_below_zero(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_STARTING_CREDITS=3)
    ana = register(tutor, "ana@example.org")
    start, results = threading.Barrier(10), []

    def debit():
        start.wait()
        try:
            tutor.credits.debit(ana.user_id, "h" * 64)
            results.append("ok")
        except InsufficientCredits:
            results.append("refused")

    threads = [threading.Thread(target=debit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 3
    assert tutor.credits.balance(ana) == 0 == ledger_sum(tutor, ana.user_id)


# --- credits at ask time ----------------------------------------------------------------------------------------

@pytest.fixture
def asking(make_tutor, backend, ai):
    tutor = make_tutor(**backend, **ai, TUTOR_STARTING_CREDITS=2)
    return tutor, register(tutor, "ana@example.org")


def test_library_lessons_and_cache_hits_are_free(asking, fake_ai):
    tutor, ana = asking
    list(tutor.stream(ana, tutor.ask(ana, LESSON.question.text)["id"]))
    assert tutor.credits.balance(ana) == 2
    list(tutor.stream(ana, tutor.ask(ana, "¿Qué es un número primo?")["id"]))
    assert tutor.credits.balance(ana) == 1
    list(tutor.stream(ana, tutor.ask(ana, "¿qué es un número primo")["id"]))
    assert tutor.credits.balance(ana) == 1 and len(fake_ai.calls) == 1
    [debit, _start] = tutor.credits.ledger(ana)
    assert (debit["delta"], debit["reason"]) == (-1, "generation") and len(debit["question_hash"]) == 64


def test_no_credits_left_refuses_a_miss_before_the_provider_and_writes_nothing(asking, fake_ai):
    tutor, ana = asking
    for question in ("¿Qué es un número primo?", "¿Qué es un vector?"):
        list(tutor.stream(ana, tutor.ask(ana, question)["id"]))
    calls, events = len(fake_ai.calls), len(tutor.analytics.events())
    with tutor.engine.connect() as conn:
        sessions = conn.execute(sa.select(sa.func.count()).select_from(db.tutor_sessions)).scalar()
    with pytest.raises(InsufficientCredits) as error:
        tutor.ask(ana, "¿Qué es la inercia?")
    assert error.value.code == "insufficient_credits" and error.value.message_for("es")
    assert len(fake_ai.calls) == calls and len(tutor.analytics.events()) == events
    with tutor.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.tutor_sessions)).scalar() == sessions
    list(tutor.stream(ana, tutor.ask(ana, LESSON.question.text)["id"]))  # lessons stay free
    bea = register(tutor, "bea@example.org")  # the refused ask left no lock behind
    assert list(tutor.stream(bea, tutor.ask(bea, "¿Qué es la inercia?")["id"]))[-1]["event"] == "explanation_complete"


def test_only_the_asker_who_starts_the_generation_pays(make_tutor, ai):
    with FakeAI(tokens_per_second=200) as slow:
        tutor = make_tutor(**{**ai, "OPENAI_BASE_URL": slow.base_url}, TUTOR_STARTING_CREDITS=0)
        ana, broke = register(tutor, "ana@example.org"), register(tutor, "broke@example.org")
        tutor.credits.grant(register(tutor, "root@example.org", "admin"), ana.user_id, 1)
        first = tutor.ask(ana, "¿Qué es la inercia?")
        follower = tutor.ask(broke, "¿Qué es la inercia?")
        assert follower["generation_id"] == first["generation_id"]
        for user, state in ((ana, first), (broke, follower)):
            assert list(tutor.stream(user, state["id"]))[-1]["event"] == "explanation_complete"
        assert len(slow.calls) == 1
        assert tutor.credits.balance(ana) == 0 and tutor.credits.balance(broke) == 0
        assert [r["reason"] for r in tutor.credits.ledger(broke)] == []


@pytest.mark.parametrize("failures", [["500"], ["drop"], ["invalid_answer", "invalid_answer"]])
def test_a_failed_generation_is_refunded(asking, fake_ai, failures):
    tutor, ana = asking
    fake_ai.fail_next(*failures)
    state = tutor.ask(ana, "¿Por qué el cielo es azul?")
    assert list(tutor.stream(ana, state["id"]))[-1]["event"] == "error"
    assert tutor.credits.balance(ana) == 2 == ledger_sum(tutor, ana.user_id)
    assert [(r["delta"], r["reason"]) for r in tutor.credits.ledger(ana)][:2] in (
        [(1, "refund"), (-1, "generation")], [(-1, "generation"), (1, "refund")])  # same timestamp: either order


def test_concurrent_asks_spend_exactly_the_balance(make_tutor, backend, ai):
    tutor = make_tutor(**backend, **ai, TUTOR_STARTING_CREDITS=2)
    ana = register(tutor, "ana@example.org")
    start, results = threading.Barrier(6), []

    def ask(n):
        start.wait()
        try:
            results.append(tutor.ask(ana, f"¿Cuánto es {n} por {n}?")["id"])
        except InsufficientCredits:
            results.append(None)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tutor.generations.wait()
    assert results.count(None) == 4
    assert tutor.credits.balance(ana) == 0 == ledger_sum(tutor, ana.user_id)



def test_a_dead_generation_is_refunded_once_however_many_notice_it(make_tutor, backend):
    tutor = make_tutor(**backend)
    ana = register(tutor, "ana@example.org")
    generation, question_hash = uuid.uuid4().hex, "a" * 64
    tutor.credits.debit(ana.user_id, question_hash, generation)
    start, refunded = threading.Barrier(8), []

    def notice():
        start.wait()
        refunded.append(tutor.credits.refund_dead(generation))

    threads = [threading.Thread(target=notice) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(refunded) == [False] * 7 + [True]
    assert tutor.credits.balance(ana) == 10 == ledger_sum(tutor, ana.user_id)
    latest = tutor.credits.ledger(ana)[0]
    assert (latest["delta"], latest["reason"], latest["question_hash"]) == (1, "refund_lock_expired", question_hash)
    # its own thread failing late does not refund it again; an unknown or unpaid generation refunds nothing
    assert tutor.credits.refund(ana.user_id, question_hash, generation) is False
    assert tutor.credits.refund_dead(uuid.uuid4().hex) is False
    assert tutor.credits.balance(ana) == 10 == ledger_sum(tutor, ana.user_id)


def test_a_generation_refunded_by_its_thread_is_not_refunded_as_dead(make_tutor, backend):
    tutor = make_tutor(**backend)
    ana = register(tutor, "ana@example.org")
    generation = uuid.uuid4().hex
    tutor.credits.debit(ana.user_id, "b" * 64, generation)
    assert tutor.credits.refund(ana.user_id, "b" * 64, generation) is True
    assert tutor.credits.refund_dead(generation) is False
    assert [(r["delta"], r["reason"]) for r in tutor.credits.ledger(ana)][0] in ((1, "refund"), (-1, "generation"))
    assert tutor.credits.balance(ana) == 10 == ledger_sum(tutor, ana.user_id)

# --- the command line ---------------------------------------------------------------------------------------------

def test_cli_grant_and_balance(make_tutor, data_dir):
    tutor = make_tutor()  # the same data dir as the commands below
    profe = register(tutor, "profe@example.org", "teacher")
    register(tutor, "otra@example.org", "teacher")
    register(tutor, "ana@example.org", class_code=tutor.accounts.create_class(
        tutor.accounts.get(profe.user_id), "3º B").join_code)
    env = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "core", "credits", *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=120)

    granted = cli("grant", "ana@example.org", "5", "--by", "profe@example.org", "--reason", "examen")
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout) == {"email": "ana@example.org", "credits": 15}
    assert json.loads(cli("balance", "ana@example.org").stdout) == {"email": "ana@example.org", "credits": 15}
    refused = cli("grant", "ana@example.org", "5", "--by", "otra@example.org")
    assert refused.returncode == 1 and refused.stderr.strip().startswith("error forbidden:")
    absurd = cli("grant", "ana@example.org", "100000", "--by", "profe@example.org")
    assert absurd.returncode == 1 and absurd.stderr.strip().startswith("error invalid_amount:")
