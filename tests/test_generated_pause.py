"""Pause and resume of answers that are still being generated, at every moment (issue 9).

The model is the real SDK against the loopback server at a slow token rate, so the reader (no pacing) always
catches up with the model and waits for its next words. Each cut point is resumed by the same reader, by a new
reader (a reload or a second tab) and by another process (``python -m core resume``).
"""
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.explaining.generation_log import Source
from core.testing.fakeai import FakeAI, build_answer

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "¿Qué es la energía mecánica?"
STEPS = 4
EMAIL = "gp@example.org"


def text_of(events):
    return "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


def whole_text(question=QUESTION):
    return "".join(s["content"] for s in build_answer(question, steps=STEPS)["steps"])


def play(tutor, me, session_id, pause_when, reader=None):
    """Stream a session, pausing as a student would right after the first event ``pause_when`` accepts."""
    got, paused = [], False
    for item in tutor.stream(me, session_id, reader=reader):
        got.append(item)
        if not paused and pause_when(item, got):
            paused = True
            tutor.pause(me, session_id)
    return got


def after_chunks(n):
    return lambda item, got: item["event"] == "content_chunk" and sum(
        e["event"] == "content_chunk" for e in got) == n


def log_entries(tutor, state):
    return [entry for _, entry in tutor.store.read(state["generation_id"])]


def published_text(tutor, state):
    source = Source.following(state["generation_id"], state["question_hash"])
    source.poll(tutor.store)
    return "".join(step.content for step in source.steps)


@pytest.fixture
def slow_ai(ai):
    with FakeAI(tokens_per_second=300, answer_for=lambda q: build_answer(q, steps=STEPS)) as slow:
        yield slow, {**ai, "OPENAI_BASE_URL": slow.base_url}


@pytest.fixture
def settings(backend, slow_ai):
    return {**backend, **slow_ai[1], "TUTOR_CHUNK_SIZE": "20"}


@pytest.fixture
def student(make_tutor, settings):
    tutor = make_tutor(**settings)
    me = tutor.identity_of(tutor.accounts.register(EMAIL, "otter-42-moss", language="es"))
    return tutor, me


@pytest.fixture
def cli_resume(data_dir, settings):
    """``python -m core resume SID --user EMAIL --json`` in another process, with the same settings."""
    def run(session_id):
        env = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), "TUTOR_CHUNK_DELAY_MS": "0", **settings}
        done = subprocess.run([sys.executable, "-m", "core", "resume", session_id, "--user", EMAIL, "--json"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return run


# --- where the student pauses -------------------------------------------------------------------------------------

def cut_before_first_step(tutor, me, state):
    got = play(tutor, me, state["id"], lambda item, _: item["event"] == "waiting_phrase", reader="tab1")
    assert "content_chunk" not in [e["event"] for e in got] and got[-1]["data"]["step"] == 0
    return got


def cut_inside_step_while_writing(tutor, me, state):
    got = play(tutor, me, state["id"], after_chunks(1), reader="tab1")
    assert not any(e["type"] == "done" for e in log_entries(tutor, state)), "the model had already finished"
    assert got[-1]["data"]["step"] == 1
    return got


def cut_between_steps(tutor, me, state):
    got = play(tutor, me, state["id"], lambda item, _: item["event"] == "step_complete", reader="tab1")
    first_step = build_answer(QUESTION, steps=STEPS)["steps"][0]["content"]
    assert got[-1]["data"]["step"] == 1 and got[-1]["data"]["position"] == len(first_step)
    return got


def cut_after_the_generation_ended(tutor, me, state):
    got = play(tutor, me, state["id"], after_chunks(1), reader="tab1")
    tutor.generations.wait()
    assert log_entries(tutor, state)[-1]["type"] == "done"
    return got


CUTS = {"before_first_step": cut_before_first_step, "inside_step": cut_inside_step_while_writing,
        "between_steps": cut_between_steps, "after_end": cut_after_the_generation_ended}


def resume_here(tutor, me, state, how, cli_resume):
    """Resume as the student would (``how``): returns the events of the rest of the explanation."""
    snapshot = tutor.snapshot(me, state["id"])  # what the page draws first, on this run or after a reload
    tutor.resume(me, state["id"])
    if how == "cli":
        code, rest = cli_resume(state["id"])
        return snapshot, code, rest
    rest = list(tutor.stream(me, state["id"], reader="tab1" if how == "same_tab" else "tab1.reloaded"))
    return snapshot, 0, rest


@pytest.mark.parametrize("cut, how", list(itertools.product(CUTS, ["same_tab", "reload", "cli"])))
def test_pause_and_resume_a_generated_answer_anywhere(student, cli_resume, cut, how):
    tutor, me = student
    state = tutor.ask(me, QUESTION)
    first = CUTS[cut](tutor, me, state)
    assert first[-1]["event"] == "streaming_paused"
    snapshot, code, rest = resume_here(tutor, me, state, how, cli_resume)
    assert "".join(s["text"] for s in snapshot["steps"]) == text_of(first)
    assert snapshot["status"] == "paused"
    assert code == 0 and rest[-1]["event"] == "explanation_complete"
    assert rest[0]["event"] == ("explanation_start" if cut == "before_first_step" else "streaming_resumed")
    assert text_of(first) + text_of(rest) == whole_text()
    tutor.generations.wait()
    final = tutor.snapshot(me, state["id"])
    assert final["status"] == "complete" and "".join(s["text"] for s in final["steps"]) == whole_text()
    assert [s["status"] for s in tutor.history.sessions(me)] == ["complete"]


@pytest.mark.parametrize("how", ["same_tab", "reload", "cli"])
def test_resume_after_the_generation_failed(make_tutor, settings, slow_ai, cli_resume, how):
    slow, _ = slow_ai
    slow.fail_next("length", "500")  # half an answer, then the repair fails too
    tutor = make_tutor(**settings)
    me = tutor.identity_of(tutor.accounts.register(EMAIL, "otter-42-moss", language="es"))
    state = tutor.ask(me, QUESTION)
    first = play(tutor, me, state["id"], after_chunks(1), reader="tab1")
    tutor.generations.wait()
    assert log_entries(tutor, state)[-1]["type"] == "error"
    snapshot, code, rest = resume_here(tutor, me, state, how, cli_resume)
    assert "".join(s["text"] for s in snapshot["steps"]) == text_of(first)
    assert code == (1 if how == "cli" else 0)
    assert rest[-1]["event"] == "error" and rest[-1]["data"]["code"] == "ai_failed" and rest[-1]["data"]["message"]
    assert text_of(first) + text_of(rest) == published_text(tutor, state) != ""
    assert [s["status"] for s in tutor.history.sessions(me)] == ["error"]
    reopened = tutor.snapshot(me, state["id"])
    assert reopened["status"] == "error" and list(tutor.stream(me, state["id"])) == []


def test_a_second_tab_takes_over_while_the_model_writes(student):
    tutor, me = student
    state = tutor.ask(me, QUESTION)
    tab1 = tutor.stream(me, state["id"], reader="tab1")
    got1 = []
    for item in tab1:
        got1.append(item)
        if item["event"] == "content_chunk":
            break
    tab2 = list(tutor.stream(me, state["id"], reader="tab2"))
    got1 += list(tab1)
    assert text_of(got1) + text_of(tab2) == whole_text()
    assert tab2[-1]["event"] == "explanation_complete" and "streaming_paused" not in [e["event"] for e in got1]


def test_reopening_a_session_rebuilt_from_the_database_mid_generation(make_tutor, settings):
    tutor = make_tutor(**settings, TUTOR_SESSION_TTL=1)
    me = tutor.identity_of(tutor.accounts.register(EMAIL, "otter-42-moss", language="es"))
    state = tutor.ask(me, QUESTION)
    first = play(tutor, me, state["id"], after_chunks(1))
    tutor.store.delete_session(state["id"])  # the live state is gone (expired, or Redis lost it)
    assert tutor.snapshot(me, state["id"])["status"] == "paused"
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0]["event"] == "streaming_resumed" and rest[-1]["event"] == "explanation_complete"
    assert text_of(first) + text_of(rest) == whole_text()


# --- the first words arrive while the model is still writing --------------------------------------------------------

def test_text_grows_in_safe_pieces_before_its_step_is_final(student):
    tutor, me = student
    state = tutor.ask(me, QUESTION)
    events = list(tutor.stream(me, state["id"]))
    entries = log_entries(tutor, state)
    kinds = [e["type"] for e in entries]
    assert kinds.index("start") < kinds.index("text") < kinds.index("step") and kinds[-1] == "done"
    answer = build_answer(QUESTION, steps=STEPS)
    for index, step in enumerate(answer["steps"]):
        grown = "".join(e["text"] for e in entries if e["type"] in ("start", "text") and e["index"] == index)
        assert grown and step["content"].startswith(grown) and grown != step["content"]
        assert grown[-1].isspace() and grown.count("$$") % 2 == 0 and grown.count("$") % 2 == 0
    assert text_of(events) == whole_text()
    drawn = [e["data"]["command"] for e in events if e["event"] == "canvas_command"]
    stored = tutor.cache.lookup(state["question_hash"]).answer
    assert drawn == [c for step in stored.steps for c in step.canvas_commands]  # late ones drawn at once, in order


@hsettings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pauses=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=4))
def test_pause_and_resume_of_a_generated_answer_lose_and_repeat_nothing(make_tutor, slow_ai, pauses):
    tutor = make_tutor(**slow_ai[1], TUTOR_CHUNK_SIZE="20")
    me = tutor.identity_of(tutor.accounts.register(f"h{time.monotonic_ns()}@example.org", "otter-42-moss"))
    question = f"¿Qué es la energía número {time.monotonic_ns()}?"
    state = tutor.ask(me, question)
    seen = play(tutor, me, state["id"], after_chunks(pauses[0]))
    for k in pauses[1:] + [None]:
        if seen[-1]["event"] == "explanation_complete":
            break
        assert seen[-1]["event"] == "streaming_paused"
        tutor.resume(me, state["id"])
        seen += play(tutor, me, state["id"], after_chunks(k) if k else lambda *_: False)
    assert seen[-1]["event"] == "explanation_complete"
    assert text_of(seen) == whole_text(question)


def test_a_generated_answer_paused_back_at_the_character_shown_resumes_exactly(make_tutor, slow_ai):
    """The live view pauses at the last event it SHOWED (``at``), behind chunks already sent, while the model
    is still writing: resume sends those chunks again, then the rest, exactly once."""
    tutor = make_tutor(**slow_ai[1], TUTOR_CHUNK_SIZE="20")
    me = tutor.identity_of(tutor.accounts.register("gp-at@example.org", "otter-42-moss"))
    state = tutor.ask(me, QUESTION)
    reader = tutor.stream(me, state["id"])
    got = []
    while sum(e["event"] == "content_chunk" for e in got) < 5:
        got.append(next(reader))
    shown = got[:[i for i, e in enumerate(got) if e["event"] == "content_chunk"][2] + 1]
    at = (shown[-1]["data"]["step"], shown[-1]["data"]["position"])
    assert tutor.pause(me, state["id"], at=at)["position"] == at[1]
    reader.close()
    source = Source.following(state["generation_id"], state["question_hash"])
    source.poll(tutor.store)
    assert not source.finished  # the model is still writing
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert text_of(shown) + text_of(rest) == whole_text() and rest[-1]["event"] == "explanation_complete"
    tutor.generations.wait()


def test_a_bug_while_streaming_ends_the_session_with_an_error_not_a_crash(student, monkeypatch, caplog):
    tutor, me = student
    state = tutor.ask(me, QUESTION)

    def broken(*args, **kwargs):  # a bug in the reader, injected
        raise RuntimeError("boom")

    monkeypatch.setattr("core.explaining.reading.chunk_text", broken)
    events = list(tutor.stream(me, state["id"]))
    assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_failed"
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    assert [s["status"] for s in tutor.history.sessions(me)] == ["error"]
    assert tutor.snapshot(me, state["id"])["status"] == "error" and list(tutor.stream(me, state["id"])) == []
    tutor.generations.wait()
