import pytest

from core.content.library import load_lessons
from core.errors import AIError, Forbidden, InsufficientCredits, InvalidInput
from core.testing.fakeai import default_reply

LESSON = load_lessons()[0]


@pytest.fixture
def chatting(make_tutor, backend, ai):
    tutor = make_tutor(**backend, **ai)
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    return tutor, me


def test_reply_streams_word_by_word_and_is_saved(chatting, fake_ai):
    tutor, me = chatting
    session = tutor.chats.create(me, title="Derivadas")
    events = list(tutor.chats.send(me, session["id"], "¿Qué es una derivada?"))
    assert events[0] == {"event": "start", "data": {"session_id": session["id"]}}
    contents = [e["data"]["content"] for e in events if e["event"] == "content"]
    assert len(contents) > 3 and all(c.endswith((" ", "\n")) for c in contents[:-1])
    done = events[-1]
    assert done["event"] == "done" and done["data"]["full_content"] == "".join(contents)
    assert done["data"]["full_content"] == default_reply(fake_ai.calls[0]["messages"])
    history = tutor.chats.history(me, session["id"])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["id"] == done["data"]["message_id"] and history[1]["content"] == done["data"]["full_content"]


def test_context_is_the_last_ten_messages(chatting, fake_ai):
    tutor, me = chatting
    session = tutor.chats.create(me)
    for i in range(7):
        list(tutor.chats.send(me, session["id"], f"mensaje {i}"))
    sent = fake_ai.calls[-1]["messages"]
    assert sent[0]["role"] == "system"
    assert len(sent) == 1 + 10 + 1
    assert sent[-1] == {"role": "user", "content": "mensaje 6"}
    assert sent[1]["content"] == "mensaje 1", "12 earlier messages: the context keeps the last 10"


def test_chat_on_a_step_carries_the_explanation(chatting, fake_ai):
    tutor, me = chatting
    state = tutor.ask(me, LESSON.question.text)
    list(tutor.stream(me, state["id"]))
    session = tutor.chats.create(me, explanation_id=state["id"], step=2)
    list(tutor.chats.send(me, session["id"], "No entiendo el paso 2"))
    system = fake_ai.calls[-1]["messages"][0]["content"]
    assert LESSON.answer.steps[1].title in system and "<- the student asks about this step" in system
    assert LESSON.answer.steps[0].content in system


def test_stopping_a_reply_keeps_what_was_written(chatting):
    tutor, me = chatting
    session = tutor.chats.create(me)
    stream = tutor.chats.send(me, session["id"], "Hola")
    got = [next(stream) for _ in range(3)]
    stream.close()
    history = tutor.chats.history(me, session["id"])
    assert history[-1]["role"] == "assistant"
    assert history[-1]["content"] == "".join(e["data"]["content"] for e in got if e["event"] == "content")


def test_provider_error_is_an_error_event(chatting, fake_ai):
    tutor, me = chatting
    session = tutor.chats.create(me)
    fake_ai.fail_next("500")
    events = list(tutor.chats.send(me, session["id"], "Hola"))
    assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_failed"


def test_ownership_and_bad_input(chatting):
    tutor, me = chatting
    eve = tutor.identity_of(tutor.accounts.register("eve@example.org", "otter-42-moss"))
    session = tutor.chats.create(me)
    with pytest.raises(Forbidden):
        list(tutor.chats.send(eve, session["id"], "hola"))
    with pytest.raises(Forbidden):
        tutor.chats.history(eve, session["id"])
    for bad, code in (("", "question_empty"), ("<script>x</script>", "invalid_text"), ("x" * 3000, "question_too_long")):
        with pytest.raises(InvalidInput) as error:
            list(tutor.chats.send(me, session["id"], bad))
        assert error.value.code == code
    assert tutor.chats.history(me, session["id"]) == []


def test_no_provider(make_tutor):
    tutor = make_tutor()
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    session = tutor.chats.create(me)
    with pytest.raises(AIError) as error:
        list(tutor.chats.send(me, session["id"], "hola"))
    assert error.value.code == "ai_unavailable"


def test_a_refused_message_raises_before_iteration(chatting):
    tutor, me = chatting
    session = tutor.chats.create(me)
    with pytest.raises(InvalidInput):
        tutor.chats.send(me, session["id"], "")
    assert tutor.chats.history(me, session["id"]) == []


def balance(tutor, me) -> int:
    return tutor.credits.balance(me)


def test_chat_at_zero_credits_is_refused_before_the_provider_is_called(make_tutor, backend, ai, fake_ai):
    tutor = make_tutor(**backend, **ai, TUTOR_STARTING_CREDITS=0)
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    session = tutor.chats.create(me)
    for _ in range(3):
        with pytest.raises(InsufficientCredits) as refused:
            tutor.chats.send(me, session["id"], "¿Qué es una derivada?")
        assert refused.value.code == "insufficient_credits"
    assert fake_ai.calls == [] and tutor.chats.history(me, session["id"]) == []


def test_one_credit_pays_for_a_group_of_messages(make_tutor, backend, ai, fake_ai):
    tutor = make_tutor(**backend, **ai, TUTOR_STARTING_CREDITS=2, TUTOR_CHAT_MESSAGES_PER_CREDIT=3)
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    session = tutor.chats.create(me)
    balances = []
    for number in range(6):
        assert list(tutor.chats.send(me, session["id"], f"pregunta {number}"))[-1]["event"] == "done"
        balances.append(balance(tutor, me))
    assert balances == [1, 1, 1, 0, 0, 0]  # one credit per 3 messages, taken with the 1st and the 4th
    with pytest.raises(InsufficientCredits):
        tutor.chats.send(me, session["id"], "una más")
    assert len(fake_ai.calls) == 6
    assert [row["reason"] for row in tutor.credits.ledger(me)].count("chat") == 2


def test_chat_can_be_free(make_tutor, ai):
    tutor = make_tutor(**ai, TUTOR_STARTING_CREDITS=0, TUTOR_CHAT_MESSAGES_PER_CREDIT=0)
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    session = tutor.chats.create(me)
    assert list(tutor.chats.send(me, session["id"], "hola"))[-1]["event"] == "done"
