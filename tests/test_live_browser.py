"""The live explanation component in Chromium: the stream, the whiteboard patches, maths, hostile content,
keyboard use, a phone-sized screen, a network drop. The server and helpers are tests/test_browser.py's."""
from __future__ import annotations

import dataclasses
import re
import time

from test_browser import (  # noqa: F401
    GENERATED_QUESTION,
    LESSONS,
    ask,
    browser,
    context,
    dialogs,
    identity,
    key,
    server,
    session_of,
    sign_in,
)

from core.content.answers import validate_answer
from core.content.questions import prepare

HOSTILE_QUESTION = "¿Qué hace el texto hostil de la prueba?"
HOSTILE_STEP = ("Texto <img src=x onerror=alert(1)> y <script>alert(2)</script> y "
                "[clic](javascript:alert(3)) y [bien](https://example.org) y "
                "![foto](https://example.org/x.png) y una regla $\\rule{200em}{200em}$ y "
                "$\\htmlStyle{position:fixed;top:0}{y}$ y $\\href{javascript:alert(4)}{z}$ fin.")
LESSON_ES = [l for l in LESSONS if l.question.language == "es"
             and sum(len(s.canvas_commands) for s in l.answer.steps) >= 3
             and any("$" in s.content for s in l.answer.steps)]

NORMALISED_SVG = """
markup => {
  const norm = (n) => n.nodeType === 3 ? (n.data.trim() ? JSON.stringify(n.data.trim()) : "")
    : n.nodeType === 1 ? `<${n.localName} ${[...n.attributes].map(a => a.name + "=" + a.value).sort().join(" ")}>`
      + [...n.childNodes].map(norm).join("") + "</>" : "";
  const fetched = new DOMParser().parseFromString(markup, "image/svg+xml").documentElement;
  return [norm(document.querySelector(".st-key-canvas svg")), norm(fetched)];
}
"""


def text_of(page) -> str:
    return page.locator(key("explanation")).inner_text()


def wait_for_text(page, chars: int) -> None:
    page.wait_for_function(f"s => (document.querySelector(s)?.innerText || '').length > {chars}",
                           arg=key("explanation"))


def unchanged_for(page, seconds: float) -> bool:
    """Polls the visible text for ``seconds``: True when it never changed."""
    first = text_of(page)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text_of(page) != first:
            return False
        page.wait_for_timeout(100)
    return True


def fetch_text(page, path: str) -> str:
    return page.evaluate("url => fetch(url, {credentials: 'same-origin'}).then(r => r.text())", path)


def test_the_stream_draws_the_board_patch_by_patch_equal_to_the_whiteboard_svg(server, context, dialogs):
    base, tutor = server
    lesson = LESSON_ES[0]
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, lesson.question.text)
    session_id = session_of(page)
    page.locator(key("pause") + " button").wait_for()
    assert page.locator(key("resume")).count() == 0  # never both
    page.locator(key("rate_submit") + " button").wait_for()
    shown = text_of(page)
    assert page.locator(key("explanation") + " .katex").count() > 0
    assert "$" not in shown and "\\(" not in shown and "\\frac" not in shown
    for step in lesson.answer.steps:
        assert step.title in shown
    badges = page.locator(".tutor-badge").all_inner_texts()
    n = len(lesson.answer.steps)
    assert badges == [f"Paso {i} de {n}" for i in range(1, n + 1)]
    assert page.locator(key("pause")).count() == 0 and page.locator(key("resume")).count() == 0
    live, stored = page.evaluate(NORMALISED_SVG, fetch_text(page, f"/api/v1/sessions/{session_id}/whiteboard.svg"))
    same_clip = re.compile(r"cv-[0-9a-f]{10}")  # each board names its clip path; the drawing is what counts
    assert same_clip.sub("cv-", live) == same_clip.sub("cv-", stored) and "<path" in live
    me = identity(tutor, "ana@example.org")
    assert [s["text"] for s in tutor.snapshot(me, session_id)["steps"]] == [s.content for s in lesson.answer.steps]
    assert dialogs == []


def test_pause_holds_the_text_and_keyboard_alone_pauses_and_resumes(server, context):
    base, tutor = server
    lesson = LESSON_ES[1]
    page = context.new_page()
    sign_in(page, base, "eve@example.org")
    ask(page, lesson.question.text)
    session_id = session_of(page)
    pause = page.locator(key("pause") + " button")
    pause.wait_for()
    wait_for_text(page, 120)
    pause.focus()  # then only the keyboard
    assert page.evaluate("() => document.activeElement.closest('.st-key-pause') !== null")
    page.evaluate("""s => document.addEventListener('click', e => {  // the text the student had at the click
      if (e.target.closest('.st-key-pause')) window.__at_click = document.querySelector(s).innerText;
    }, true)""", key("explanation"))
    with page.expect_request(lambda r: r.url.endswith("/pause")) as request:
        page.keyboard.press("Enter")
    page.locator(key("resume") + " button").wait_for()
    assert page.locator(key("pause")).count() == 0
    assert page.evaluate("() => document.activeElement.closest('.st-key-resume') !== null")  # focus kept
    assert unchanged_for(page, 1.0)
    assert text_of(page) == page.evaluate("() => window.__at_click"), "not one character after the click"
    me = identity(tutor, "eve@example.org")
    paused = tutor.snapshot(me, session_id)
    assert paused["status"] == "paused"
    at = request.value.post_data_json["at"]  # paused back at the last event shown, not where the stream was
    assert [int(n) for n in at.split(":")[:2]] == [paused["step"], paused["position"]]
    shown = re.sub(r"\s+", "", text_of(page))
    for step in paused["steps"]:  # what is shown is what was saved: the last words reached are on the page
        tail = re.sub(r"\s+", "", step["text"])[-6:]
        assert not tail or re.search(r"[$\\*_`]", tail) or tail in shown
    page.keyboard.press(" ")
    page.locator(key("pause") + " button").wait_for()
    page.locator(key("rate_submit") + " button").wait_for()
    done = tutor.snapshot(me, session_id)
    assert [s["text"] for s in done["steps"]] == [s.content for s in lesson.answer.steps]


def test_hostile_step_text_and_board_stay_inert(server, context, dialogs):
    base, tutor = server
    answer, _ = validate_answer({"steps": [{"title": "Paso con texto hostil", "type": "text",
                                            "content": "Texto normal.", "canvas_commands": [
                                                {"op": "axes", "x_min": -5, "x_max": 5, "y_min": -5, "y_max": 5},
                                                {"op": "text", "x": 0, "y": 0, "text": "<svg onload=alert(5)>"}]}],
                                 "total_duration": 20})
    # core refuses this text (tests/test_content_safety.py); stored behind its back, the page must still hold
    hostile = dataclasses.replace(answer, steps=[dataclasses.replace(answer.steps[0], content=HOSTILE_STEP)])
    tutor.cache.store(prepare(HOSTILE_QUESTION, language="es", limit=1000), hostile, model="test",
                      prompt_version="test", source="library")
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, HOSTILE_QUESTION)
    page.locator(key("rate_submit") + " button").wait_for()
    text = page.locator(key("explanation"))
    assert "<img src=x onerror=alert(1)>" in text.inner_text()  # shown as text
    assert page.locator("img[src='x'], .st-key-explanation script, .st-key-explanation img").count() == 0
    assert page.locator(".st-key-explanation a[href^='javascript'], .st-key-explanation [style*='fixed']").count() == 0
    assert page.locator(".st-key-explanation a[href='https://example.org']").count() == 1
    box = text.bounding_box()
    rules = page.evaluate("() => [...document.querySelectorAll('.st-key-explanation .tutor-math')]"
                          ".map(e => e.getBoundingClientRect()).map(r => [r.width, r.height])")
    assert rules and all(w <= box["width"] + 1 and h < 400 for w, h in rules)
    assert page.locator(key("canvas") + " svg text", has_text="<svg onload=alert(5)>").count() == 1
    page.wait_for_timeout(300)
    assert dialogs == []


def test_on_a_phone_the_board_stays_in_view_while_the_text_streams(server, browser):  # noqa: F811
    base, tutor = server
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-ES", has_touch=True)
    phone.set_default_timeout(60_000)
    try:
        page = phone.new_page()
        sign_in(page, base, "eve@example.org")
        ask(page, LESSON_ES[2].question.text)
        page.locator(key("pause") + " button").wait_for()
        wait_for_text(page, 600)
        page.locator(key("explanation") + " .tutor-step").last.scroll_into_view_if_needed()
        board = page.locator(key("canvas")).bounding_box()
        assert board and board["y"] >= 0 and board["y"] + board["height"] <= 844 and board["width"] >= 300
        assert page.locator(key("canvas") + " svg").count() == 1
        # the link back from a chat on a step (ask?session=ID&step=N) shows that step, below the sticky board
        page.locator(key("rate_submit") + " button").wait_for()
        last = len(LESSON_ES[2].answer.steps)
        page.goto(f"{base}/ask?session={session_of(page)}&step={last}")
        page.wait_for_function("n => document.activeElement?.id === `tutor-step-${n}`", arg=last)
        title = page.locator(f"#tutor-step-{last}").bounding_box()
        board = page.locator(key("canvas")).bounding_box()
        assert title and board and board["y"] + board["height"] <= title["y"] < 844 - title["height"]
        assert page.locator("#tutor-step-1").bounding_box()["y"] < 0, "scrolled: the first step is above"
    finally:
        phone.close()


def test_a_dropped_stream_reconnects_from_the_cursor(server, context):
    base, tutor = server
    lesson = LESSON_ES[3]
    page = context.new_page()
    sign_in(page, base, "ana@example.org")
    ask(page, lesson.question.text)
    session_id = session_of(page)
    wait_for_text(page, 150)
    page.locator(key("pause") + " button").click()
    page.locator(key("resume") + " button").wait_for()
    dropped = []

    def drop_once(route):
        if dropped:
            return route.continue_()
        dropped.append(route.request.url)
        return route.abort("connectionreset")

    page.route("**/live?*", drop_once)
    page.locator(key("resume") + " button").click()
    page.get_by_text("Se ha perdido la conexión; reconectando…").wait_for()
    page.locator(key("rate_submit") + " button").wait_for()
    assert len(dropped) == 1 and "after=" in dropped[0] and "after=0%3A0%3A0" not in dropped[0]
    shown = text_of(page)
    for step in lesson.answer.steps:
        assert shown.count(step.title) == 1  # nothing twice after the catch-up
    me = identity(tutor, "ana@example.org")
    assert [s["text"] for s in tutor.snapshot(me, session_id)["steps"]] == [s.content for s in lesson.answer.steps]


def test_the_static_files_are_javascript_with_long_cache_and_a_version(server, context):
    base, _ = server
    page = context.new_page()
    page.goto(base + "/")
    src = page.evaluate("() => fetch('/tutor-static/explanation.js?v=1').then(r => [r.status, "
                        "r.headers.get('content-type'), r.headers.get('cache-control')])")
    assert src[0] == 200 and "javascript" in src[1] and "immutable" in src[2]
    assert page.evaluate("() => fetch('/tutor-static/nothing.js').then(r => r.status)") == 404


def test_asking_about_a_step_opens_the_chat_on_that_step(server, context):
    base, tutor = server
    lesson = LESSON_ES[4]
    page = context.new_page()
    sign_in(page, base, "eve@example.org")
    ask(page, lesson.question.text)
    page.locator(key("chat_step_2") + " button").click()
    page.wait_for_url(re.compile(r"[?&]chat="))
    page.locator(key("chat_input") + " textarea").wait_for()
    me = identity(tutor, "eve@example.org")
    chats = [r for r in tutor.history.sessions(me) if r["kind"] == "chat"]
    assert [(r["title"], r["parent_step"]) for r in chats] == [(lesson.question.text, 2)]


def rerun_requests(page) -> list[str]:
    """The Streamlit reruns the tab asks for (``rerun_script`` BackMsgs on its websocket), as a growing list of
    their fragment ids (``""``: the whole page)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    sent: list[str] = []

    def frame(payload) -> None:
        msg = BackMsg()
        msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        if msg.WhichOneof("type") == "rerun_script":
            sent.append(msg.rerun_script.fragment_id)

    page.on("websocket", lambda ws: ws.on("framesent", frame) if ws.url.endswith("/_stcore/stream") else None)
    return sent


def on_an_empty_ask_page(context, base: str, email: str):
    """A new tab signed in on the Ask page with no session, its sign-in's runs over; and its rerun requests."""
    page = context.new_page()
    reruns = rerun_requests(page)
    sign_in(page, base, email)
    page.locator(key("examples")).wait_for()
    page.wait_for_timeout(300)  # the sign-in's runs are over
    return page, reruns


def test_a_stored_answer_streams_with_no_rerun_until_its_end_and_stays_on_reload(server, context, dialogs):
    base, tutor = server
    lesson = LESSON_ES[5]
    page, reruns = on_an_empty_ask_page(context, base, "eve@example.org")
    before = len(reruns)
    ask(page, lesson.question.text)
    page.locator(key("pause") + " button").wait_for()
    wait_for_text(page, 100)
    page.wait_for_url(re.compile(r"[?&]session="))
    assert len(reruns) == before  # the text streams with no run of the page
    assert page.locator(".tutor-question").inner_text() == lesson.question.text
    assert page.locator(key("pause") + " button").inner_text() == "Pausa"
    assert not page.locator(key("examples")).is_visible()  # the empty page's offers step aside
    page.locator(key("rate_submit") + " button").wait_for()
    assert len(reruns) == before + 1 and reruns[-1]  # one run at the end, of the fragment with the rating form
    assert not page.locator(key("examples")).is_visible()  # drawn for no session: still aside
    session_id = session_of(page)
    me = identity(tutor, "eve@example.org")
    done = tutor.snapshot(me, session_id)
    assert done["status"] == "complete" and [s["text"] for s in done["steps"]] == [s.content for s in lesson.answer.steps]
    assert page.locator(key("another_explanation")).first.is_visible()
    shown = text_of(page)
    assert all(shown.count(step.title) == 1 for step in lesson.answer.steps)

    lesson = LESSON_ES[7]  # again, right after the end's run
    ask(page, lesson.question.text)
    page.wait_for_function("id => !location.search.includes(id)", arg=session_id)
    assert page.locator(key("pause") + " button").inner_text() == "Pausa"
    assert page.locator(".tutor-question").inner_text() == lesson.question.text
    page.locator(key("rate_submit") + " button").wait_for()
    assert len(reruns) == before + 2 and all(reruns[-2:])
    session_id = session_of(page)

    page.reload()
    page.locator(key("rate_submit") + " button").wait_for()
    assert session_of(page) == session_id and page.locator(".tutor-question").inner_text() == lesson.question.text
    page.get_by_text("Explicación completa.").first.wait_for()
    assert page.locator(key("explanation") + " .tutor-step").count() == len(lesson.answer.steps)
    assert page.locator(key("question") + " textarea").input_value() == ""
    page.locator(key("edit_question")).first.locator("button").click()  # in the fragment, for the whole page
    page.wait_for_function("([s, text]) => document.querySelector(s)?.value === text",
                           arg=[key("question") + " textarea", lesson.question.text])
    assert dialogs == []


def test_a_question_with_no_stored_answer_takes_the_pages_path(server, context):
    base, tutor = server
    page, reruns = on_an_empty_ask_page(context, base, "ana@example.org")
    before = len(reruns)
    me = identity(tutor, "ana@example.org")
    credits = tutor.credits.balance(me)
    ask(page, GENERATED_QUESTION)
    page.wait_for_url(re.compile(r"[?&]session="))
    wait_for_text(page, 20)
    assert len(reruns) > before  # the form's submit went through: the page asked (and generated) as before
    assert tutor.credits.balance(me) == credits - 1
    assert page.locator(".tutor-question").inner_text() == GENERATED_QUESTION


def test_ctrl_enter_in_the_box_asks_a_stored_answer_without_a_rerun_too(server, context):
    base, tutor = server
    page, reruns = on_an_empty_ask_page(context, base, "ana@example.org")
    before = len(reruns)
    box = page.locator(key("question") + " textarea")
    box.fill(LESSON_ES[6].question.text)
    box.press("Control+Enter")
    page.wait_for_url(re.compile(r"[?&]session="))
    wait_for_text(page, 50)
    assert len(reruns) == before
    assert page.locator(".tutor-question").inner_text() == LESSON_ES[6].question.text
