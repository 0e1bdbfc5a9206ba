"""The user's sessions, newest first: search, reopen where it stopped, download (Markdown, SVG), delete."""
from __future__ import annotations

import streamlit as st

from core import SessionStatus
from core.errors import TutorError
from ui import app
from ui.render import file_stem, local_time, plain_markdown

me = app.who()
tutor = me.tutor
identity = me.identity
ss = st.session_state
MAX_SEARCH_CHARS = 200  # core refuses longer searches (search_too_long)
KIND_ICONS = {"explanation": ":material/lightbulb:", "chat": ":material/forum:"}


def _open(row: dict) -> None:
    ss["history_open"] = (row["kind"], row["id"])


def _ask_delete(session_id: str) -> None:
    ss["confirm_delete"] = session_id


def _cancel_delete() -> None:
    ss.pop("confirm_delete", None)


def _delete(session_id: str) -> None:
    ss.pop("confirm_delete", None)
    try:
        tutor.history.delete(identity, session_id)
    except TutorError as error:
        ss["history_error"] = me.message(error)
        return
    for key in ("ask_session", "chat_id"):
        if ss.get(key) == session_id:
            ss.pop(key)
    ss["history_deleted"] = True


def title_of(row: dict) -> str:
    title = row.get("question") or row.get("title") or "…"
    return me.t("chat_step_title", title=title, step=row["parent_step"]) if row.get("parent_step") else title


def status_of(row: dict) -> str:
    status = row.get("status") or SessionStatus.OPEN
    return me.t(f"status_{status}") if status in tuple(SessionStatus) else status


def row_view(row: dict) -> None:
    session_id = row["id"]
    with st.container(border=True, key=f"session_{session_id}"):
        text, actions = st.columns([1, 1], vertical_alignment="center")
        with text:
            st.markdown(f"{KIND_ICONS.get(row['kind'], '')} **{plain_markdown(title_of(row))}**")
            details = [me.t(f"kind_{row['kind']}"), local_time(row["updated_at"] or row["created_at"],
                                                                 st.context.timezone)]
            if row["kind"] == "explanation":
                details.append(status_of(row))
            st.caption(" · ".join(d for d in details if d))
        with actions, st.container(horizontal=True, horizontal_alignment="right"):
            resumable = (row["kind"] == "explanation"
                         and row.get("status") in (SessionStatus.STREAMING, SessionStatus.PAUSED))
            st.button(me.t("continue") if resumable else me.t("open"), key=f"open_{session_id}",
                      icon=":material/play_arrow:" if resumable else ":material/open_in_new:",
                      on_click=_open, args=(row,))
            st.download_button(me.t("download_md"), key=f"md_{session_id}", icon=":material/download:",
                               data=lambda: tutor.history.export_markdown(identity, session_id),
                               file_name=f"{file_stem(title_of(row))}.md", mime="text/markdown", on_click="ignore")
            if row["kind"] == "explanation":
                st.download_button(me.t("download_svg"), key=f"svg_{session_id}", icon=":material/draw:",
                                   data=lambda: tutor.history.board_svg(identity, session_id),
                                   file_name=f"{file_stem(title_of(row))}.svg", mime="image/svg+xml",
                                   on_click="ignore")
            st.button(me.t("delete"), key=f"delete_{session_id}", icon=":material/delete:", type="tertiary",
                      on_click=_ask_delete, args=(session_id,))
        if ss.get("confirm_delete") == session_id:
            st.warning(me.t("delete_confirm", title=title_of(row)[:80]), icon=":material/warning:")
            with st.container(horizontal=True):
                st.button(me.t("delete_yes"), key=f"delete_yes_{session_id}", type="primary",
                          icon=":material/delete_forever:", on_click=_delete, args=(session_id,))
                st.button(me.t("cancel"), key=f"delete_no_{session_id}", on_click=_cancel_delete)


def main() -> None:
    opened = ss.pop("history_open", None)
    if opened:
        kind, session_id = opened
        if kind == "chat":
            ss["chat_id"] = session_id
            st.switch_page(app.PAGE_FILES["chat"], query_params={"chat": session_id})
        ss["ask_session"] = session_id
        st.switch_page(app.PAGE_FILES["ask"], query_params={"session": session_id})

    st.title(me.t("history_title"), anchor=False)
    if ss.pop("history_deleted", False):
        st.toast(me.t("deleted"), icon=":material/delete:")
    if ss.get("history_error"):
        st.error(ss.pop("history_error"), icon=":material/error:")
    search = st.text_input(me.t("history_search"), key="history_search", icon=":material/search:",
                           placeholder=me.t("history_search_placeholder"), label_visibility="collapsed",
                           max_chars=MAX_SEARCH_CHARS)
    try:
        rows = tutor.history.sessions(identity, search=search or "")
    except TutorError as error:
        st.error(me.message(error), icon=":material/error:")
        return
    with st.container(key="history_list"):
        if not rows:
            st.info(me.t("history_no_match") if search else me.t("history_empty"), icon=":material/inbox:")
        for row in rows:
            row_view(row)


main()
