"""Explanations end to end through the facade: cache, generation over the real SDK, pacing, pause and resume."""
import time

import pytest
import sqlalchemy as sa
from conftest import play_until_paused
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.content.library import load_lessons
from core.content.mathtext import formula_spans
from core.errors import AIError, Forbidden, InvalidInput
from core.platform import db
from core.testing.fakeai import build_answer

LESSON = load_lessons()[0]


def text_of(events):
    return "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


def names(events):
    return [e["event"] for e in events]


@pytest.fixture
def student(make_tutor, backend):
    tutor = make_tutor(**backend)
    user = tutor.accounts.register("ana@example.org", "otter-42-moss", language="es")
    return tutor, tutor.identity_of(user)


def test_library_answer_streams_whole_from_the_cache(student):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    events = list(tutor.stream(me, state["id"]))
    assert events[0]["event"] == "explanation_start"
    assert events[0]["data"]["total_steps"] == len(LESSON.answer.steps)
    assert events[0]["data"]["question_hash"] == LESSON.question.hash
    assert events[-1] == {"event": "explanation_complete",
                          "data": {"total_duration": LESSON.answer.total_duration,
                                   "steps_completed": len(LESSON.answer.steps),
                                   "verified": None}}  # lessons are checked in CI (test_mathcheck), not at run time
    assert text_of(events) == "".join(s.content for s in LESSON.answer.steps)
    assert names(events).count("step_start") == names(events).count("step_complete") == len(LESSON.answer.steps)
    drawn = [e["data"]["command"] for e in events if e["event"] == "canvas_command"]
    assert drawn == [c for s in LESSON.answer.steps for c in s.canvas_commands]
    assert tutor.cache.lookup(LESSON.question.hash).hits == 1
    kinds = [e["kind"] for e in tutor.analytics.events(user_id=me.user_id)]
    assert kinds[:2] == ["question_asked", "cache_hit"] and kinds[-1] == "complete"


def test_chunks_follow_the_protocol(student):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    position, step = 0, 0
    for item in tutor.stream(me, state["id"]):
        data = item["data"]
        if item["event"] == "step_start":
            step = data["step"]
        if item["event"] == "content_chunk":
            assert data["step"] == step and data["chunk"]
            unit = data["chunk"].strip().strip(".,;:!?¡¿()")  # a formula keeps the punctuation written after it
            assert len(data["chunk"]) <= tutor.settings.chunk_size or " " not in unit or (
                formula_spans(unit) == [(0, len(unit))]), "a long chunk must be one word or one formula"
            position += len(data["chunk"])
            assert data["position"] == position
            content = LESSON.answer.steps[step - 1].content
            assert data["is_final"] == content.endswith(data["chunk"]) and (
                data["is_final"] == (position == sum(len(s.content) for s in LESSON.answer.steps[:step])))
        if item["event"] == "canvas_command":
            assert data["command"]["at_char"] <= position - sum(
                len(s.content) for s in LESSON.answer.steps[:step - 1])


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pauses=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=4))
def test_pause_and_resume_lose_and_repeat_nothing(make_tutor, pauses):
    tutor = make_tutor()
    me = tutor.identity_of(tutor.accounts.register(f"p{time.monotonic_ns()}@example.org", "otter-42-moss"))
    state = tutor.ask(me, LESSON.question.text)
    seen = play_until_paused(tutor, me, state["id"], pauses[0])
    for k in pauses[1:] + [None]:
        assert seen[-1]["event"] in ("streaming_paused", "explanation_complete")
        if seen[-1]["event"] == "explanation_complete":
            break
        paused_at = seen[-1]["data"]["position"]
        tutor.resume(me, state["id"])
        more = play_until_paused(tutor, me, state["id"], k) if k else list(tutor.stream(me, state["id"]))
        assert more[0] == {"event": "streaming_resumed", "data": {"step": seen[-1]["data"]["step"],
                                                                  "position": paused_at}}
        seen += more
    assert text_of(seen) == "".join(s.content for s in LESSON.answer.steps)
    assert seen[-1]["event"] == "explanation_complete"


def test_pause_takes_effect_before_the_next_chunk(student):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    events = play_until_paused(tutor, me, state["id"], 3)
    assert names(events).count("content_chunk") == 3
    assert events[-1]["event"] == "streaming_paused"
    assert events[-1]["data"]["position"] == len(text_of(events))
    with tutor.engine.connect() as conn:
        row = conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == state["id"])).first()
    assert row.status == "paused" and row.position == len(text_of(events))


def test_a_pause_goes_back_to_the_character_shown_and_resends_the_rest(student):
    """A client that received chunks it had not shown yet pauses ``at`` the last one shown: resume sends the rest
    exactly from there (the chunks in flight again, nothing lost or repeated)."""
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    reader = tutor.stream(me, state["id"])
    got = []
    while sum(1 for e in got if e["event"] == "content_chunk") < 6:
        got.append(next(reader))
    third = [i for i, e in enumerate(got) if e["event"] == "content_chunk"][2]
    shown = got[:third + 1]
    at = (shown[-1]["data"]["step"], shown[-1]["data"]["position"])
    paused = tutor.pause(me, state["id"], at=at)
    reader.close()
    assert paused["status"] == "paused" and (paused["step"], paused["position"]) == at
    assert len("".join(s["text"] for s in tutor.snapshot(me, state["id"])["steps"])) == at[1]
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0] == {"event": "streaming_resumed", "data": {"step": at[0], "position": at[1]}}
    assert text_of(shown) + text_of(rest) == "".join(s.content for s in LESSON.answer.steps)
    with tutor.engine.connect() as conn:
        assert conn.execute(sa.select(db.tutor_sessions.c.status)
                            .where(db.tutor_sessions.c.id == state["id"])).scalar() == "complete"


def test_a_pause_never_moves_forward_and_refuses_a_place_outside_the_text(student):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    got = play_until_paused(tutor, me, state["id"], 2)
    reached = got[-1]["data"]["position"]
    tutor.resume(me, state["id"])
    reader = tutor.stream(me, state["id"])
    next(reader)  # streaming_resumed
    formula = formula_spans(LESSON.answer.steps[0].content)[0]
    for at in ((1, formula[0] + 2), (99, 0), (1, 10**6), (-1, 0), (0, 5)):
        with pytest.raises(InvalidInput) as error:
            tutor.pause(me, state["id"], at=at)
        assert error.value.code == "invalid_position"
        assert tutor.store.get_session(state["id"], ttl=60)["status"] == "streaming"  # nothing paused
    reader.close()
    ahead = tutor.pause(me, state["id"], at=(1, reached + 40))  # beyond the reader: paused where it stands
    assert ahead["status"] == "paused" and ahead["position"] == reached


def test_another_process_resumes_exactly(student, make_tutor, backend):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    first = play_until_paused(tutor, me, state["id"], 4)
    other = make_tutor(**backend)
    other.resume(me, state["id"])
    rest = list(other.stream(me, state["id"]))
    assert text_of(first) + text_of(rest) == "".join(s.content for s in LESSON.answer.steps)


def test_resume_after_the_live_session_expired(make_tutor):
    tutor = make_tutor(TUTOR_SESSION_TTL=1)
    me = tutor.identity_of(tutor.accounts.register("ttl@example.org", "otter-42-moss"))
    state = tutor.ask(me, LESSON.question.text)
    first = play_until_paused(tutor, me, state["id"], 2)
    time.sleep(1.3)
    assert tutor.store.get_session(state["id"], ttl=1) is None
    tutor.resume(me, state["id"])
    rest = list(tutor.stream(me, state["id"]))
    assert rest[0]["event"] == "streaming_resumed"
    assert text_of(first) + text_of(rest) == "".join(s.content for s in LESSON.answer.steps)


def test_a_second_reader_takes_over_cleanly(student):
    tutor, me = student
    state = tutor.ask(me, LESSON.question.text)
    tab1 = tutor.stream(me, state["id"], reader="tab1")
    got1 = [next(tab1) for _ in range(4)]
    tab2 = list(tutor.stream(me, state["id"], reader="tab2"))
    got1 += list(tab1)
    assert text_of(got1) + text_of(tab2) == "".join(s.content for s in LESSON.answer.steps)
    assert "streaming_paused" not in names(got1)


def test_only_the_owner_may_stream_pause_or_resume(student):
    tutor, me = student
    intruder = tutor.identity_of(tutor.accounts.register("eve@example.org", "otter-42-moss"))
    state = tutor.ask(me, LESSON.question.text)
    for action in (lambda: list(tutor.stream(intruder, state["id"])), lambda: tutor.pause(intruder, state["id"]),
                   lambda: tutor.resume(intruder, state["id"])):
        with pytest.raises(Forbidden) as error:
            action()
        assert error.value.code == "forbidden"
    assert tutor.store.get_session(state["id"], ttl=60)["position"] == 0


@pytest.mark.parametrize("question, code", [("", "question_empty"), ("x" * 5000, "question_too_long"),
                                            ("<script>alert(1)</script>", "invalid_text"), (None, "question_not_text")])
def test_bad_questions_create_nothing(student, question, code):
    tutor, me = student
    with pytest.raises(InvalidInput) as error:
        tutor.ask(me, question)
    assert error.value.code == code
    with tutor.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.tutor_sessions)).scalar() == 0


def test_a_miss_without_provider_says_how_to_configure(student):
    tutor, me = student
    with pytest.raises(AIError) as error:
        tutor.ask(me, "¿Cuánto pesa un elefante africano en la Luna?")
    assert error.value.code == "ai_unavailable"
    # a student never sees an operator's hint; admins get it from tutor.setup_hint
    assert "OPENAI" not in error.value.message_for("es") and "OPENAI" not in error.value.message_for("en")


# --- generation through the real SDK against the loopback server ---------------------------------------------------

@pytest.fixture
def generating(make_tutor, backend, ai):
    tutor = make_tutor(**backend, **ai)
    me = tutor.identity_of(tutor.accounts.register("gen@example.org", "otter-42-moss", language="es"))
    return tutor, me


def test_uncached_question_generates_caches_and_then_hits(generating, fake_ai):
    tutor, me = generating
    question = "¿Qué es un número primo?"
    state = tutor.ask(me, question)
    events = list(tutor.stream(me, state["id"]))
    assert events[-1]["event"] == "explanation_complete"
    start = next(e for e in events if e["event"] == "explanation_start")
    assert start["data"]["total_steps"] is None
    expected = build_answer(question)
    assert text_of(events) == "".join(s["content"] for s in expected["steps"])
    assert len(fake_ai.calls) == 1
    assert fake_ai.calls[0]["response_format"]["type"] == "json_schema"
    again = tutor.ask(me, "¿qué es un número primo")
    assert text_of(list(tutor.stream(me, again["id"]))) == text_of(events)
    assert len(fake_ai.calls) == 1
    kinds = [e["kind"] for e in tutor.analytics.events()]
    assert {"cache_miss", "generation", "cache_hit", "complete"} <= set(kinds)


def test_first_step_arrives_before_the_model_finishes(make_tutor, ai):
    from core.testing.fakeai import FakeAI
    with FakeAI(tokens_per_second=150, answer_for=lambda q: build_answer(q, steps=5)) as slow:
        tutor = make_tutor(**{**ai, "OPENAI_BASE_URL": slow.base_url})
        me = tutor.identity_of(tutor.accounts.register("fast@example.org", "otter-42-moss"))
        state = tutor.ask(me, "Explain momentum")
        events = tutor.stream(me, state["id"])
        waiting = []
        for item in events:
            if item["event"] == "waiting_phrase":
                waiting.append(item)
            if item["event"] == "content_chunk":
                log = tutor.store.read(state["generation_id"])
                assert not any(entry["type"] == "done" for _, entry in log), "generation had already finished"
                break
        assert waiting and waiting[0]["data"]["message"]
        rest = list(events)
        assert rest[-1]["event"] == "explanation_complete"


@pytest.mark.parametrize("failure, code", [("429", "ai_rate_limited"), ("500", "ai_failed"),
                                           ("timeout", "ai_timeout"), ("drop", "ai_failed")])
def test_provider_failures_end_with_an_error_and_cache_nothing(make_tutor, ai, fake_ai, failure, code):
    fake_ai.hang_seconds = 3
    tutor = make_tutor(**{**ai, "TUTOR_AI_TIMEOUT": "1"})
    me = tutor.identity_of(tutor.accounts.register("err@example.org", "otter-42-moss"))
    fake_ai.fail_next(failure)
    state = tutor.ask(me, "¿Por qué el cielo es azul?")
    events = list(tutor.stream(me, state["id"]))
    assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == code
    assert events[-1]["data"]["message"]
    assert tutor.cache.lookup(state["question_hash"]) is None
    assert any(e["kind"] == "error" for e in tutor.analytics.events())


def test_the_sdk_retries_before_giving_up(make_tutor, ai, fake_ai):
    tutor = make_tutor(**{**ai, "TUTOR_AI_MAX_RETRIES": "2"})
    me = tutor.identity_of(tutor.accounts.register("retry@example.org", "otter-42-moss"))
    fake_ai.fail_next("429", "500")
    state = tutor.ask(me, "¿Por qué flotan los barcos?")
    assert list(tutor.stream(me, state["id"]))[-1]["event"] == "explanation_complete"
    assert len(fake_ai.calls) == 3


@pytest.mark.parametrize("failure", ["malformed", "invalid_answer", "length"])
def test_invalid_output_gets_one_repair(make_tutor, ai, fake_ai, failure):
    tutor = make_tutor(**ai)
    me = tutor.identity_of(tutor.accounts.register("fix@example.org", "otter-42-moss"))
    fake_ai.fail_next(failure)
    state = tutor.ask(me, "¿Qué es la energía cinética?")
    events = list(tutor.stream(me, state["id"]))
    assert events[-1]["event"] == "explanation_complete"
    assert len(fake_ai.calls) == 2
    assert "could not be used" in fake_ai.calls[1]["messages"][-1]["content"]
    assert tutor.cache.lookup(state["question_hash"]) is not None


def test_invalid_output_twice_is_a_clear_error(make_tutor, ai, fake_ai):
    tutor = make_tutor(**ai)
    me = tutor.identity_of(tutor.accounts.register("fix2@example.org", "otter-42-moss"))
    fake_ai.fail_next("malformed", "invalid_answer")
    state = tutor.ask(me, "¿Qué es la energía potencial?")
    events = list(tutor.stream(me, state["id"]))
    assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_invalid_output"
    assert tutor.cache.lookup(state["question_hash"]) is None


def test_model_html_is_refused_and_repaired(make_tutor, ai, fake_ai):
    def answer(question):
        built = build_answer(question)
        if len(fake_ai.calls) == 1:
            built["steps"][0]["content"] = "<script>alert(1)</script> hola"
        return built
    fake_ai.answer_for = answer
    tutor = make_tutor(**ai)
    me = tutor.identity_of(tutor.accounts.register("xss@example.org", "otter-42-moss"))
    state = tutor.ask(me, "¿Qué es un vector?")
    events = list(tutor.stream(me, state["id"]))
    assert "<script" not in text_of(events) and events[-1]["event"] == "explanation_complete"


def test_concurrent_askers_in_one_process_share_one_generation(make_tutor, ai):
    from core.testing.fakeai import FakeAI
    with FakeAI(tokens_per_second=400) as slow:
        tutor = make_tutor(**{**ai, "OPENAI_BASE_URL": slow.base_url})
        users = [tutor.identity_of(tutor.accounts.register(f"u{i}@example.org", "otter-42-moss")) for i in range(4)]
        states = [tutor.ask(u, "¿Qué es la inercia?") for u in users]
        texts = {text_of(list(tutor.stream(u, s["id"]))) for u, s in zip(users, states)}
        assert len(texts) == 1 and len(slow.calls) == 1
