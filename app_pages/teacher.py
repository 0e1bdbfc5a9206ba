"""The teacher's page: a class's activity over a date range, where students struggle, who may need help, the
ratings, the answer library (preview, edit, approve, retire, versions), and the classes with their join codes and
credits.

Thin over ``core``: every number comes from ``tutor.frames`` (which checks, in core, that the caller may see the
class) or ``tutor.curation``; this page only lays them out, and every table has a CSV download under it
(``core.school.frames.to_csv``). The answer library lives in ``ui/teacher.py``.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.errors import Forbidden, TutorError
from ui import app
from ui import teacher as view
from ui.render import plain_markdown
from ui.teacher_view import (
    count,
    csv_file_name,
    date_range,
    default_range,
    duration,
    per_day_chart,
    percent,
    shorten,
    struggles_chart,
    topics_chart,
)

me = app.who()
tutor = me.tutor
identity = me.identity
ss = st.session_state
credits = getattr(tutor, "credits", None)  # core/school/credits.py may not be there in every deployment

STYLE = """
<style>
[class*="st-key-teacher_board_"] svg { width: 100%; height: auto; }
.st-key-teacher_filters { gap: 1rem; }
</style>
"""


# --- callbacks (they run before the page, right after the click) ----------------------------------------------------

def _create_class() -> None:
    try:
        klass = tutor.create_class(identity, ss.get("class_name") or "")
    except TutorError as error:
        ss["teacher_class_notice"] = ("error", me.message(error))
    else:
        ss["teacher_class_notice"] = ("success", me.t("class_created", code=klass.join_code))


def _grant(names: dict[str, str]) -> None:
    student_id = ss.get("teacher_grant_student")
    try:
        balance = credits.grant(identity, student_id, int(ss.get("teacher_grant_amount") or 0),
                                ss.get("teacher_grant_reason") or "grant")
    except TutorError as error:
        ss["teacher_grant_notice"] = ("error", me.message(error))
    else:
        ss["teacher_grant_notice"] = ("success", me.t("granted", name=plain_markdown(names.get(student_id, "")),
                                                        balance=balance))


def _notice(key: str) -> None:
    notice = ss.pop(key, None)
    if notice:
        kind, text = notice
        getattr(st, kind)(text, icon=view.NOTICE_ICONS[kind])


# --- the filters ------------------------------------------------------------------------------------------------------

def filters(classes: list) -> tuple[str, dt.date, dt.date]:
    """The class (only the caller's own: core lists them) and the date range, both kept in widget state."""
    names = {c.id: c.name for c in classes}
    if ss.get("teacher_class") not in names:  # a stale or foreign value is never kept
        ss["teacher_class"] = classes[0].id
    today = dt.datetime.now(dt.timezone.utc).date()
    fallback = default_range(today)
    with st.container(horizontal=True, key="teacher_filters", vertical_alignment="bottom"):
        class_id = st.selectbox(me.t("teacher_class"), options=list(names), format_func=names.get,
                                key="teacher_class", width=320)
        picked = st.date_input(me.t("teacher_range"), value=fallback, key="teacher_range",
                               help=me.t("teacher_range_help"), format="YYYY-MM-DD", width=260)
    start, end = date_range(picked, fallback)
    return class_id, start, end


# --- the tabs -------------------------------------------------------------------------------------------------------

def overview(class_id: str, start, end, kpis: dict, csv_name) -> None:
    if not kpis["students"]:
        st.info(me.t("class_no_students"), icon=":material/group_add:")
    with st.container(key="teacher_kpis"):
        metrics = [
            ("kpi_active", f"{count(kpis['active_students'])} / {count(kpis['students'])}"),
            ("kpi_questions", count(kpis["questions"])),
            ("kpi_cache", percent(kpis["cache_hit_rate"], me.lang)),
            ("kpi_completion", percent(kpis["completion_rate"], me.lang)),
            ("kpi_time", duration(kpis["avg_time_to_complete_s"])),
            ("kpi_errors", count(kpis["ai_errors"])),
        ]
        cells = [cell for _ in range(2) for cell in st.columns(3)]
        for cell, (label, value) in zip(cells, metrics):
            cell.metric(me.t(label), value, help=me.t(f"{label}_help"), border=True)

    per_day = tutor.frames.questions_per_day(identity, class_id, start, end)
    st.subheader(me.t("questions_per_day"), anchor=False)
    with st.container(key="teacher_chart_per_day"):
        st.altair_chart(per_day_chart(per_day, me.t), width="stretch")
    view.csv_button(per_day, "per_day", csv_name)

    st.subheader(me.t("top_questions"), anchor=False)
    top = tutor.frames.top_questions(identity, class_id, start, end)
    view.table(top, "top_questions", csv_name, display=view.with_topic(top), columns={
        "question": "col_question", "subject": "col_subject", "asked": "col_asked", "students": "col_students",
        "last_asked": "col_last_asked"})

    st.subheader(me.t("topics"), anchor=False)
    topics = tutor.frames.topics(identity, class_id, start, end)
    shown = view.with_topic(topics)
    left, right = st.columns([1, 1], gap="large")
    with left:
        view.table(topics, "topics", csv_name, display=shown, columns={
            "subject": "col_subject", "asked": "col_asked", "questions": "col_questions", "students": "col_students"})
    if len(shown):
        with right, st.container(key="teacher_chart_topics"):
            st.altair_chart(topics_chart(shown, me.t), width="stretch")

    st.subheader(me.t("match_decisions"), anchor=False)
    st.caption(me.t("match_decisions_help"))
    decisions = tutor.frames.match_decisions(identity, class_id, start, end)
    view.table(decisions, "match_decisions", csv_name, display=view.with_match_labels(decisions), columns={
        "how": "col_how", "questions": "col_count", "share": "col_share", "avg_score": "col_avg_score"})


def struggles(class_id: str, start, end, csv_name) -> None:
    st.caption(me.t("struggles_intro"))
    points = tutor.frames.struggle_points(identity, class_id, start, end)
    if len(points):
        with st.container(key="teacher_chart_struggles"):
            st.altair_chart(struggles_chart(points, me.t), width="stretch")
    else:
        st.info(me.t("struggles_none"), icon=":material/sentiment_satisfied:")
    view.table(points, "struggles", csv_name, columns={
        "question": "col_question", "step": "col_step", "step_title": "col_step_title", "pauses": "col_pauses",
        "abandons": "col_abandons", "students": "col_students", "subject": "col_subject"})


def students(class_id: str, start, end, csv_name) -> None:
    st.subheader(me.t("help_title"), anchor=False)
    needing = view.with_reasons(tutor.frames.students_needing_help(identity, class_id, start, end))
    if not len(needing):
        st.success(me.t("help_none"), icon=":material/sentiment_satisfied:")
    view.table(needing, "needing_help", csv_name, display=view.with_names(needing), columns={
        "name": "col_name", "reasons": "col_reasons", "score": "col_score",
        "pauses": "col_pauses", "repeated_questions": "col_repeated", "abandoned": "col_abandoned",
        "unhelpful_ratings": "col_unhelpful"})

    st.divider()
    members = tutor.students(identity, class_id)
    if not members:
        st.info(me.t("class_empty"), icon=":material/group_add:")
        return
    names = {u.id: f"{u.name} · {u.email}" if u.name else u.email for u in members}
    if ss.get("teacher_student") not in names:
        ss["teacher_student"] = None
    student_id = st.selectbox(me.t("student_pick"), options=list(names), format_func=names.get, index=None,
                              placeholder=me.t("student_pick_placeholder"), key="teacher_student", width=420)
    if not student_id:
        return
    detail = tutor.frames.student_detail(identity, class_id, student_id, start, end)
    who = detail.student
    st.markdown(f"#### {plain_markdown(who['name'] or who['email'])}")
    if who["name"]:
        st.caption(plain_markdown(who["email"]))
    stem = f"student-{shorten(who['email'], 40)}"
    st.markdown(f"**{me.t('student_sessions')}**")
    view.table(detail.sessions, "student_sessions", csv_name, stem=stem, display=view.sessions_display(detail.sessions),
               columns={"title": "col_title", "kind": "col_kind", "status": "col_status", "step": "col_step",
                        "pauses": "col_pauses", "helpful": "col_helpful", "abandoned": "col_abandoned",
                        "created_at": "col_started", "last_activity": "col_last_activity"})
    st.markdown(f"**{me.t('student_questions')}**")
    view.table(detail.questions, "student_questions", csv_name, stem=stem,
               display=view.with_topic(detail.questions),
               columns={"question": "col_question", "subject": "col_subject", "asked": "col_asked",
                        "first_asked": "col_first_asked", "last_asked": "col_last_asked"})
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown(f"**{me.t('student_pauses')}**")
        view.table(detail.pauses, "student_pauses", csv_name, stem=stem, columns={
            "paused_at": "col_when", "question": "col_question", "step": "col_step", "position": "col_position"})
    with right:
        st.markdown(f"**{me.t('student_ratings')}**")
        view.table(detail.ratings, "student_ratings", csv_name, stem=stem,
                   display=view.ratings_display(detail.ratings),
                   columns={"rated_at": "col_rated_at", "question": "col_question", "helpful": "col_helpful",
                            "comment": "col_comment"})


def ratings(class_id: str, start, end, csv_name) -> None:
    frame = tutor.frames.ratings(identity, class_id, start, end)
    if not len(frame):
        st.info(me.t("ratings_none"), icon=":material/reviews:")
    view.table(frame, "ratings", csv_name, display=view.ratings_display(frame), columns={
        "rated_at": "col_rated_at", "helpful": "col_helpful", "comment": "col_comment", "question": "col_question",
        "name": "col_name", "email": "col_email"})


def classes_tab(classes: list, class_id: str | None, csv_name) -> None:
    """The placeholder's content (join codes, a create-class form), plus the selected class's credit balances."""
    create_form()
    with st.container(key="teacher_class_list"):
        for klass in classes:
            with st.container(border=True, key=f"teacher_class_card_{klass.id}"):
                left, right = st.columns([3, 1], vertical_alignment="center")
                members = tutor.students(identity, klass.id)
                left.markdown(f"**{plain_markdown(klass.name)}**")
                left.caption(me.t("students_count", n=len(members)))
                right.caption(me.t("join_code"))
                right.code(klass.join_code, language=None)
    if credits is not None and class_id:
        with view.errors_shown(me):
            credit_section(next(c for c in classes if c.id == class_id), csv_name)


def create_form() -> None:
    with st.form("class_form", border=False, clear_on_submit=True):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.text_input(me.t("class_name"), key="class_name", max_chars=120)
            st.form_submit_button(me.t("create_class"), key="class_create", icon=":material/add:",
                                  on_click=_create_class)
    _notice("teacher_class_notice")


def credit_section(klass, csv_name) -> None:
    st.subheader(me.t("credits_title", name=plain_markdown(klass.name)), anchor=False)
    st.caption(me.t("credits_intro"))
    members = tutor.students(identity, klass.id)
    balances = pd.DataFrame([{"student_id": u.id, "name": u.name, "email": u.email,
                              "credits": credits.balance(identity, u.id)} for u in members],
                            columns=["student_id", "name", "email", "credits"])
    view.table(balances, "credits", csv_name, columns={"name": "col_name", "email": "col_email",
                                                      "credits": "col_credits"})
    if not members:
        return
    names = {u.id: f"{u.name} · {u.email}" if u.name else u.email for u in members}
    short = {u.id: u.name or u.email for u in members}
    if ss.get("teacher_grant_student") not in names:
        ss["teacher_grant_student"] = members[0].id
    with st.form("teacher_grant_form", border=False):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.selectbox(me.t("grant_student"), options=list(names), format_func=names.get,
                         key="teacher_grant_student", width=320)
            st.number_input(me.t("grant_amount"), min_value=1, max_value=credits.max_grant, value=5, step=1,
                            key="teacher_grant_amount", width=140)
            st.text_input(me.t("grant_reason"), max_chars=credits.max_reason_chars, key="teacher_grant_reason", width=260)
            st.form_submit_button(me.t("grant_submit"), key="teacher_grant", icon=":material/add_card:",
                                  on_click=_grant, args=(short,))
    _notice("teacher_grant_notice")


# --- the page -------------------------------------------------------------------------------------------------------

def main() -> None:
    if not me.is_teacher:  # never registered for other roles, and core refuses them anyway: belt and braces
        st.warning(me.t("page_not_allowed"), icon=":material/block:")
        return
    st.html(STYLE)
    st.title(me.t("teacher_page_title"), anchor=False)
    classes = tutor.classes(identity)
    if not classes:
        with st.container(key="teacher_empty"):
            st.info(me.t("teacher_no_classes"), icon=":material/group_add:")
            create_form()
        st.divider()
        st.subheader(me.t("library_title"), anchor=False)
        with view.errors_shown(me):
            view.answer_library(me)
        return

    class_id, start, end = filters(classes)
    klass = next(c for c in classes if c.id == class_id)

    def csv_name(name: str, stem: str = "") -> str:
        return csv_file_name(klass.name, name, start, end, stem)

    try:
        kpis = tutor.frames.kpis(identity, class_id, start, end)
    except Forbidden as error:
        st.error(me.message(error), icon=":material/block:")
        return
    except TutorError as error:
        st.error(me.message(error), icon=":material/error:")
        return
    st.caption(me.t("teacher_students_n", n=kpis["students"]))
    labels = [me.t(k) for k in ("tab_overview", "tab_struggles", "tab_students", "tab_ratings", "tab_library",
                                "tab_classes")]
    # A class nobody has joined yet has nothing to analyse: open on its join code instead.
    tabs = st.tabs(labels, key="teacher_tabs", default=labels[-1] if not kpis["students"] else None)
    with tabs[0], view.errors_shown(me):
        overview(class_id, start, end, kpis, csv_name)
    with tabs[1], view.errors_shown(me):
        struggles(class_id, start, end, csv_name)
    with tabs[2], view.errors_shown(me):
        students(class_id, start, end, csv_name)
    with tabs[3], view.errors_shown(me):
        ratings(class_id, start, end, csv_name)
    with tabs[4], view.errors_shown(me):
        view.answer_library(me)
    with tabs[5], view.errors_shown(me):
        classes_tab(classes, class_id, csv_name)


main()
