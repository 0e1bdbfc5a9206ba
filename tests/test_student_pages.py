"""What a student reaches on the pages, through AppTest in Spanish and English: the sidebar (who, credits and what
things cost, joining a class), the chat on a step (its title, its first words, the way back), the chat's empty
hint, and editing a question or asking for another explanation."""
from __future__ import annotations

import pytest
from app_support import PASSWORD, signed_in
from streamlit.testing.v1 import AppTest

from core.content.library import load_lessons
from core.errors import NotFound
from core.school.chat import excerpt
from ui.render import message_markdown, plain_markdown
from ui.texts import t

LESSON = {language: next(lesson for lesson in load_lessons() if lesson.question.language == language)
          for language in ("es", "en")}
NEW_QUESTION = {"es": "¿Cuánto es 7 por 8?", "en": "What is 7 times 8?"}
LANGUAGES = pytest.mark.parametrize("lang", ["es", "en"])


@pytest.fixture
def tutor(app_settings, make_tutor):
    tutor = make_tutor(**app_settings)
    teacher = tutor.accounts.register("profe@example.org", PASSWORD, role="teacher", name="Profe")
    tutor.klass = tutor.accounts.create_class(teacher, "3º B")
    return tutor


@pytest.fixture
def with_ai(app_settings, ai, monkeypatch):
    for name, value in ai.items():
        monkeypatch.setenv(name, value)
    app_settings.update(ai)


def student(tutor, lang: str, name: str = "Ana"):
    user = tutor.accounts.register(f"{name.lower()}-{lang}@example.org", PASSWORD, name=name, language=lang)
    return tutor.identity_of(user)


def sidebar_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]


def credits_line(at: AppTest) -> str:
    return at.get_by_key("sidebar_credits").markdown[0].value


# --- the sidebar ----------------------------------------------------------------------------------------------------

@LANGUAGES
def test_the_sidebar_names_the_user_once_and_shows_credits_and_prices(tutor, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    texts = sidebar_texts(at)
    assert sum(plain_markdown(me.email) in text for text in texts) == 1  # the name first, the email once
    assert credits_line(at).endswith(t("credits_left", lang, count=10))
    prices = at.get_by_key("sidebar_credits").caption[0].value
    assert prices == t("credits_prices", lang, generation=1, chat=5)
    assert ("1 crédito" in prices and "5 mensajes" in prices) if lang == "es" else "1 credit" in prices
    nameless = tutor.identity_of(tutor.accounts.register(f"x-{lang}@example.org", PASSWORD, language=lang))
    at = signed_in(nameless.email)
    assert sum(plain_markdown(nameless.email) in text for text in sidebar_texts(at)) == 1


@LANGUAGES
def test_the_balance_drops_on_the_run_that_asks_and_not_for_a_lesson(tutor, with_ai, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    at.text_area(key="question").input(LESSON[lang].question.text)
    at.button(key="ask").click().run()
    assert credits_line(at).endswith(t("credits_left", lang, count=10))  # a lesson is free
    at.text_area(key="question").input(NEW_QUESTION[lang])
    at.button(key="ask").click().run()
    assert not at.exception and not at.error
    assert credits_line(at).endswith(t("credits_left", lang, count=9))
    assert tutor.credits.balance(me) == 9


@LANGUAGES
def test_a_student_joins_a_class_from_the_sidebar(tutor, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)

    def join(code: str) -> AppTest:
        at.sidebar.text_input(key="join_class_code").input(code)
        at.sidebar.button(key="join_class_submit").click().run()
        assert not at.exception
        return at

    join("ZZZZZZ")
    assert [e.value for e in at.sidebar.error] == [NotFound("unknown_class", code="ZZZZZZ").message_for(lang)]
    join(tutor.klass.join_code.lower())
    assert [s.value for s in at.sidebar.success] == [t("joined_class", lang, name="3º B")]
    assert t("your_classes", lang, names="3º B") in sidebar_texts(at)
    assert [c.name for c in tutor.classes(me)] == ["3º B"]
    join(tutor.klass.join_code)
    assert "3º B" in at.sidebar.error[0].value and at.sidebar.error[0].value.startswith(
        "Ya estás" if lang == "es" else "You are already")


def test_teachers_see_their_credits_but_no_join_form(tutor):
    at = signed_in("profe@example.org")
    assert credits_line(at)
    assert "join_class_submit" not in {b.key for b in at.sidebar.button}


# --- the chat on a step -------------------------------------------------------------------------------------------

@LANGUAGES
def test_a_chat_on_a_step_shows_the_step_and_links_back_to_it(tutor, with_ai, lang):
    me = student(tutor, lang)
    lesson = LESSON[lang]
    at = signed_in(me.email)
    at.text_area(key="question").input(lesson.question.text)
    at.button(key="ask").click().run()
    session_id = at.query_params["session"]
    # the step's "ask about this step" button lives in the live component (clicked in tests/test_live_browser.py);
    # it opens the chat page on the chat the page creates for that step:
    chat = tutor.chats.create(me, explanation_id=session_id, step=2)
    at.switch_page("app_pages/chat.py")
    at.query_params["chat"] = chat["id"]
    at.run()
    assert not at.exception
    box = at.get_by_key("chat_about")
    assert box.caption[0].value == t("chat_on_step", lang, step=2, question=plain_markdown(lesson.question.text))
    step = lesson.answer.steps[1]
    [about] = [m.value for m in box.markdown]
    assert about == f"**{message_markdown(step.title)}** — {message_markdown(excerpt(step.content))}".strip()
    assert len(excerpt(step.content)) <= 141
    [link] = box.get("page_link")
    assert link.proto.label == t("chat_back_to_step", lang, step=2)
    assert link.proto.query_string == f"session={session_id}&step=2"
    # the picker words the step in the page's language ("… · paso 2"), not a bare number
    [picker] = [s for s in at.selectbox if s.key == "chat_pick"]
    assert any(o.startswith(t("chat_step_title", lang, title=lesson.question.text, step=2) + " · ")
               for o in picker.options), picker.options


@LANGUAGES
def test_the_chat_hint_goes_once_the_first_message_is_sent(tutor, with_ai, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    at.switch_page("app_pages/chat.py").run()
    assert t("chat_empty", lang) in [c.value for c in at.caption]
    at.chat_input(key="chat_input").set_value(NEW_QUESTION[lang]).run()
    assert not at.exception and not at.error
    assert t("chat_empty", lang) not in [c.value for c in at.caption]
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


# --- editing the question and another explanation -------------------------------------------------------------------

@LANGUAGES
def test_edit_puts_the_question_back_in_the_box(tutor, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    at.text_area(key="question").input(LESSON[lang].question.text)
    at.button(key="ask").click().run()
    assert at.button(key="edit_question").label == t("edit_question", lang)
    at.button(key="edit_question").click().run()
    assert at.text_area(key="question").value == LESSON[lang].question.text


@LANGUAGES
def test_another_explanation_is_new_paid_and_the_old_one_stays(tutor, with_ai, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    at.text_area(key="question").input(LESSON[lang].question.text)
    at.button(key="ask").click().run()
    first = at.query_params["session"]
    button = at.button(key="another_explanation")
    assert button.label == t("another_explanation", lang) and button.help == t("another_explanation_help", lang)
    button.click().run()
    assert not at.exception and not at.error
    second = at.query_params["session"]
    assert second != first
    assert tutor.snapshot(me, second)["answer_id"] != tutor.snapshot(me, first)["answer_id"]
    assert tutor.credits.balance(me) == 9
    assert credits_line(at).endswith(t("credits_left", lang, count=9))
    assert {row["id"] for row in tutor.history.sessions(me)} == {first, second}


@LANGUAGES
def test_another_explanation_without_a_provider_says_why(tutor, lang):
    me = student(tutor, lang)
    at = signed_in(me.email)
    at.text_area(key="question").input(LESSON[lang].question.text)
    at.button(key="ask").click().run()
    first = at.query_params["session"]
    at.button(key="another_explanation").click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert ("proveedor de IA" in error) if lang == "es" else ("AI provider" in error)
    assert [row["id"] for row in tutor.history.sessions(me)] == [first]
    assert tutor.credits.balance(me) == 10
