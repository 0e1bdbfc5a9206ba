"""Ask a question and read the explanation step by step beside the whiteboard; pause, resume, rate, chat.

The reading position lives in core's session store, never only here: every run first draws
``tutor.snapshot(...)`` (what this reader has reached), then the Pause/Resume button, then — while the session is
streaming — follows ``tutor.stream(...)`` and updates only the placeholder of the step that changed. A click on
any button stops this loop at its next Streamlit call and reruns the page (docs/architecture.md, "Streaming in a
page").
"""
from __future__ import annotations

import streamlit as st

from core import SessionStatus
from core.errors import AIError, Forbidden, NotFound, TutorError
from ui import app, examples, library
from ui.render import ExplanationView, event_error_message, plain_markdown

me = app.who()
tutor = me.tutor
identity = me.identity
ss = st.session_state


# --- button callbacks (they run before the page, right after the click) ----------------------------------------

def _pause(session_id: str) -> None:
    _safely(tutor.pause, identity, session_id)


def _resume(session_id: str) -> None:
    _safely(tutor.resume, identity, session_id)


def _chat_on_step(session_id: str, step: int) -> None:
    _safely(tutor.pause, identity, session_id)  # come back to the same place after the chat
    chat = _safely(tutor.chats.create, identity, explanation_id=session_id, step=step)
    if chat:
        ss["open_chat"] = chat["id"]


def _ask_example(text: str) -> None:
    ss["ask_now"] = text


def _edit_question(text: str) -> None:
    ss["question"] = text  # back into the box, to change and send again


def _another_explanation(text: str) -> None:
    ss["ask_now"] = text
    ss["ask_fresh"] = True  # a new generation even though an answer is stored


def _generate_anyway(text: str) -> None:
    ss["ask_now"] = text
    ss["ask_new"] = True  # the student saw the near lessons and still wants a new explanation


def _safely(action, *args, **kwargs):
    try:
        return action(*args, **kwargs)
    except TutorError as error:
        ss["ask_error"] = me.message(error)
        return None


# --- the page ----------------------------------------------------------------------------------------------------

class StepSlots:
    """The placeholders of one step: its heading and its text (each updated on its own)."""

    def __init__(self, parent, number: int, session_id: str):
        box = parent.container(border=True, key=f"step_{number}")
        self.head = box.empty()
        self.body = box.empty()
        self.check = box.empty()
        box.button(me.t("chat_about_step"), key=f"chat_step_{number}", icon=":material/forum:", type="tertiary",
                   on_click=_chat_on_step, args=(session_id, number))
        self.drawn_head = None

    def draw(self, view: ExplanationView, number: int) -> None:
        step = view.step(number)
        head = (step.title, step.complete, view.total_steps, view.duration)
        if head != self.drawn_head:
            self.drawn_head = head
            mark = " :green[:material/check_circle:]" if step.complete else ""
            self.head.markdown(f"##### {number}. {step.title_markdown}{mark}\n"
                               f":gray-badge[{view.progress(number, me.lang)}]")
        self.body.markdown(step.markdown)
        if step.check_failed:
            self.check.warning(step.check_markdown(me.lang), icon=":material/calculate:")


def ask_form(session_id: str | None) -> str | None:
    """The question box; returns the id of a newly started explanation."""
    with st.form("ask_form", border=False), st.container(horizontal=True, vertical_alignment="bottom"):
        question = st.text_area(me.t("question"), key="question", placeholder=me.t("question_placeholder"),
                                height=68, label_visibility="collapsed")
        asked = st.form_submit_button(me.t("ask"), key="ask", type="primary", icon=":material/auto_awesome:")
    ss["_question_actions"] = st.container(horizontal=True, key="question_actions")  # see question_actions
    fresh = ss.pop("ask_fresh", False)
    text = ss.pop("ask_now", None) or (question if asked else None)
    if text is None:
        return None
    try:
        if session_id:
            tutor.pause(identity, session_id)  # the explanation left behind stays where it was, in History
    except TutorError:
        pass
    if tutor.has_provider and not ss.pop("ask_new", False) and not fresh and tutor.match(text) is None:
        near = [offer for offer in tutor.suggestions(text, me.lang) if offer["near"]]
        if near:
            library.show_near_miss(me, text, near, on_pick=_ask_example, on_generate=_generate_anyway)
            return None
    try:
        state = tutor.ask(identity, text, fresh=fresh)
    except AIError as error:
        if error.code != "ai_unavailable":
            st.error(me.message(error), icon=":material/error:")
        else:
            library.show_miss(me, text, on_pick=_ask_example)
        return None
    except TutorError as error:
        st.error(me.message(error), icon=":material/error:")
        return None
    ss.setdefault("questions", {})[state["id"]] = text.strip()
    app.show_credits(me)
    return state["id"]


def question_actions(session_id: str) -> None:
    """Under the question box, once the explanation shown is known: edit its question, or ask for another one."""
    question = question_of(session_id)
    with ss.pop("_question_actions"):
        st.button(me.t("edit_question"), key="edit_question", icon=":material/edit:", type="tertiary",
                  on_click=_edit_question, args=(question,))
        st.button(me.t("another_explanation"), key="another_explanation", icon=":material/refresh:",
                  type="tertiary", help=me.t("another_explanation_help"), on_click=_another_explanation,
                  args=(question,))


def question_of(session_id: str) -> str:
    return ss.setdefault("questions", {}).get(session_id, "")


def rating_form(session_id: str) -> None:
    current = tutor.history.rating(identity, session_id)
    with st.form(f"rating_{session_id}", border=True):
        st.markdown(f"**{me.t('rate_title')}**")
        default = None if current is None else int(bool(current["helpful"]))
        choice = st.feedback("thumbs", key=f"rating_choice_{session_id}", default=default)
        comment = st.text_input(me.t("rate_comment"), key=f"rating_comment_{session_id}",
                                value=(current or {}).get("comment") or "")
        sent = st.form_submit_button(me.t("rate_submit"), key="rate_submit", icon=":material/send:")
    if sent:
        if choice is None:
            st.warning(me.t("rate_pick"))
            return
        try:
            tutor.history.rate(identity, session_id, helpful=choice == 1, comment=comment)
        except TutorError as error:
            st.error(me.message(error))
        else:
            st.success(me.t("rate_thanks"), icon=":material/favorite:")
    elif current is not None:
        value = me.t("rate_helpful") if current["helpful"] else me.t("rate_not_helpful")
        st.caption(me.t("rated", value=value))


def main() -> None:
    if ss.get("open_chat"):
        st.switch_page(app.PAGE_FILES["chat"], query_params={"chat": ss.pop("open_chat")})
    session_id = st.query_params.get("session") or ss.get("ask_session")

    title = st.empty()
    started = ask_form(session_id)
    if started:
        session_id = started
    if not session_id:
        title.title(me.t("ask_title"), anchor=False)
    if ss.get("ask_error"):
        st.error(ss.pop("ask_error"), icon=":material/error:")
    if not session_id:
        examples.show(me, on_pick=_ask_example)
        library.browser(me, on_pick=_ask_example)
        return

    try:
        snapshot = tutor.snapshot(identity, session_id)
    except (NotFound, Forbidden) as error:
        st.error(me.message(error), icon=":material/error:")
        ss.pop("ask_session", None)
        st.query_params.pop("session", None)
        return
    except TutorError as error:  # e.g. the session store is not answering: say so, keep the session
        st.error(me.message(error), icon=":material/error:")
        return
    ss["ask_session"] = session_id
    ss.setdefault("questions", {})[session_id] = snapshot["question"]
    question_actions(session_id)
    if st.query_params.get("session") != session_id:
        st.query_params["session"] = session_id
    show_explanation(session_id, ExplanationView.from_snapshot(snapshot))


def show_explanation(session_id: str, view: ExplanationView) -> None:
    st.subheader(plain_markdown(question_of(session_id)), anchor=False)
    controls = st.empty()
    notice = st.empty()
    waiting = st.empty()
    left, right = st.columns([3, 2], gap="large")
    explanation = left.container(key="explanation")
    after = left.container()
    with right:
        st.markdown(f"**{me.t('whiteboard')}**")
        board = st.container(key="canvas").empty()
        board_hint = st.empty()

    slots: dict[int, StepSlots] = {}

    def draw_step(number: int) -> None:
        if number not in slots:
            slots[number] = StepSlots(explanation, number, session_id)
        slots[number].draw(view, number)

    def draw_board() -> None:
        board.markdown(view.board_svg(), unsafe_allow_html=True)
        if view.commands:
            board_hint.empty()
        else:
            board_hint.caption(me.t("whiteboard_empty"))

    def finish(state: str) -> None:
        """Draw what belongs to a session that is not streaming (any more)."""
        waiting.empty()
        if state == SessionStatus.PAUSED:
            controls.button(me.t("resume"), key="resume", icon=":material/play_arrow:", type="primary",
                            on_click=_resume, args=(session_id,))
            notice.info(me.t("explanation_paused"), icon=":material/pause_circle:")
        elif state == SessionStatus.COMPLETE:
            controls.empty()
            notice.success(me.t("completed"), icon=":material/check_circle:")
            with after:
                rating_form(session_id)
        elif state == SessionStatus.FAILED:
            controls.empty()
            message = (event_error_message(view.error, me.lang) if view.error
                       else TutorError("ai_failed").message_for(me.lang))
            notice.error(message, icon=":material/error:")

    for step in view.steps:
        draw_step(step.step)
    draw_board()
    if view.status != SessionStatus.STREAMING:
        finish(view.status)
        return

    status_box = None

    def follow(item: dict) -> str | None:
        """Show one event; returns how the stream ended when it did."""
        nonlocal status_box
        change = view.apply(item)
        if change == "waiting":
            if status_box is None:
                status_box = waiting.status(view.waiting, state="running")
            else:
                status_box.update(label=view.waiting)
        elif change == "start":
            waiting.empty()
            status_box = None
        elif isinstance(change, tuple):
            draw_step(change[1])
        elif change == "canvas":
            draw_board()
        elif change in (SessionStatus.COMPLETE, SessionStatus.PAUSED, SessionStatus.FAILED):
            return change
        return None

    controls.button(me.t("pause"), key="pause", icon=":material/pause:", on_click=_pause, args=(session_id,))
    ended = None
    try:
        for item in tutor.stream(identity, session_id, reader=app.reader_for_this_run()):
            ended = follow(item) or ended
    except TutorError as error:
        view.apply(error.to_event(me.lang))
        ended = SessionStatus.FAILED
    if ended is None:  # the stream ended without saying why: another tab took over, or the state moved on
        view = ExplanationView.from_snapshot(tutor.snapshot(identity, session_id))
        if view.status == SessionStatus.STREAMING:
            waiting.empty()
            controls.button(me.t("continue_here"), key="take_over", icon=":material/open_in_browser:")
            notice.info(me.t("taken_over"), icon=":material/tab:")
            return
        for step in view.steps:  # moved on elsewhere (paused or finished in another tab): show where it is
            draw_step(step.step)
        draw_board()
        ended = view.status
    finish(ended)


main()
