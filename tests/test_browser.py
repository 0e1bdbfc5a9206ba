"""The app in a real browser: Playwright for Python driving Debian's Chromium against a real ``streamlit run``.

One server per module, on a free loopback port, with its data prepared through the facade. The pacing is slowed
(``TUTOR_CHUNK_DELAY_MS=80``, small chunks) so there is time to pause mid-stream. Things are found by the
``.st-key-<key>`` classes Streamlit gives keyed widgets and containers.

Set ``TUTOR_SCREENSHOTS=<folder>`` to also save the screenshots used in the README.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import (
    PASSWORD,
    TIMEOUT_MS,
    chromium,
    key,
    require_browser,
    screenshot,
    server_settings,
    sign_in,
    streamlit_running,
)

from core import create_tutor
from core.content.answers import validate_answer
from core.content.library import load_lessons
from core.content.mathtext import formula_spans
from core.content.questions import prepare
from core.platform.i18n import WAITING_PHRASES
from core.testing.fakeai import FakeAI, build_answer

ROOT = Path(__file__).resolve().parent.parent
LESSONS = load_lessons()
LESSON = next(l for l in LESSONS if l.question.language == "es" and
              sum(len(s.canvas_commands) for s in l.answer.steps) >= 5 and "$" not in "".join(
                  s.title for s in l.answer.steps))
OTHER = next(l for l in LESSONS if l.question.language == "es" and l is not LESSON)
XSS_QUESTION = "¿Qué dibuja la pizarra de prueba?"
XSS_TEXT = "<script>alert(1)</script>"
GENERATED_QUESTION = "¿Qué es un número primo?"
LONG_REPLY = " ".join(["Un número primo solo se divide entre 1 y entre sí mismo, como $7$ o $13$."] * 20)


# --- the server ---------------------------------------------------------------------------------------------------

def _xss_answer():
    answer, dropped = validate_answer({"steps": [{
        "title": "Una pizarra con texto peligroso",
        "type": "text",
        "content": "La pizarra muestra un texto que parece código; debe verse como texto y no ejecutarse nunca.",
        "canvas_commands": [{"op": "axes", "x_min": -5, "x_max": 5, "y_min": -5, "y_max": 5},
                            {"op": "text", "x": -4, "y": 2, "text": XSS_TEXT, "color": "red"},
                            {"op": "point", "x": 1, "y": 1, "label": "<img src=x onerror=alert(2)>"}],
    }], "total_duration": 20})
    assert not dropped
    return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ``streamlit run`` on loopback with two students and a teacher; yields (base url, tutor)."""
    require_browser()
    data = tmp_path_factory.mktemp("browser-data")
    settings = server_settings(data, TUTOR_CHUNK_DELAY_MS="80", TUTOR_CHUNK_SIZE="20", TUTOR_DEFAULT_LANGUAGE="es")
    tutor = create_tutor(settings, environ={}, env_file=None)  # no provider here: the server has the fake one
    tutor.accounts.register("ana@example.org", PASSWORD, name="Ana", language="es")
    tutor.accounts.register("eve@example.org", PASSWORD, name="Eve", language="es")
    teacher = tutor.accounts.register("teo@example.org", PASSWORD, name="Teo", role="teacher", language="en")
    tutor.accounts.create_class(teacher, "4ºB")
    tutor.cache.store(prepare(XSS_QUESTION, language="es", limit=1000), _xss_answer(), model="test",
                      prompt_version="test", source="library")

    fake = FakeAI(tokens_per_second=40, answer_for=lambda question: build_answer(question, steps=2),
                  reply_for=lambda messages: LONG_REPLY).start()
    settings.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="test", TUTOR_AI_MAX_RETRIES="0")

    try:
        with streamlit_running(data, settings) as url:
            yield url, tutor
    finally:
        tutor.close()
        fake.stop()


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="es-ES")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def dialogs(context):
    """Every JavaScript dialog any page opens (there must be none)."""
    opened: list[str] = []
    context.on("page", lambda page: page.on("dialog", lambda d: (opened.append(d.message), d.dismiss())))
    return opened


# --- helpers ------------------------------------------------------------------------------------------------------

def ask(page, question: str) -> None:
    page.locator(key("question") + " textarea").fill(question)
    page.locator(key("ask") + " button").click()


def session_of(page) -> str:
    page.wait_for_url(re.compile(r"[?&]session="))
    return parse_qs(urlparse(page.url).query)["session"][0]


def explanation_text(page) -> str:
    return page.locator(key("explanation")).inner_text()


def identity(tutor, email: str):
    return tutor.identity_of(tutor.accounts.by_email(email))


def plain_tail(content: str, words: int = 4) -> str:
    """The last run of a few words that render exactly as written (no maths or Markdown in them)."""
    for start, end in reversed(formula_spans(content)):
        content = content[:start] + " $ " + content[end:]
    run: list[str] = []
    for word in reversed(content.split()):
        if re.search(r"[$\\*_`#\[\]]", word):
            if len(run) >= 2:
                break
            run = []
            continue
        run.insert(0, word)
        if len(run) == words:
            break
    assert len(run) >= 2, content
    return " ".join(run)


# --- tests --------------------------------------------------------------------------------------------------------

def test_pause_stops_reload_keeps_resume_finishes_exactly(server, context, dialogs):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    cookie = next(c for c in context.cookies() if c["name"] == "tutor_token")
    assert cookie["sameSite"] == "Strict" and cookie["value"] not in page.url
    ask(page, LESSON.question.text)
    session_id = session_of(page)
    me = identity(tutor, "ana@example.org")
    page.locator(key("pause") + " button").wait_for()
    page.wait_for_function("s => (document.querySelector(s)?.innerText || '').length > 250", arg=key("explanation"))

    page.locator(key("pause") + " button").click()
    page.locator(key("resume") + " button").wait_for()
    paused_text = explanation_text(page)
    paused = tutor.snapshot(me, session_id)
    assert paused["status"] == "paused"
    assert 0 < paused["position"] < LESSON.answer.text_length  # stopped mid-stream
    time.sleep(1.0)  # the visible text and the saved position stay put
    assert explanation_text(page) == paused_text
    assert tutor.snapshot(me, session_id)["position"] == paused["position"]

    page.reload()
    page.locator(key("resume") + " button").wait_for()
    assert explanation_text(page) == paused_text  # exactly what was reached, from core's session store
    assert tutor.snapshot(me, session_id)["position"] == paused["position"]

    page.locator(key("resume") + " button").click()
    page.locator(key("rate_submit") + " button").wait_for(timeout=60_000)
    done = tutor.snapshot(me, session_id)
    assert done["status"] == "complete"
    assert [s["text"] for s in done["steps"]] == [s.content for s in LESSON.answer.steps]
    shown = explanation_text(page)
    for step in LESSON.answer.steps:
        assert shown.count(step.title) == 1
    assert plain_tail(LESSON.answer.steps[-1].content) in shown
    assert page.locator(key("canvas") + " svg").count() == 1
    screenshot(page, "ask-complete")
    assert dialogs == []


def test_a_second_tab_takes_over_cleanly(server, context):
    base, tutor = server
    first = context.new_page()
    sign_in(first, base, "eve@example.org")
    ask(first, OTHER.question.text)
    session_id = session_of(first)
    first.locator(key("pause") + " button").wait_for()
    second = context.new_page()  # same browser, so already signed in through the cookie
    second.goto(first.url)
    second.locator(key("pause") + " button").wait_for()
    first.locator(key("take_over") + " button").wait_for()
    second.wait_for_function("s => (document.querySelector(s)?.innerText || '').length > 500", arg=key("explanation"))
    screenshot(second, "ask-streaming")
    assert first.locator(key("pause")).count() == 0
    second.locator(key("rate_submit") + " button").wait_for(timeout=60_000)
    me = identity(tutor, "eve@example.org")
    done = tutor.snapshot(me, session_id)
    assert done["status"] == "complete"
    assert [s["text"] for s in done["steps"]] == [s.content for s in OTHER.answer.steps]
    first.locator(key("take_over") + " button").click()  # back in the first tab: the finished explanation
    first.locator(key("rate_submit") + " button").wait_for()
    assert plain_tail(OTHER.answer.steps[-1].content) in explanation_text(first)


def test_markup_in_a_question_is_refused_and_stays_inert(server, context, dialogs):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, "<img src=x onerror=alert(1)>")
    error = page.locator("[data-testid='stAlertContentError']")
    error.wait_for()
    assert "El texto no es válido: HTML." in error.inner_text()
    assert page.locator("img[src='x']").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_script_in_canvas_text_renders_as_text(server, context, dialogs):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, XSS_QUESTION)
    page.locator(key("rate_submit") + " button").wait_for()
    board = page.locator(key("canvas"))
    assert board.locator("svg text", has_text=XSS_TEXT).count() == 1
    assert board.locator("script").count() == 0 and page.locator("img[src='x']").count() == 0
    assert "onerror" in board.inner_text()  # the label is shown, as text
    page.wait_for_timeout(300)
    assert dialogs == []


def test_a_student_cannot_reach_the_teacher_page(server, context):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "ana@example.org", path="/teacher")  # a visitor at /teacher gets the sign-in form
    notice = page.get_by_text("Esta página no está disponible para tu cuenta.")
    notice.wait_for()
    teacher = tutor.accounts.by_email("teo@example.org")
    [klass] = tutor.accounts.classes_of(teacher)
    assert page.get_by_text(klass.join_code).count() == 0
    assert page.locator(key("class_create")).count() == 0
    assert page.get_by_text("Page not found").count() == 0
    page.get_by_role("link", name="Ir a Preguntar").click()  # the app is not inert
    page.locator(key("question") + " textarea").wait_for()


def test_a_teacher_sees_the_join_codes_and_history_works(server, context):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "teo@example.org", path="/teacher")
    teacher = tutor.accounts.by_email("teo@example.org")
    [klass] = tutor.accounts.classes_of(teacher)
    page.get_by_text(klass.join_code).wait_for()

    student = context.browser.new_context(viewport={"width": 1400, "height": 900}, locale="es-ES")
    try:
        history = student.new_page()
        sign_in(history, base, "ana@example.org", path="/history")
        history.locator(key("history_list")).wait_for()
        me = identity(tutor, "ana@example.org")
        rows = tutor.history.sessions(me)
        assert rows, "the earlier tests asked questions"
        history.locator(key(f"session_{rows[0]['id']}")).wait_for()
        with history.expect_download() as download:
            history.locator(key(f"md_{rows[0]['id']}") + " button").click()
        markdown = Path(download.value.path()).read_text(encoding="utf-8")
        assert markdown == tutor.history.export_markdown(me, rows[0]["id"])
        screenshot(history, "history")
    finally:
        student.close()


def test_waiting_phrases_then_the_generated_steps(server, context):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "eve@example.org")
    ask(page, GENERATED_QUESTION)
    session_id = session_of(page)
    waiting = page.get_by_text(re.compile("|".join(re.escape(p) for p in WAITING_PHRASES["es"])))
    waiting.first.wait_for()
    page.locator(key("step_1")).wait_for(timeout=60_000)
    waiting.first.wait_for(state="hidden")  # the live view hides its waiting line once text flows
    page.locator(key("rate_submit") + " button").wait_for(timeout=60_000)
    me = identity(tutor, "eve@example.org")
    done = tutor.snapshot(me, session_id)
    cached = tutor.cache.get(done["answer_id"])
    assert done["status"] == "complete"
    assert [s["text"] for s in done["steps"]] == [s.content for s in cached.answer.steps]
    assert plain_tail(cached.answer.steps[-1].content) in explanation_text(page)


def test_chat_stop_keeps_the_reply_as_far_as_it_got(server, context):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "eve@example.org", path="/chat")
    page.locator(key("chat_input") + " textarea").fill("¿Qué es un número primo?")
    page.keyboard.press("Enter")
    page.locator(key("chat_stop") + " button").wait_for()
    assistant = page.locator("[data-testid='stChatMessage']").nth(1)
    page.wait_for_function("() => (document.querySelectorAll('[data-testid=stChatMessage]')[1]?.innerText || '')"
                           ".length > 120")
    page.locator(key("chat_stop") + " button").click()
    page.get_by_text("Respuesta detenida.").wait_for()
    assert page.locator(key("chat_stop")).count() == 0
    me = identity(tutor, "eve@example.org")
    chat_id = parse_qs(urlparse(page.url).query)["chat"][0]
    history = tutor.chats.history(me, chat_id)
    assert [m["role"] for m in history] == ["user", "assistant"]
    saved = history[1]["content"]
    assert 0 < len(saved) < len(LONG_REPLY) and LONG_REPLY.startswith(saved)
    time.sleep(1.0)  # stopped for good: nothing more arrives
    assert tutor.chats.history(me, chat_id)[1]["content"] == saved
    assert plain_tail(saved, 2) in assistant.inner_text()


def test_pause_reload_resume_while_the_model_is_still_writing(server, context, dialogs):
    base, tutor = server
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, "¿Qué es la energía cinética de rotación?")
    session_id = session_of(page)
    me = identity(tutor, "ana@example.org")
    page.wait_for_function("s => (document.querySelector(s)?.innerText || '').length > 40", arg=key("step_1"))
    page.locator(key("pause") + " button").click()
    page.locator(key("resume") + " button").wait_for()
    paused = tutor.snapshot(me, session_id)
    assert paused["status"] == "paused" and paused["answer_id"] is None  # the model was still writing
    paused_text = explanation_text(page)

    page.reload()
    page.locator(key("resume") + " button").wait_for()
    assert explanation_text(page) == paused_text
    page.locator(key("resume") + " button").click()
    page.locator(key("rate_submit") + " button").wait_for(timeout=60_000)
    done = tutor.snapshot(me, session_id)
    cached = tutor.cache.get(done["answer_id"])
    assert done["status"] == "complete"
    assert [s["text"] for s in done["steps"]] == [s.content for s in cached.answer.steps]
    assert plain_tail(cached.answer.steps[-1].content) in explanation_text(page)
    assert dialogs == []
