"""Fault drills on real servers: Redis lost mid-stream or mid-generation, PostgreSQL restarted, the provider failing
after the first step, a process killed in the middle of a generation, and PostgreSQL stopped under a live tutor.

The drills that stop a server start their own throwaway Redis or PostgreSQL (the shared servers are never touched).
PostgreSQL refuses to run as root, so as root the cluster is created and run as the ``postgres`` OS user.
"""
from __future__ import annotations

import glob
import json
import math
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import play_until_paused, unavailable

from core.content.library import load_lessons
from core.errors import StoreError, TutorError
from core.explaining.generation import lock_name
from core.platform import db
from core.testing.fakeai import FakeAI, build_answer

ROOT = Path(__file__).resolve().parent.parent
LESSON = load_lessons()[0]
FULL_TEXT = "".join(step.content for step in LESSON.answer.steps)


def text_of(events):
    return "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float = 10, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def session_row(tutor, session_id):
    with tutor.engine.connect() as conn:
        return conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == session_id)).first()


def register(tutor, email):
    return tutor.identity_of(tutor.accounts.register(email, "otter-42-moss"))


# --- throwaway servers ------------------------------------------------------------------------------------------

class OwnRedis:
    """A redis-server on a unix socket, without persistence: a restart loses every key."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.pid: int | None = None

    def start(self) -> None:
        subprocess.run([shutil.which("redis-server"), "--port", "0", "--unixsocket", str(self.socket), "--save", "",
                        "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(self.dir / "redis.pid"),
                        "--dir", str(self.dir)], check=True, capture_output=True)
        pidfile = self.dir / "redis.pid"
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() and self.socket.exists(),
                   what="redis to start")  # the pid file exists a moment before its number is written
        self.pid = int(pidfile.read_text())

    def stop(self) -> None:
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGTERM)
        wait_until(lambda: not Path(f"/proc/{self.pid}").exists(), what="redis to stop")
        self.pid = None


@pytest.fixture
def own_redis():
    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed: the Redis drill needs its own server")
    directory = Path(tempfile.mkdtemp(prefix="tutor-drill-redis-"))
    server = OwnRedis(directory)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class OwnPostgres:
    """A throwaway PostgreSQL cluster on a free port; as root it runs as the ``postgres`` OS user."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        if self.as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._run(_pg_bin("initdb"), "-D", str(self.dir / "pg"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.dir / "pg"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -h 127.0.0.1", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.dir / "pg"), "-m", "fast", "-w", "stop")


@pytest.fixture
def own_postgres():
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        unavailable("PostgreSQL's initdb/pg_ctl are not installed: the PostgreSQL drill needs its own cluster")
    if os.geteuid() == 0 and not (shutil.which("runuser") and _has_user("postgres")):
        unavailable("running as root without a postgres OS user: PostgreSQL refuses to run as root")
    directory = Path(tempfile.mkdtemp(prefix="tutor-drill-pg-"))
    server = OwnPostgres(directory)
    server.init()
    server.start()
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(directory, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


# --- (a) Redis stopped mid-stream and restarted without its data ------------------------------------------------

def test_redis_lost_mid_stream_resumes_exactly_from_the_durable_position(make_tutor, own_redis):
    tutor = make_tutor(REDIS_URL=own_redis.url)
    me = register(tutor, "ana@example.org")
    state = tutor.ask(me, LESSON.question.text)
    stream = tutor.stream(me, state["id"])
    delivered = []
    while text_of(delivered).count(" ") < 40:
        delivered.append(next(stream))
    own_redis.stop()
    with pytest.raises(StoreError) as lost:
        while True:
            item = next(stream)
            assert item["event"] == "canvas_command", "no text may go out once the store is down"
            delivered.append(item)
    assert lost.value.code == "store_unavailable" and lost.value.message_for("es")
    for action in (lambda: tutor.pause(me, state["id"]), lambda: list(tutor.stream(me, state["id"])),
                   lambda: tutor.resume(me, state["id"])):
        with pytest.raises(StoreError):
            action()
    seen = text_of(delivered)
    assert 0 < len(seen) < len(FULL_TEXT)
    assert session_row(tutor, state["id"]).position == len(seen), "the reader kept its exact cursor"

    own_redis.start()
    rebuilt = tutor.snapshot(me, state["id"])
    assert (rebuilt["status"], rebuilt["position"]) == ("paused", len(seen))
    assert "".join(step["text"] for step in rebuilt["steps"]) == seen
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0] == {"event": "streaming_resumed", "data": {"step": rebuilt["step"], "position": len(seen)}}
    assert rest[-1]["event"] == "explanation_complete"
    assert seen + text_of(rest) == FULL_TEXT, "nothing lost, nothing repeated"
    assert tutor.metrics.registry.get_sample_value("tutor_errors_total", {"code": "store_unavailable"}) >= 1


# --- (b) PostgreSQL restarted ------------------------------------------------------------------------------------

def event_counts(tutor, user_id) -> dict:
    counts = {}
    for row in tutor.analytics.events(user_id=user_id):
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts


def test_postgres_restart_a_paused_session_resumes_exactly(make_tutor, own_postgres):
    tutor = make_tutor(DATABASE_URL=own_postgres.url)
    me = register(tutor, "ana@example.org")
    state = tutor.ask(me, LESSON.question.text)
    first = play_until_paused(tutor, me, state["id"], 4)
    assert first[-1]["event"] == "streaming_paused"

    own_postgres.stop()
    own_postgres.start()
    tutor.resume(me, state["id"])  # the pool's connections died with the server: pool_pre_ping replaces them
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0]["data"]["position"] == first[-1]["data"]["position"] == len(text_of(first))
    assert text_of(first) + text_of(rest) == FULL_TEXT
    row = session_row(tutor, state["id"])
    assert (row.status, row.position) == ("complete", len(FULL_TEXT))
    assert event_counts(tutor, me.user_id) == {"question_asked": 1, "cache_hit": 1, "pause": 1, "resume": 1,
                                               "complete": 1}


def test_postgres_restart_mid_stream_completes_once(make_tutor, own_postgres):
    tutor = make_tutor(DATABASE_URL=own_postgres.url)
    me = register(tutor, "ana@example.org")
    state = tutor.ask(me, LESSON.question.text)
    stream = tutor.stream(me, state["id"])
    got = [next(stream) for _ in range(6)]
    own_postgres.stop()
    own_postgres.start()
    got += list(stream)
    assert text_of(got) == FULL_TEXT and got[-1]["event"] == "explanation_complete"
    assert session_row(tutor, state["id"]).status == "complete"
    assert event_counts(tutor, me.user_id) == {"question_asked": 1, "cache_hit": 1, "complete": 1}


# --- (c) the provider drops the stream after the first step was written -------------------------------------------

def test_a_stream_dropped_after_the_first_step_shows_what_was_written_then_an_error(make_tutor, ai):
    question = "¿Qué es la aceleración?"
    reply = json.dumps(build_answer(question, steps=5), ensure_ascii=False)
    # three deltas (FakeAI's drop point) cover ~55 % of the reply: steps 1 and 2 are final, 3 has begun
    with FakeAI(answer_for=lambda q: build_answer(q, steps=5), chars_per_token=math.ceil(len(reply) * 0.55 / 3)) \
            as fake:
        tutor = make_tutor(**{**ai, "OPENAI_BASE_URL": fake.base_url})
        me = register(tutor, "ana@example.org")
        fake.fail_next("drop")
        state = tutor.ask(me, question)
        events = list(tutor.stream(me, state["id"]))
        steps = build_answer(question, steps=5)["steps"]
        delivered = [e["data"]["step"] for e in events if e["event"] == "step_complete"]
        # how much of it reached the SDK before the connection broke depends on the machine's load: whatever did,
        # in order, whole steps first, then the step being written as far as it got
        assert delivered == list(range(1, len(delivered) + 1)) and len(delivered) < 5
        whole_steps = "".join(s["content"] for s in steps[:len(delivered)])
        begun = text_of(events)[len(whole_steps):]
        assert text_of(events).startswith(whole_steps) and steps[len(delivered)]["content"].startswith(begun)
        assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_failed"
        assert events[-1]["data"]["message"]
        assert tutor.cache.lookup(state["question_hash"]) is None
        assert (tutor.snapshot(me, state["id"])["status"], tutor.credits.balance(me)) == ("error", 10)

        again = tutor.ask(me, question)
        assert again["generation_id"] and again["generation_id"] != state["generation_id"]
        assert text_of(list(tutor.stream(me, again["id"]))) == "".join(s["content"] for s in steps)
        assert len(fake.calls) == 2 and tutor.cache.lookup(state["question_hash"]) is not None


# --- (d) a process killed in the middle of a generation ----------------------------------------------------------

def ledger_of(tutor, identity) -> list[tuple[int, str]]:
    return [(row["delta"], row["reason"]) for row in tutor.credits.ledger(identity)]


def cached_rows(tutor, question_hash) -> int:
    with tutor.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.ai_answers)
                            .where(db.ai_answers.c.question_hash == question_hash)).scalar()


def stream_together(tutor, readers) -> list[list[dict]]:
    """Each (identity, session) read to its end in its own thread, all at once."""
    results = [None] * len(readers)
    start = threading.Barrier(len(readers))

    def read(index, identity, session_id):
        start.wait()
        results[index] = list(tutor.stream(identity, session_id))

    threads = [threading.Thread(target=read, args=(i, *reader)) for i, reader in enumerate(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("noticed_by", ["followers", "next ask"])
def test_a_process_killed_mid_generation(make_tutor, backend, ai, data_dir, noticed_by):
    """The dead generation's debit is refunded once, by whoever finds its lock expired first: the two readers
    following it (at the same time), or else the next asker of the question."""
    question = "¿Qué es la energía mecánica?"
    settings = {**backend, **ai, "TUTOR_GENERATION_LOCK_MS": "1500", "TUTOR_CHUNK_DELAY_MS": "0"}
    with FakeAI(tokens_per_second=40) as slow:
        settings["OPENAI_BASE_URL"] = slow.base_url
        tutor = make_tutor(**settings)
        ana, bea, cai, eva = (register(tutor, f"{name}@example.org") for name in ("ana", "bea", "cai", "eva"))
        env = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), **settings}
        asker = subprocess.Popen([sys.executable, "-m", "core", "ask", question, "--user", "ana@example.org",
                                  "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            printed = []
            while not any(e["event"] == "content_chunk" for e in printed):
                line = asker.stdout.readline()
                assert line, "the asking process ended before its first chunk"
                printed.append(json.loads(line))
            # joining the generation the other process is running
            followers = [(who, tutor.ask(who, question)) for who in (bea, cai)] if noticed_by == "followers" else []
            asker.send_signal(signal.SIGKILL)
            asker.wait(10)
        finally:
            asker.kill()
            asker.stdout.close()
        question_hash = tutor.credits.ledger(ana)[0]["question_hash"]

        if followers:
            assert all(state["generation_id"] for _, state in followers)
            # the streams end (they do not wait forever): the readers give up once the dead lock expires
            for events in stream_together(tutor, [(who, state["id"]) for who, state in followers]):
                assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_failed"
                assert text_of(events).startswith(text_of(printed)), "the published steps were still delivered"
        else:
            wait_until(lambda: tutor.store.holder(lock_name(question_hash)) is None, what="the dead lock to expire")
            assert ledger_of(tutor, ana) == [(-1, "generation"), (10, "starting")], "nobody noticed yet"
        assert cached_rows(tutor, question_hash) == 0, "nothing cached from the dead generation"

        slow.tokens_per_second = None
        fresh = tutor.ask(eva, question)  # holding the lock now, it refunds what no follower did
        assert fresh["generation_id"] not in (None, *(state["generation_id"] for _, state in followers))
        assert list(tutor.stream(eva, fresh["id"]))[-1]["event"] == "explanation_complete"
        assert len(slow.calls) == 2
        # exactly one refund, however many noticed, recorded with its reason and the question
        assert ledger_of(tutor, ana) == [(1, "refund_lock_expired"), (-1, "generation"), (10, "starting")]
        assert tutor.credits.ledger(ana)[0]["question_hash"] == question_hash
        assert tutor.credits.balance(ana) == 10
        assert [tutor.credits.balance(who) for who in (bea, cai, eva)] == [10, 10, 9]


def test_a_process_killed_mid_fresh_generation_is_refunded_although_an_answer_is_stored(
        make_tutor, backend, ai, data_dir):
    """"Otra explicación" (``--fresh``) of a question with an approved answer, its process killed mid-way: the
    stored answer does not stop the refund (the asker never got the new one); the next fresh asker refunds it."""
    question = "¿Qué es la energía potencial?"
    settings = {**backend, **ai, "TUTOR_GENERATION_LOCK_MS": "1500", "TUTOR_CHUNK_DELAY_MS": "0"}
    with FakeAI() as model:
        settings["OPENAI_BASE_URL"] = model.base_url
        tutor = make_tutor(**settings)
        ana, eva = (register(tutor, f"{name}@example.org") for name in ("ana", "eva"))
        stored = tutor.ask(eva, question)
        assert list(tutor.stream(eva, stored["id"]))[-1]["event"] == "explanation_complete"
        model.tokens_per_second = 40
        env = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), **settings}
        asker = subprocess.Popen([sys.executable, "-m", "core", "ask", question, "--fresh", "--user",
                                  "ana@example.org", "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            while '"content_chunk"' not in (line := asker.stdout.readline()):
                assert line, "the asking process ended before its first chunk"
            asker.send_signal(signal.SIGKILL)
            asker.wait(10)
        finally:
            asker.kill()
            asker.stdout.close()
        question_hash = stored["question_hash"]
        wait_until(lambda: tutor.store.holder(lock_name(question_hash)) is None, what="the dead lock to expire")
        assert ledger_of(tutor, ana) == [(-1, "generation"), (10, "starting")]
        model.tokens_per_second = None
        again = tutor.ask(eva, question, fresh=True)  # holding the lock now, it refunds the dead one
        assert list(tutor.stream(eva, again["id"]))[-1]["event"] == "explanation_complete"
        assert ledger_of(tutor, ana) == [(1, "refund_lock_expired"), (-1, "generation"), (10, "starting")]
        assert tutor.credits.balance(ana) == 10 and tutor.credits.balance(eva) == 8


# --- (e) Redis lost while a generation is running -----------------------------------------------------------------

def test_redis_lost_during_a_generation_refunds_and_caches_nothing(make_tutor, own_redis, ai):
    question = "¿Qué es la energía cinética?"
    with FakeAI(tokens_per_second=40) as slow:
        tutor = make_tutor(**{**ai, "OPENAI_BASE_URL": slow.base_url}, REDIS_URL=own_redis.url)
        ana = register(tutor, "ana@example.org")
        state = tutor.ask(ana, question)
        stream = tutor.stream(ana, state["id"])
        delivered = []
        while not any(e["event"] == "content_chunk" for e in delivered):
            delivered.append(next(stream))
        own_redis.stop()
        with pytest.raises(StoreError) as lost:
            for item in stream:
                assert item["event"] != "explanation_complete"
        assert lost.value.code == "store_unavailable"
        assert lost.value.message_for("es") and lost.value.message_for("en")

        tutor.generations.wait(30)  # its next step could not be published: the generation gave up
        assert ledger_of(tutor, ana) == [(1, "refund"), (-1, "generation"), (10, "starting")]
        assert tutor.credits.balance(ana) == 10
        assert cached_rows(tutor, state["question_hash"]) == 0, "nothing cached"

        own_redis.start()  # empty: the lock, the generation's log and the session state are gone
        assert tutor.snapshot(ana, state["id"])["status"] == "paused"  # rebuilt from the database
        tutor.resume(ana, state["id"])
        events = list(tutor.stream(ana, state["id"]))
        assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_failed"
        assert events[-1]["data"]["message"]
        slow.tokens_per_second = None
        again = tutor.ask(ana, question)
        assert again["generation_id"] not in (None, state["generation_id"]), "the next ask generates again"
        assert list(tutor.stream(ana, again["id"]))[-1]["event"] == "explanation_complete"
        assert len(slow.calls) == 2 and cached_rows(tutor, state["question_hash"]) == 1
        assert ledger_of(tutor, ana)[0] == (-1, "generation") and tutor.credits.balance(ana) == 9


# --- (f) PostgreSQL stopped while a tutor is live ----------------------------------------------------------------

def test_postgres_down_every_facade_operation_says_store_unavailable(make_tutor, own_postgres, fake_ai, ai):
    tutor = make_tutor(DATABASE_URL=own_postgres.url, **ai)
    me = register(tutor, "ana@example.org")
    teacher = tutor.identity_of(tutor.accounts.register("teo@example.org", "otter-42-moss", role="teacher"))
    klass = tutor.accounts.create_class(tutor.accounts.by_email("teo@example.org"), "4ºB")
    token = tutor.token_for(tutor.accounts.by_email("ana@example.org"))
    paused = tutor.ask(me, LESSON.question.text)
    play_until_paused(tutor, me, paused["id"], 2)
    chat = tutor.chats.create(me, title="Dudas")
    own_postgres.stop()

    operations = {
        "register": lambda: tutor.register("bea@example.org", "otter-42-moss"),
        "sign_in": lambda: tutor.sign_in("ana@example.org", "otter-42-moss"),
        "identity": lambda: tutor.identity(token),
        "ask": lambda: tutor.ask(me, LESSON.question.text),
        "ask_new": lambda: tutor.ask(me, "¿Por qué el cielo es azul?"),
        "snapshot": lambda: tutor.snapshot(me, paused["id"]),
        "resume": lambda: tutor.resume(me, paused["id"]),
        "stream": lambda: list(tutor.stream(me, paused["id"])),
        "pause": lambda: tutor.pause(me, paused["id"]),
        "history": lambda: tutor.history.sessions(me),
        "history_search": lambda: tutor.history.sessions(me, search="pitagoras"),
        "history_delete": lambda: tutor.history.delete(me, paused["id"]),
        "export": lambda: tutor.history.export_markdown(me, paused["id"]),
        "board": lambda: tutor.history.board_svg(me, paused["id"]),
        "rate": lambda: tutor.history.rate(me, paused["id"], helpful=True),
        "rating": lambda: tutor.history.rating(me, paused["id"]),
        "chat_create": lambda: tutor.chats.create(me, title="Otra"),
        "chat_history": lambda: tutor.chats.history(me, chat["id"]),
        "chat_send": lambda: list(tutor.chats.send(me, chat["id"], "Hola")),
        "balance": lambda: tutor.credits.balance(me),
        "grant": lambda: tutor.credits.grant(teacher, me.user_id, 1),
        "join_class": lambda: tutor.accounts.join_class(tutor.accounts.get(me.user_id), klass.join_code),
        "library": lambda: tutor.curation.answers(teacher),
        "kpis": lambda: tutor.frames.kpis(teacher, klass.id, "2026-01-01", "2026-12-31"),
        "set_language": lambda: tutor.accounts.set_language(me.user_id, "en"),
    }
    outcomes = {}
    for name, operation in operations.items():
        try:
            operation()
            outcomes[name] = "no error"
        except TutorError as error:
            outcomes[name] = error.code
    assert outcomes == {name: "store_unavailable" for name in operations}
    assert StoreError("store_unavailable").message_for("es") != StoreError("store_unavailable").message_for("en")

    with pytest.raises(StoreError):
        make_tutor(DATABASE_URL=own_postgres.url)  # a tutor cannot even be built while it is down
    own_postgres.start()
    assert tutor.snapshot(me, paused["id"])["status"] == "paused", "back to work once the database is"


def test_postgres_down_pages_show_a_message_not_a_traceback(own_postgres, app_settings, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import app
    monkeypatch.setenv("DATABASE_URL", own_postgres.url)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30).run()
    app.get_tutor().accounts.register("ana@example.org", "otter-42-moss", language="es")
    at.text_input(key="login_email").input("ana@example.org")
    at.text_input(key="login_password").input("otter-42-moss")
    at.button(key="login_submit").click().run()
    assert not at.exception and not at.error
    own_postgres.stop()
    for page in ("app_pages/ask.py", "app_pages/history.py", "app_pages/chat.py", "app_pages/ask.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert [e.value for e in at.error] == [StoreError().message_for("es")], page
