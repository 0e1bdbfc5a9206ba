"""Chat with the tutor: conversations with their history, replies streamed, a Stop button while one streams."""
from __future__ import annotations

import threading

import streamlit as st

from core.errors import AIError, Forbidden, NotFound, TutorError
from ui import app
from ui.render import local_time, message_markdown, plain_markdown

me = app.who()
tutor = me.tutor
identity = me.identity
ss = st.session_state
STOP_WAIT_S = 3.0
AVATARS = {"user": ":material/person:", "assistant": ":material/school:"}


def _new_chat() -> None:
    ss.pop("chat_id", None)
    st.query_params.pop("chat", None)


def _pick_chat() -> None:
    ss["chat_id"] = ss.get("chat_pick")
    if ss["chat_id"]:
        st.query_params["chat"] = ss["chat_id"]


def _wait_for_reply() -> None:
    """Stop: with fast reruns the interrupted run winds down in its own thread while this one starts; wait (a
    little) for it to save the partial reply, so the history drawn next includes it."""
    finished = ss.get("chat_reply_saved")
    if finished is not None:
        finished.wait(STOP_WAIT_S)


def chats() -> list[dict]:
    return [row for row in tutor.history.sessions(identity) if row["kind"] == "chat"]


def chat_title(row: dict) -> str:
    title = row["title"] or "…"
    return me.t("chat_step_title", title=title, step=row["parent_step"]) if row.get("parent_step") else title


def main() -> None:
    chat_id = st.query_params.get("chat") or ss.get("chat_id")
    rows = chats()
    titles = {row["id"]: row for row in rows}
    if chat_id and chat_id not in titles:
        try:
            tutor.chats.history(identity, chat_id)  # says why: not found, or not yours
        except (NotFound, Forbidden) as error:
            st.error(me.message(error), icon=":material/error:")
        chat_id = None
        st.query_params.pop("chat", None)
    ss["chat_id"] = chat_id
    if chat_id and st.query_params.get("chat") != chat_id:
        st.query_params["chat"] = chat_id

    st.title(me.t("chat_title"), anchor=False)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if rows:
            ss["chat_pick"] = chat_id
            st.selectbox(me.t("chat_pick"), options=[None] + list(titles), key="chat_pick", on_change=_pick_chat,
                         format_func=lambda i: me.t("chat_new") if i is None else
                         f"{chat_title(titles[i])} · {local_time(titles[i]['updated_at'], st.context.timezone)}",
                         width=420)
        st.button(me.t("chat_new"), key="chat_new", icon=":material/add_comment:", on_click=_new_chat)
    if chat_id and titles[chat_id].get("parent_session_id"):
        about_step(tutor.chats.about(identity, chat_id))

    if not tutor.has_provider:
        st.info(AIError("ai_unavailable").message_for(me.lang), icon=":material/cloud_off:")

    history = tutor.chats.history(identity, chat_id) if chat_id else []
    hint = st.empty()
    if not history and tutor.has_provider:
        hint.caption(me.t("chat_empty"))
    for message in history:
        with st.chat_message(message["role"], avatar=AVATARS.get(message["role"])):
            st.markdown(message_markdown(message["content"]))

    if ss.get("chat_stop"):  # the click itself stopped the reply; core saved it as far as it got
        st.caption(me.t("chat_stopped"))
    prompt = st.chat_input(me.t("chat_placeholder"), key="chat_input", disabled=not tutor.has_provider,
                           max_chars=tutor.chats.max_message_chars)
    if prompt:
        hint.empty()
        reply(chat_id, prompt)
        app.show_credits(me)


def about_step(about: dict | None) -> None:
    """The step a chat was opened on: its title and first words, and a link back to the explanation there."""
    if not about:
        return
    with st.container(border=True, key="chat_about"):
        if about["step"]:
            st.caption(me.t("chat_on_step", step=about["step"], question=plain_markdown(about["question"])))
            st.markdown(f"**{message_markdown(about['step_title'])}** — {message_markdown(about['excerpt'])}")
        else:
            st.caption(me.t("chat_about", title=plain_markdown(about["question"])))
        params = {"session": about["explanation_id"]} | ({"step": about["step"]} if about["step"] else {})
        back = me.t("chat_back_to_step", step=about["step"]) if about["step"] else me.t("chat_back")
        st.page_link(app.PAGE_FILES["ask"], label=back,
                     icon=":material/undo:", query_params=params)


def reply(chat_id: str | None, text: str) -> None:
    with st.chat_message("user", avatar=AVATARS["user"]):
        st.markdown(message_markdown(text))
    finished = threading.Event()  # set once core has saved the reply (whole, or as far as it got)
    ss["chat_reply_saved"] = finished
    stop = st.empty()
    stop.button(me.t("chat_stop"), key="chat_stop", icon=":material/stop_circle:", on_click=_wait_for_reply)
    try:
        if not chat_id:
            tutor.chats.check_message(text)  # refuse a bad first message before creating the chat
            chat_id = tutor.chats.create(identity, title=text[:60])["id"]
            ss["chat_id"] = chat_id
            st.query_params["chat"] = chat_id
        with st.chat_message("assistant", avatar=AVATARS["assistant"]):
            out = st.empty()
            shown = ""
            events = tutor.chats.send(identity, chat_id, text)
            try:
                for item in events:
                    if item["event"] == "content":
                        shown += item["data"]["content"]
                        out.markdown(message_markdown(shown) + " ▌")
                    elif item["event"] == "done":
                        out.markdown(message_markdown(item["data"]["full_content"]))
                    elif item["event"] == "error":
                        out.markdown(message_markdown(shown))
                        st.error(me.message(TutorError(item["data"]["code"])), icon=":material/error:")
            finally:
                events.close()  # a Stop click lands here: core saves the reply as far as it got
                finished.set()
    except TutorError as error:
        st.error(me.message(error), icon=":material/error:")
    stop.empty()


main()
