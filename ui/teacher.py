"""Pieces of the teacher page: tables with a CSV download under each, display copies of core's frames, and the
answer library (search, preview as the student sees it, edit, approve, retire, versions).

Thin over ``core``: the frames come from ``tutor.frames`` and the answers from ``tutor.curation``; a display copy
only relabels values (👍/👎, localised status names) — the CSV always holds the frame as core returned it.
"""
from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd
import streamlit as st

from core import SessionStatus
from core.errors import TutorError
from ui import answer_editor, app
from ui.render import plain_markdown, progress_label, step_markdown
from ui.teacher_view import percent, reasons_text, shorten
from ui.texts import subject_name

ANSWER_STATUSES = ("all", "approved", "retired", "review")  # review: failed the maths check, awaiting a teacher
SESSION_STATUSES = tuple(SessionStatus)
DATETIME_FORMAT = "YYYY-MM-DD HH:mm"
NOTICE_ICONS = {"success": ":material/check_circle:", "info": ":material/info:", "error": ":material/error:"}


# --- tables -------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def errors_shown(me):
    """Show a ``TutorError`` raised inside (``Forbidden``, a store that is down, …) where the content would be."""
    try:
        yield
    except TutorError as error:
        st.error(me.message(error), icon=":material/error:")


def table(frame: pd.DataFrame, name: str, csv_name, *, columns: dict[str, str], display: pd.DataFrame | None = None,
          stem: str = "") -> None:
    """``frame`` (or its display copy) with localised column labels, then a CSV download of ``frame`` itself."""
    me = app.who()
    shown = frame if display is None else display
    config = {column: _column(shown, column, me.t(label)) for column, label in columns.items() if column in shown}
    with st.container(key=f"teacher_table_{name}"):
        st.dataframe(shown, column_order=list(config), column_config=config, hide_index=True, width="stretch",
                     height="auto" if len(shown) <= 10 else 388)
        csv_button(frame, name, csv_name, stem)


def csv_button(frame: pd.DataFrame, name: str, csv_name, stem: str = "") -> None:
    me = app.who()
    st.download_button(me.t("download_csv"), data=app.who().tutor.frames.csv(frame), file_name=csv_name(name, stem), mime="text/csv",
                       key=f"teacher_csv_{name}", icon=":material/download:", on_click="ignore", type="tertiary")


def _column(frame: pd.DataFrame, column: str, label: str):
    dtype = frame[column].dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or _holds(frame[column], (dt.datetime,)):
        return st.column_config.DatetimeColumn(label, format=DATETIME_FORMAT)
    if pd.api.types.is_bool_dtype(dtype):
        return st.column_config.CheckboxColumn(label)
    if pd.api.types.is_integer_dtype(dtype):
        return st.column_config.NumberColumn(label, format="%d")
    if pd.api.types.is_float_dtype(dtype):
        return st.column_config.NumberColumn(label, format="percent" if column.endswith("_rate") or column == "share" else "%.2f")
    return st.column_config.TextColumn(label)


def _holds(series: pd.Series, types: tuple) -> bool:
    first = series.dropna()
    return len(first) > 0 and isinstance(first.iloc[0], types)


def with_topic(frame: pd.DataFrame) -> pd.DataFrame:
    """A display copy where an unknown subject reads "(no topic)"."""
    me = app.who()
    shown = frame.copy()
    if "subject" in shown:
        shown["subject"] = [subject_name(s, me.lang) if s else me.t("no_topic") for s in shown["subject"].fillna("")]
    return shown


def with_match_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """``match_decisions`` with each way a question was answered in words ("Mismo significado", …)."""
    me = app.who()
    shown = frame.copy()
    shown["how"] = [me.t(f"how_{how}") for how in shown["how"]]
    return shown


def with_names(frame: pd.DataFrame) -> pd.DataFrame:
    """A display copy where a student without a name shows their email instead."""
    shown = frame.copy()
    shown["name"] = [name or email for name, email in zip(shown["name"].fillna(""), shown["email"])]
    return shown


def with_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """``students_needing_help`` with its ``reasons`` readable in the page's language (for the table and its CSV)."""
    shown = frame.copy()
    shown["reasons"] = [reasons_text(row["reasons"], row, app.who().lang) for row in frame.to_dict("records")]
    return shown


def helpful_mark(value) -> str:
    """``Sí``/``No`` (``Yes``/``No``) for a rating, empty when unrated (text, not emoji: the table is drawn on a canvas,
    and a machine without an emoji font would show empty boxes)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return app.who().t("helpful_yes" if bool(value) else "helpful_no")


def ratings_display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["helpful"] = [helpful_mark(v) for v in shown["helpful"]]
    return shown


def sessions_display(frame: pd.DataFrame) -> pd.DataFrame:
    me = app.who()
    shown = frame.copy()
    shown["helpful"] = [helpful_mark(v) for v in shown["helpful"]]
    shown["status"] = [me.t(f"status_{s}") if s in SESSION_STATUSES else (s or "") for s in shown["status"]]
    shown["kind"] = [me.t(f"kind_{k}") if k in ("explanation", "chat") else k for k in shown["kind"]]
    shown["abandoned"] = [bool(v) for v in shown["abandoned"]]
    return shown


# --- the answer library ---------------------------------------------------------------------------------------------

def answer_library(me) -> None:
    tutor, ss = me.tutor, st.session_state
    st.caption(me.t("library_intro"))
    review_list(me)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        search = st.text_input(me.t("library_search"), key="teacher_library_search", icon=":material/search:",
                               placeholder=me.t("library_search_placeholder"), width=420)
        status = st.segmented_control(me.t("library_status"), options=list(ANSWER_STATUSES), default="all",
                                      format_func=lambda s: me.t("library_all") if s == "all"
                                      else me.t("answer_needs_review") if s == "review"
                                      else me.t(f"answer_status_{s}"),
                                      key="teacher_library_status", required=True)
    rows = tutor.curation.answers(me.identity, search=search or "", review=status == "review",
                                  status=None if status in (None, "all", "review") else status)
    frame = pd.DataFrame(rows, columns=["id", "question", "language", "subject", "level", "source", "status", "hits",
                                        "helpful", "ratings", "helpful_rate", "step_count", "version", "updated_at",
                                        "question_hash", "verified", "needs_review"])
    if not rows:
        st.info(me.t("library_none"), icon=":material/search_off:")
    today = dt.datetime.now(dt.timezone.utc).date()
    table(frame, "answers", lambda name, stem="": f"answers-{today}.csv", display=_answers_display(me, frame),
          columns={"question": "col_question", "subject": "col_subject", "source": "col_source",
                   "status": "col_status", "hits": "col_hits", "ratings": "col_ratings",
                   "helpful_rate": "col_helpful_rate", "version": "col_version", "updated_at": "col_updated"})

    # The label must not change with an action on the answer (its status, its version): the browser keeps the
    # selection by its label.
    labels = {r["id"]: f"{shorten(r['question'], 90)} · {r['language']} · {r['id'][:8]}" for r in rows}
    if ss.get("teacher_answer") not in labels:
        ss["teacher_answer"] = None
    answer_id = st.selectbox(me.t("answer_pick"), options=list(labels), format_func=labels.get, index=None,
                             placeholder=me.t("answer_pick_placeholder"), key="teacher_answer")
    if not answer_id:
        ss.pop("teacher_edit_loaded", None)
        ss.pop("teacher_edit_json_loaded", None)
        return
    answer_detail(me, answer_id)


def review_list(me, limit: int = 10) -> None:
    """The answers to look at first (``tutor.curation.needing_review``), each with why and a way into the editor."""
    rows = me.tutor.curation.needing_review(me.identity, limit=limit)
    if not rows:
        return
    with st.container(border=True, key="teacher_review"):
        st.markdown(f"**{me.t('review_title')}**")
        st.caption(me.t("review_intro"))
        for row in rows:
            with st.container(horizontal=True, vertical_alignment="center", key=f"teacher_review_{row['id']}"):
                st.markdown(f"{plain_markdown(shorten(row['question'], 90))}  \n:gray[{review_reasons(me, row)}]")
                st.button(me.t("review_open"), key=f"teacher_review_open_{row['id']}", icon=":material/edit:",
                          on_click=_open_for_review, args=(row["id"],))


def review_reasons(me, row: dict) -> str:
    texts = []
    if "check_failed" in row["reasons"]:
        n = row["failed_claims"]
        texts.append(me.t("review_check_failed_one") if n == 1 else me.t("review_check_failed_many", n=n))
    if "poor_ratings" in row["reasons"]:
        texts.append(me.t("review_poor_ratings", unhelpful=row["recent_unhelpful"], helpful=row["recent_helpful"]))
    return " · ".join(texts)


def _open_for_review(answer_id: str) -> None:
    """Open the answer on its Edit tab, whatever the list's search and filter were."""
    ss = st.session_state
    ss["teacher_library_search"], ss["teacher_library_status"] = "", "all"
    ss["teacher_answer"] = answer_id
    ss["teacher_answer_tabs"] = app.who().t("answer_edit")


def _answers_display(me, frame: pd.DataFrame) -> pd.DataFrame:
    shown = with_topic(frame)
    shown["status"] = [me.t("answer_needs_review") if review else me.t(f"answer_status_{s}")
                       for s, review in zip(shown["status"], frame_review(frame))]
    shown["source"] = [me.t(f"answer_source_{s}") for s in shown["source"]]
    shown["helpful_rate"] = [percent(None if pd.isna(v) else v, me.lang) for v in shown["helpful_rate"]]
    return shown


def frame_review(frame: pd.DataFrame) -> list[bool]:
    return [bool(v) for v in frame["needs_review"]] if "needs_review" in frame else [False] * len(frame)


def answer_detail(me, answer_id: str) -> None:
    ss = st.session_state
    detail = me.tutor.curation.get(me.identity, answer_id)
    with st.container(border=True, key="teacher_answer_detail"):
        st.markdown(f"#### {plain_markdown(detail['question'])}")
        st.caption(me.t("answer_meta", status=me.t(f"answer_status_{detail['status']}"),
                        source=me.t(f"answer_source_{detail['source']}"), version=detail["version"],
                        hits=detail["hits"], ratings=detail["ratings"]))
        if detail["check_failures"]:
            claims = "\n".join("- " + me.t("answer_check_step", step=f["step"], claim=f["claim"])
                               for f in detail["check_failures"])
            st.warning(f"{me.t('answer_check_failed')}\n\n{claims}", icon=":material/calculate:")
        notice = ss.pop("teacher_answer_notice", None)
        if notice:
            kind, text = notice
            getattr(st, kind)(text, icon=NOTICE_ICONS[kind])
        actions(me, detail)
        preview_tab, edit_tab, history_tab = st.tabs(
            [me.t("answer_preview"), me.t("answer_edit"), me.t("answer_history")], key="teacher_answer_tabs",
            on_change="rerun")
        with preview_tab:
            preview(me, detail)
        with edit_tab:
            answer_editor.editor(me, detail)
        with history_tab:
            versions(me, detail)


def actions(me, detail: dict) -> None:
    ss = st.session_state
    answer_id, version = detail["id"], detail["version"]
    with st.container(horizontal=True):
        if detail["status"] == "approved":
            st.button(me.t("answer_retire"), key="teacher_retire", icon=":material/archive:",
                      on_click=_ask_retire, args=(answer_id,))
        else:
            st.button(me.t("answer_approve"), key="teacher_approve", icon=":material/verified:", type="primary",
                      on_click=_approve, args=(answer_id, version))
    if ss.get("teacher_confirm_retire") == answer_id and detail["status"] == "approved":
        st.warning(me.t("answer_retire_confirm"), icon=":material/warning:")
        with st.container(horizontal=True):
            st.button(me.t("answer_retire_yes"), key="teacher_retire_yes", type="primary",
                      icon=":material/archive:", on_click=_retire, args=(answer_id, version))
            st.button(me.t("cancel"), key="teacher_retire_no", on_click=_cancel_retire)


def preview(me, detail: dict) -> None:
    """Each step as the explanation page draws it: heading, progress badge, text, and that step's whiteboard."""
    total = len(detail["preview"])
    for step in detail["preview"]:
        number = step["step"]
        with st.container(border=True, key=f"teacher_preview_step_{number}"):
            text, board = st.columns([3, 2], gap="large")
            with text:
                badge = progress_label(number, total, detail.get("total_duration"), me.lang)
                st.markdown(f"##### {number}. {step_markdown(step['title'])}\n:gray-badge[{badge}]")
                st.markdown(step_markdown(step["content"]))
            if step["svg"]:
                with board, st.container(key=f"teacher_board_{number}"):
                    st.markdown(step["svg"], unsafe_allow_html=True)  # built by core from validated, escaped commands


def versions(me, detail: dict) -> None:
    rows = me.tutor.curation.history(me.identity, detail["id"])
    frame = pd.DataFrame(rows, columns=["version", "action", "summary", "editor_id", "editor", "status", "steps",
                                        "created_at"])
    shown = frame.drop(columns=["steps"])
    shown["action"] = [me.t(f"action_{a}") if a in ("created", "edited", "approved", "retired") else a
                       for a in shown["action"]]
    shown["status"] = [me.t(f"answer_status_{s}") if s in ("approved", "retired") else s for s in shown["status"]]
    today = dt.datetime.now(dt.timezone.utc).date()
    table(frame.drop(columns=["steps"]), "versions",
          lambda name, stem="": f"answer-{detail['id'][:8]}-versions-{today}.csv", display=shown,
          columns={"version": "col_version", "action": "col_action", "summary": "col_summary",
                   "editor": "col_editor", "status": "col_status", "created_at": "col_when"})


# --- callbacks ------------------------------------------------------------------------------------------------------

def _approve(answer_id: str, version: int) -> None:
    me = app.who()
    _act(me, lambda: me.tutor.curation.approve(me.identity, answer_id, expected_version=version), "answer_approved")


def _ask_retire(answer_id: str) -> None:
    st.session_state["teacher_confirm_retire"] = answer_id


def _cancel_retire() -> None:
    st.session_state.pop("teacher_confirm_retire", None)


def _retire(answer_id: str, version: int) -> None:
    me = app.who()
    st.session_state.pop("teacher_confirm_retire", None)
    _act(me, lambda: me.tutor.curation.retire(me.identity, answer_id, expected_version=version), "answer_retired")


def _act(me, action, done: str) -> None:
    try:
        action()
    except TutorError as error:
        st.session_state["teacher_answer_notice"] = ("error", me.message(error))
    else:
        st.session_state["teacher_answer_notice"] = ("success", me.t(done))
