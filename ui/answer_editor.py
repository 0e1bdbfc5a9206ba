"""The teacher's answer editor: one block per step (title, type, text with its maths previewed, the whiteboard as a
table of commands with the board previewed), steps added, removed and moved; the whole answer as JSON only in an
"advanced" tab. Saving goes through ``tutor.curation.edit`` (validation, versions); a refused edit is shown at the
step and field core names (``Paso 2 · texto: …``) and keeps what the teacher typed.

The draft lives in session state under ``teacher_step_<n>_…`` keys (n = 1, 2, … in the order shown): ``title``,
``type``, ``content`` (the widgets), ``base`` (the rows the whiteboard table starts from) and ``rows`` (the table as
last edited). A change of shape (a step added, removed or moved, a drawing added) rewrites them all and starts the
tables afresh under a new ``teacher_edit_generation``.
"""
from __future__ import annotations

import json

import streamlit as st

from core.errors import TutorError
from ui import app
from ui.render import step_markdown
from ui.teacher_view import (
    COMMAND_COLUMNS,
    NUMBER_FIELDS,
    DrawingError,
    command_rows,
    commands_from_rows,
    new_drawing,
    rows_frame,
)
from ui.texts import TEXTS

PREFIX = "teacher_step_"
PARTS = ("title", "type", "content", "canvas_commands")
COLORS = ("blue", "red", "green", "orange", "purple", "black", "gray")
MAX_STEPS = 8


def editor(me, detail: dict) -> None:
    load(detail)
    form_tab, json_tab = st.tabs([me.t("edit_form"), me.t("edit_json")], key="teacher_edit_tabs")
    error = st.session_state.pop("teacher_edit_error", None)
    with form_tab:
        count = st.session_state["teacher_edit_count"]
        for number in range(1, count + 1):
            step_block(me, number, count, error)
        with st.container(horizontal=True):
            st.button(me.t("edit_add_step"), key="teacher_add_step", icon=":material/add:",
                      disabled=count >= MAX_STEPS, on_click=_add_step)
            st.button(me.t("answer_save"), key="teacher_save", type="primary", icon=":material/save:",
                      on_click=_save, args=(detail["id"], detail["version"]))
        if error and not error[0]:
            st.error(error[1], icon=":material/error:")
    with json_tab:
        advanced(me, detail)


def step_block(me, number: int, count: int, error) -> None:
    ss, key = st.session_state, f"{PREFIX}{number}_"
    with st.container(border=True, key=f"teacher_edit_step_{number}"):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{me.t('step_n', step=number)}**")
            st.button(me.t("edit_up"), key=f"{key}up", icon=":material/arrow_upward:", type="tertiary",
                      disabled=number == 1, on_click=_move_step, args=(number, -1))
            st.button(me.t("edit_down"), key=f"{key}down", icon=":material/arrow_downward:", type="tertiary",
                      disabled=number == count, on_click=_move_step, args=(number, 1))
            st.button(me.t("edit_remove_step"), key=f"{key}remove", icon=":material/delete:", type="tertiary",
                      disabled=count == 1, on_click=_remove_step, args=(number,))
        if error and error[0] == number:
            st.error(error[1], icon=":material/error:")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.text_input(me.t("step_title"), key=f"{key}title")
            st.selectbox(me.t("step_type"), options=list(me.tutor.curation.step_types),
                         format_func=lambda t: me.t(f"step_type_{t}"), key=f"{key}type", width=160)
        text, shown = st.columns(2, gap="medium")
        text.text_area(me.t("step_content"), key=f"{key}content", height=200)
        with shown, st.container(border=True, key=f"teacher_edit_preview_{number}"):
            st.caption(me.t("edit_preview"))
            st.markdown(step_markdown(ss.get(f"{key}content") or ""))
        board(me, number)


def board(me, number: int) -> None:
    """The step's whiteboard: its commands as an editable table, a new drawing by op, and the board drawn."""
    ss, key = st.session_state, f"{PREFIX}{number}_"
    table, drawn = st.columns([3, 2], gap="medium")
    with table:
        st.caption(me.t("edit_board_table"))
        edited = st.data_editor(rows_frame(ss[f"{key}base"]), key=f"{key}board_{ss['teacher_edit_generation']}",
                                num_rows="dynamic", hide_index=True, column_config=_columns(me),
                                column_order=list(COMMAND_COLUMNS), width="stretch", placeholder="")
        ss[f"{key}rows"] = edited.to_dict("records")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.selectbox(me.t("edit_new_drawing"), options=list(me.tutor.curation.drawing_ops),
                         format_func=lambda op: me.t(f"op_{op}"), key=f"{key}new_op", width=200)
            st.button(me.t("edit_add_drawing"), key=f"{key}add_drawing", icon=":material/draw:",
                      on_click=_add_drawing, args=(number,))
    with drawn, st.container(key=f"teacher_edit_board_{number}"):
        try:
            commands = commands_from_rows(ss[f"{key}rows"])
        except DrawingError as error:
            st.caption(drawing_error_text(me, number, error))
            return
        picture = me.tutor.curation.draw(me.identity, commands)
        if picture["svg"]:
            st.markdown(picture["svg"], unsafe_allow_html=True)  # built by core from validated, escaped commands
        for problem in picture["problems"]:
            detail = drawing_problem(me, problem.get("code"), problem.get("params"), problem["detail"])
            st.caption(me.t("edit_drawing_skipped", n=problem["command"], detail=detail))


def _columns(me) -> dict:
    number = {name: st.column_config.NumberColumn(name, format="%g") for name in NUMBER_FIELDS}
    return {"op": st.column_config.SelectboxColumn(me.t("col_op"), options=list(me.tutor.curation.drawing_ops),
                                                   format_func=lambda op: me.t(f"op_{op}"), required=True),
            **number,
            "points": st.column_config.TextColumn(me.t("col_points"), help=me.t("col_points_help")),
            "expr": st.column_config.TextColumn(me.t("col_expr")),
            "text": st.column_config.TextColumn(me.t("col_text")),
            "label": st.column_config.TextColumn(me.t("col_label")),
            "color": st.column_config.SelectboxColumn(me.t("col_color"), options=list(COLORS),
                                                      format_func=lambda c: me.t(f"color_{c}")),
            "x_label": st.column_config.TextColumn(me.t("col_x_label")),
            "y_label": st.column_config.TextColumn(me.t("col_y_label")),
            "id": st.column_config.TextColumn(me.t("col_id"), help=me.t("col_id_help")),
            "grid": st.column_config.CheckboxColumn(me.t("col_grid")),
            "ticks": st.column_config.CheckboxColumn(me.t("col_ticks")),
            "visible": st.column_config.CheckboxColumn(me.t("col_visible")),
            "at_char": st.column_config.NumberColumn(me.t("col_at_char"), help=me.t("col_at_char_help"),
                                                     min_value=0, step=1, format="%d")}


def advanced(me, detail: dict) -> None:
    """The whole answer's steps as JSON, for those who prefer it; saved the same way."""
    ss = st.session_state
    if ss.get("teacher_edit_json_loaded") != (detail["id"], detail["version"]):
        ss["teacher_edit_json"] = json.dumps(detail["steps"], ensure_ascii=False, indent=2)
        ss["teacher_edit_json_loaded"] = (detail["id"], detail["version"])
    st.caption(me.t("edit_json_help"))
    st.text_area(me.t("edit_json"), key="teacher_edit_json", height=360, label_visibility="collapsed")
    st.button(me.t("edit_json_save"), key="teacher_save_json", icon=":material/data_object:",
              on_click=_save_json, args=(detail["id"], detail["version"]))
    notice = ss.pop("teacher_edit_json_error", None)
    if notice:
        st.error(notice, icon=":material/error:")


# --- the draft ---------------------------------------------------------------------------------------------------

def load(detail: dict) -> None:
    """The answer's steps in the editor when another answer (or a new version) opens; a refused save keeps the
    draft."""
    loaded = (detail["id"], detail["version"])
    if st.session_state.get("teacher_edit_loaded") != loaded:
        write([{"title": s.get("title", ""), "type": s.get("type", "text"), "content": s.get("content", ""),
                "rows": command_rows(s.get("canvas_commands"))} for s in detail["steps"]])
        st.session_state["teacher_edit_loaded"] = loaded
        st.session_state.pop("teacher_edit_error", None)


def draft() -> list[dict]:
    ss = st.session_state
    return [{"title": ss.get(f"{PREFIX}{n}_title", ""), "type": ss.get(f"{PREFIX}{n}_type", "text"),
             "content": ss.get(f"{PREFIX}{n}_content", ""),
             "rows": ss.get(f"{PREFIX}{n}_rows", ss.get(f"{PREFIX}{n}_base", []))}
            for n in range(1, ss.get("teacher_edit_count", 0) + 1)]


def write(steps: list[dict]) -> None:
    ss = st.session_state
    for key in [k for k in ss if str(k).startswith(PREFIX)]:
        del ss[key]
    ss["teacher_edit_generation"] = ss.get("teacher_edit_generation", 0) + 1
    ss["teacher_edit_count"] = len(steps)
    for number, step in enumerate(steps, start=1):
        key = f"{PREFIX}{number}_"
        ss[f"{key}title"], ss[f"{key}type"], ss[f"{key}content"] = step["title"], step["type"], step["content"]
        ss[f"{key}base"] = ss[f"{key}rows"] = list(step["rows"])


def _add_step() -> None:
    write(draft() + [{"title": "", "type": "text", "content": "", "rows": []}])


def _remove_step(number: int) -> None:
    steps = draft()
    del steps[number - 1]
    write(steps)


def _move_step(number: int, by: int) -> None:
    steps = draft()
    steps.insert(number - 1 + by, steps.pop(number - 1))
    write(steps)


def _add_drawing(number: int) -> None:
    me, steps = app.who(), draft()
    op = st.session_state.get(f"{PREFIX}{number}_new_op") or next(iter(me.tutor.curation.drawing_ops))
    steps[number - 1]["rows"] = [*steps[number - 1]["rows"], new_drawing(op, me.tutor.curation.drawing_ops[op])]
    write(steps)


# --- saving ----------------------------------------------------------------------------------------------------------

def _save(answer_id: str, version: int) -> None:
    me, ss = app.who(), st.session_state
    steps = []
    for number, step in enumerate(draft(), start=1):
        try:
            commands = commands_from_rows(step["rows"])
        except DrawingError as error:
            ss["teacher_edit_error"] = (number, drawing_error_text(me, number, error))
            return
        steps.append({"title": step["title"], "type": step["type"], "content": step["content"],
                      "canvas_commands": commands})
    _edit(me, answer_id, version, steps, "teacher_edit_error")


def _save_json(answer_id: str, version: int) -> None:
    me, ss = app.who(), st.session_state
    try:
        steps = json.loads(ss.get("teacher_edit_json") or "")
    except json.JSONDecodeError as error:
        ss["teacher_edit_json_error"] = me.t("edit_json_bad", line=error.lineno, column=error.colno)
        return
    _edit(me, answer_id, version, steps, "teacher_edit_json_error")


def _edit(me, answer_id: str, version: int, steps, error_key: str) -> None:
    ss = st.session_state
    ss.pop("teacher_edit_error", None)
    try:
        saved = me.tutor.curation.edit(me.identity, answer_id, steps, expected_version=version)
    except TutorError as error:
        located = located_error(me, error)
        ss[error_key] = located if error_key == "teacher_edit_error" else located[1]
        return
    if saved["version"] == version:
        ss["teacher_answer_notice"] = ("info", me.t("answer_unchanged"))
    else:
        ss["teacher_answer_notice"] = ("success", me.t("answer_saved", version=saved["version"]))


def located_error(me, error: TutorError) -> tuple[int | None, str]:
    """``(step, "Paso 2 · texto: está vacío.")`` for a refused edit; ``(None, message)`` when core names no step."""
    params = error.params
    step, part = params.get("step"), params.get("part")
    if not step or part not in PARTS:
        return None, me.message(error)
    where = me.t("edit_where", step=step, part=me.t(f"part_{part}"))
    if params.get("command"):
        where = f"{where}, {me.t('drawing_n', n=params['command'])}"
    check = params.get("check")
    if params.get("problem"):  # a formula or link rule: core's own message, with the place in words
        return step, type(error)(error.code, **{**params, "field": where}).message_for(me.lang)
    if check == "drawing":
        detail = drawing_problem(me, params.get("detail_code"), params.get("detail_params"), params.get("detail", ""))
        return step, f"{where}: {me.t('check_drawing', detail=detail)}"
    if check in ("empty", "too_long", "html", "control", "delimiters", "type", "drawings"):
        return step, f"{where}: {me.t(f'check_{check}', limit=params.get('limit', ''))}"
    return step, f"{where}: {me.message(error)}"


def drawing_error_text(me, number: int, error: DrawingError) -> str:
    where = f"{me.t('edit_where', step=number, part=me.t('part_canvas_commands'))}, {me.t('drawing_n', n=error.index)}"
    return f"{where}: {me.t(f'drawing_{error.kind}')}"


def drawing_problem(me, code: str | None, params: dict | None, reason: str) -> str:
    """What is wrong with a drawing, in the page's language (core's canvas error code and params)."""
    key = f"canvas_{code}"
    if not code or key not in TEXTS:
        return reason
    named = {name: me.t(f"col_{value}") if name in ("field", "other") and f"col_{value}" in TEXTS else value
             for name, value in (params or {}).items()}  # a field by its column's name; coordinates stay symbols
    return me.t(key, **named)
