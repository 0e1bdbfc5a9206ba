"""The shared pacer (``tutor.follow``): many readers on a few threads, with the same exactness as ``tutor.stream``.

``deliver`` runs in a pacer thread between two batches of its reader, so a pause or a cancel made there is "another
call" arriving while the reader waits for its next chunk — at a known point, with no timing involved.
"""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_faults import own_redis  # noqa: F401  (a fixture: a throwaway Redis this test may stop)
from test_generated_pause import STEPS, whole_text

from core.content.library import load_lessons
from core.errors import StoreError
from core.explaining.pacing import Pacer
from core.platform import db
from core.testing.fakeai import FakeAI, build_answer

LESSONS = load_lessons()[:5]
ENDS = 120  # seconds a reader may take to end before the test fails (a hang, not a speed)


class Collected:
    """A ``deliver`` that keeps every event; ``on_batch(events)`` runs after each batch, in the pacer's thread."""

    def __init__(self, on_batch=None):
        self.events: list = []
        self.batches = 0
        self.ends = 0
        self.on_batch = on_batch
        self.done = threading.Event()

    def __call__(self, items: list, end: bool) -> None:
        self.events.extend(items)
        self.batches += bool(items)
        if items and self.on_batch is not None:
            self.on_batch(self.events)
        if end:
            self.ends += 1
            self.done.set()

    def wait(self) -> list:
        assert self.done.wait(ENDS), "the reader never ended"
        return self.events


def text_of(events):
    return "".join(e["data"]["chunk"] for e in events if isinstance(e, dict) and e["event"] == "content_chunk")


def chunks(events):
    return sum(1 for e in events if isinstance(e, dict) and e["event"] == "content_chunk")


def without_session_id(events):
    return [{**e, "data": {k: v for k, v in e["data"].items() if k != "session_id"}} for e in events]


def register(tutor, email):
    return tutor.identity_of(tutor.accounts.register(email, "otter-42-moss"))


def pause_after(tutor, me, session_id, k):
    def on_batch(events):
        if chunks(events) == k and not any(e["event"] == "streaming_paused" for e in events):
            tutor.pause(me, session_id)
    return on_batch


@pytest.fixture
def tutor(make_tutor, backend):
    return make_tutor(**backend, TUTOR_CHUNK_SIZE="20")


def test_many_concurrent_readers_get_exactly_what_the_blocking_stream_sends(tutor):
    me = register(tutor, "ana@example.org")
    expected = {lesson.question.hash: without_session_id(list(tutor.stream(me, tutor.ask(
        me, lesson.question.text)["id"]))) for lesson in LESSONS}
    readers = []
    for i in range(40):
        lesson = LESSONS[i % len(LESSONS)]
        who = register(tutor, f"s{i}@example.org")
        collected = Collected()
        tutor.follow(who, tutor.ask(who, lesson.question.text)["id"], deliver=collected)
        readers.append((lesson, collected))
    for lesson, collected in readers:
        events = collected.wait()
        assert without_session_id(events) == expected[lesson.question.hash]
        assert collected.ends == 1 and collected.batches > chunks(events) // 2  # paced chunk by chunk
    assert tutor.pacer.readers == 0


def test_a_pause_from_another_call_takes_effect_before_the_next_chunk(tutor):
    me = register(tutor, "ana@example.org")
    state = tutor.ask(me, LESSONS[0].question.text)
    first = Collected(pause_after(tutor, me, state["id"], 3))
    tutor.follow(me, state["id"], deliver=first)
    events = first.wait()
    assert chunks(events) == 3 and events[-1]["event"] == "streaming_paused"
    assert events[-1]["data"]["position"] == len(text_of(events))
    tutor.resume(me, state["id"])
    rest = Collected()
    tutor.follow(me, state["id"], deliver=rest)
    assert rest.wait()[0] == {"event": "streaming_resumed", "data": {"step": events[-1]["data"]["step"],
                                                                     "position": len(text_of(events))}}
    assert text_of(events) + text_of(rest.events) == "".join(s.content for s in LESSONS[0].answer.steps)


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pauses=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=4))
def test_pause_and_resume_under_the_pacer_lose_and_repeat_nothing(make_tutor, pauses):
    tutor = make_tutor(TUTOR_CHUNK_SIZE="20")
    me = register(tutor, f"p{time.monotonic_ns()}@example.org")
    state = tutor.ask(me, LESSONS[1].question.text)
    seen: list = []
    for k in pauses + [None]:
        collected = Collected(pause_after(tutor, me, state["id"], k) if k else None)
        tutor.follow(me, state["id"], deliver=collected)
        seen += collected.wait()
        if seen[-1]["event"] == "explanation_complete":
            break
        assert seen[-1]["event"] == "streaming_paused"
        tutor.resume(me, state["id"])
    assert seen[-1]["event"] == "explanation_complete"
    assert text_of(seen) == "".join(s.content for s in LESSONS[1].answer.steps)


def test_a_cancelled_reader_stops_and_frees_its_slot(tutor):
    me = register(tutor, "ana@example.org")
    state = tutor.ask(me, LESSONS[0].question.text)
    handle = []

    def cancel_after_two(events):
        if chunks(events) == 2:
            handle[0].cancel()  # the client left while the reader waits for its next chunk

    collected = Collected(cancel_after_two)
    handle.append(tutor.follow(me, state["id"], deliver=collected))
    events = collected.wait()
    assert chunks(events) == 2 and collected.ends == 1
    assert tutor.pacer.readers == 0
    # the session stays where its reader got to, like a closed tab: a new reader goes on from exactly there
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0]["event"] == "streaming_resumed"
    assert text_of(events) + text_of(rest) == "".join(s.content for s in LESSONS[0].answer.steps)


def test_a_failing_store_in_one_reader_does_not_stop_the_others(make_tutor, backend, own_redis):  # noqa: F811
    lost = make_tutor(REDIS_URL=own_redis.url, TUTOR_CHUNK_SIZE="20")
    tutor = make_tutor(**backend, TUTOR_CHUNK_SIZE="20")
    pacer = Pacer(shards=1)  # every reader on one thread: the failing one shares it with the others
    try:
        victim = register(lost, "victim@example.org")
        state = lost.ask(victim, LESSONS[0].question.text)

        def lose_the_store(events):
            if chunks(events) == 2 and own_redis.pid is not None:
                own_redis.stop()

        failing = Collected(lose_the_store)
        pacer.follow(lost.explanations.steps(victim, state["id"]), failing)
        others = []
        for i in range(5):
            me = register(tutor, f"s{i}@example.org")
            collected = Collected()
            pacer.follow(tutor.explanations.steps(me, tutor.ask(me, LESSONS[i].question.text)["id"]), collected)
            others.append((LESSONS[i], collected))
        events = failing.wait()
        assert isinstance(events[-1], StoreError) and chunks(events) == 2
        for lesson, collected in others:
            assert collected.wait()[-1]["event"] == "explanation_complete"
            assert text_of(collected.events) == "".join(s.content for s in lesson.answer.steps)
        assert pacer.readers == 0
    finally:
        pacer.close()
        own_redis.start()


def test_an_answer_being_generated_streams_under_the_pacer(make_tutor, backend, ai):
    with FakeAI(tokens_per_second=300, answer_for=lambda q: build_answer(q, steps=STEPS)) as slow:
        tutor = make_tutor(**{**backend, **ai, "OPENAI_BASE_URL": slow.base_url}, TUTOR_CHUNK_SIZE="20")
        me = register(tutor, "ana@example.org")
        question = f"¿Qué es la energía número {time.monotonic_ns()}?"
        state = tutor.ask(me, question)
        first = Collected(pause_after(tutor, me, state["id"], 2))
        tutor.follow(me, state["id"], deliver=first)
        events = first.wait()
        assert chunks(events) == 2 and events[-1]["event"] == "streaming_paused"
        tutor.resume(me, state["id"])
        rest = Collected()
        tutor.follow(me, state["id"], deliver=rest)
        assert rest.wait()[-1]["event"] == "explanation_complete"
        assert text_of(events) + text_of(rest.events) == whole_text(question)
        tutor.generations.wait()


def test_cursor_saves_only_move_a_streaming_session_forward(tutor):
    me = register(tutor, "ana@example.org")
    moving, paused = (tutor.ask(me, lesson.question.text)["id"] for lesson in LESSONS[:2])
    cursors = tutor.explanations.cursors
    cursors.save(moving, 1, 40)
    cursors.flush()
    cursors.save(moving, 1, 30)  # a stale reader's save after a newer one: ignored
    tutor.pause(me, paused)
    cursors.save(paused, 1, 12)  # landed after the pause: the paused cursor stays
    cursors.flush()
    assert saved(tutor, moving, paused) == {moving: (1, 40, "streaming"), paused: (0, 0, "paused")}
    cursors.save(paused, 1, 60)
    tutor.resume(me, paused)  # the resume's own save drops the note: a note never lands after a newer state
    cursors.flush()
    assert saved(tutor, paused) == {paused: (0, 0, "streaming")}


def saved(tutor, *sessions):
    c = db.tutor_sessions.c
    with tutor.engine.connect() as conn:
        return {str(r.id): (r.step, r.position, r.status) for r in conn.execute(
            sa.select(c.id, c.step, c.position, c.status).where(c.id.in_(sessions)))}
