"""Ask a question and read the explanation step by step beside the whiteboard; pause, resume, rate, chat.

The reading position lives in core's session store, never only here: every run draws ``tutor.snapshot(...)`` (what
the session has reached) into the live explanation component (ui/live.py), which follows the session's stream in
the browser and calls Pause/Resume on the API itself. The script reruns only when the component reports a rare
event: the explanation completed (draw the rating form) or a step's chat was asked for (docs/architecture.md,
"The live explanation").

The component is mounted under the question box on every run, with or without a session: in the browser it asks
for a stored answer itself (``stored_only``) and streams it with no rerun; the form's usual path below is what any
other question (and a browser without JavaScript) takes.
"""
from __future__ import annotations

import streamlit as st

from core import SessionStatus
from core.errors import AIError, Forbidden, NotFound, TutorError
from ui import app, examples, library, live

me = app.who()
tutor = me.tutor
identity = me.identity
ss = st.session_state


# --- button callbacks (they run before the page, right after the click) ----------------------------------------

def _chat_on_step(session_id: str, step: int) -> None:
    _safely(tutor.pause, identity, session_id)  # come back to the same place after the chat
    chat = _safely(tutor.chats.create, identity, explanation_id=session_id, step=step)
    if chat:
        ss["open_chat"] = chat["id"]


def _ended() -> None:
    """The component reported the end: this rerun's component data can leave out what it already shows."""
    ended = (ss.get("live") or {}).get("ended") or {}
    if ended.get("session"):  # the component says which: it may have started the session itself
        ss["live_ended"] = (ended["session"], SessionStatus.COMPLETE)


def _ask_example(text: str) -> None:
    ss["ask_now"] = text


def _edit_question(text: str) -> None:
    ss["question"] = text  # back into the box, to change and send again
    ss["ask_app_rerun"] = True


def _another_explanation(text: str) -> None:
    ss["ask_now"] = text
    ss["ask_fresh"] = True  # a new generation even though an answer is stored
    ss["ask_app_rerun"] = True


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

def ask_form() -> str | None:
    """The question box; returns the question to ask on this run, if any."""
    with st.form("ask_form", border=False), st.container(horizontal=True, vertical_alignment="bottom"):
        question = st.text_area(me.t("question"), key="question", placeholder=me.t("question_placeholder"),
                                height=68, label_visibility="collapsed")
        asked = st.form_submit_button(me.t("ask"), key="ask", type="primary", icon=":material/auto_awesome:")
    return ss.pop("ask_now", None) or (question if asked else None)


def start(session_id: str | None, text: str | None) -> str | None:
    """Ask ``text`` the usual way (near-miss offers, a generation, its errors); the id of the new explanation."""
    fresh = ss.pop("ask_fresh", False)
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


def question_actions(row, session_id: str) -> None:
    """Under the question box, once the explanation shown is known: edit its question, or ask for another one."""
    question = question_of(session_id)
    with row:
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

    title = st.container(key="ask_title")
    text = ask_form()
    messages = st.container(key="ask_messages")
    with messages:
        started = start(session_id, text)
    if started and st.query_params.get("session") != started:
        st.query_params["session"] = started
    if ss.get("ask_error"):
        messages.error(ss.pop("ask_error"), icon=":material/error:")
    ss["ask_full_run"] = True
    explanation_area()
    if not ss.get("ask_page_session"):
        title.title(me.t("ask_title"), anchor=False)
        with st.container(key="ask_below"):
            examples.show(me, on_pick=_ask_example)
            library.browser(me, on_pick=_ask_example)


@st.fragment
def explanation_area() -> None:
    """Under the question box: the question's actions, the live explanation, the rating form. A fragment, so the
    run the component asks for at the end of an explanation redraws only this. The component keeps its place
    (after the actions' row, drawn even when empty) with or without a session: the browser keeps it across runs."""
    full = ss.pop("ask_full_run", False)
    if ss.pop("ask_app_rerun", False) and not full:
        st.rerun(scope="app")  # a question action changes the form: the whole page runs
    session_id = st.query_params.get("session") or ss.get("ask_session")
    actions = st.container(horizontal=True, key="question_actions")
    snapshot = None
    if session_id:
        try:
            snapshot = tutor.snapshot(identity, session_id)
        except (NotFound, Forbidden) as error:
            idle()
            st.error(me.message(error), icon=":material/error:")
            ss.pop("ask_session", None)
            st.query_params.pop("session", None)
        except TutorError as error:  # e.g. the session store is not answering: say so, keep the session
            idle()
            st.error(me.message(error), icon=":material/error:")
    if full:  # what the page around this fragment is drawn for (the component hides it when it is another's)
        ss["ask_page_session"] = snapshot and session_id
    if snapshot is None:
        if not session_id:
            idle()
        return
    ss["ask_session"] = session_id
    ss.setdefault("questions", {})[session_id] = snapshot["question"]
    question_actions(actions, session_id)
    if st.query_params.get("session") != session_id:
        st.query_params["session"] = session_id
    shown = show_explanation(session_id, snapshot)
    chat = getattr(shown, "chat", None)  # a trigger: set on the one run the click caused
    if chat and chat.get("step"):
        _chat_on_step(session_id, int(chat["step"]))
        if ss.get("open_chat") or ss.get("ask_error"):
            st.rerun(scope="app")  # the page opens the chat (or says why not)
    if snapshot["status"] == SessionStatus.COMPLETE:
        with st.container(key="ask_after"):
            rating_form(session_id)


def idle() -> None:
    """The component with no session: it loads its code and takes stored answers from the form itself."""
    live.idle(me.lang, key="live", on_ended=_ended)


def show_explanation(session_id: str, snapshot: dict):
    """The live explanation component (the question as its heading; it streams by itself)."""
    light = ss.pop("live_ended", None) == (session_id, snapshot["status"])
    step = st.query_params.get("step", "")  # back from a chat on a step: show that step
    return live.explanation(snapshot, me.lang, key="live", light=light, question=question_of(session_id),
                            page_session=ss.get("ask_page_session"), on_ended=_ended,
                            focus_step=int(step) if step.isdigit() and len(step) < 5 else None)


main()
