"""Pause and resume of answers that are still being generated, at every moment (issue 9)."""
import pytest
from conftest import play_until_paused

from core.testing.fakeai import FakeAI, build_answer

QUESTION = "¿Qué es la energía mecánica?"


def text_of(events):
    return "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


def expected_text(question=QUESTION, steps=4):
    return "".join(s["content"] for s in build_answer(question, steps=steps)["steps"])


@pytest.fixture
def slow_ai(ai):
    with FakeAI(tokens_per_second=120, answer_for=lambda q: build_answer(q, steps=4)) as slow:
        yield slow, {**ai, "OPENAI_BASE_URL": slow.base_url}


@pytest.fixture
def student(make_tutor, backend, slow_ai):
    _, settings = slow_ai
    tutor = make_tutor(**backend, **settings, TUTOR_CHUNK_SIZE=20)
    me = tutor.identity_of(tutor.accounts.register("gp@example.org", "password123", language="es"))
    return tutor, me


def test_resume_while_the_model_is_still_writing(student):
    tutor, me = student
    state = tutor.ask(me, QUESTION)
    first = play_until_paused(tutor, me, state["id"], 1)
    assert first[-1]["event"] == "streaming_paused"
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert rest[-1]["event"] == "explanation_complete"
    assert text_of(first) + text_of(rest) == expected_text()
