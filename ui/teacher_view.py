"""Presentation helpers for the teacher page: numbers as text, the Altair charts, and the whiteboard editor's text.

No Streamlit here and nothing that decides anything: every number comes from ``tutor.frames`` or
``tutor.curation``; this module only turns values into what the page shows, and the editor's whiteboard table back
into the canvas-command list that ``Curation.edit`` validates.
"""
from __future__ import annotations

import datetime as dt
import math

import altair as alt
import pandas as pd

from .render import file_stem
from .texts import HELP_REASONS

NOTHING = "—"


def count(value) -> str:
    """A whole number, or ``—`` when there is nothing to count."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOTHING
    return f"{int(value):d}"


def percent(rate: float | None, language: str) -> str:
    """A rate from 0 to 1 as a whole percentage: ``67 %`` in Spanish, ``67%`` in English; ``—`` when ``None``."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return NOTHING
    number = round(rate * 100)
    return f"{number} %" if language == "es" else f"{number}%"


def duration(seconds: float | None) -> str:
    """Seconds as ``45 s``, ``2 min 5 s``, ``1 h 3 min``; ``—`` when unknown."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)) or seconds < 0:
        return NOTHING
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def default_range(today: dt.date, days: int = 30) -> tuple[dt.date, dt.date]:
    """The last ``days`` days, today included."""
    return today - dt.timedelta(days=days - 1), today


def date_range(value, fallback: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The ``(start, end)`` of a date-range picker's value: while only the first day is picked, that day alone;
    an empty picker gives ``fallback``. A range picked backwards is put in order."""
    days = [d for d in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(d, dt.date)]
    if not days:
        return fallback
    first, last = days[0], days[-1]
    return (first, last) if first <= last else (last, first)


def shorten(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut with ``…`` past ``limit`` characters."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def reasons_text(signs, counts, language: str) -> str:
    """Why a student may need help, readable: ``2 explicaciones abandonadas · 3 pausas``. ``signs`` come from
    ``Frames.students_needing_help`` (heaviest first) and ``counts`` is that student's row."""
    texts = []
    for sign in signs:
        one, many = HELP_REASONS[sign].get(language, HELP_REASONS[sign]["en"])
        texts.append((one if counts[sign] == 1 else many).format(n=int(counts[sign])))
    return " · ".join(texts)


def step_label(question: str, step: int, step_title: str, step_word: str, limit: int = 70) -> str:
    """A chart label for one step of a lesson: ``Pitágoras… · Paso 2: Los catetos``; step 0 (given up before the
    first step) has no title."""
    tail = f"{step_word} {int(step)}" + (f": {step_title}" if step_title else "")
    head = shorten(question, max(20, min(40, limit - len(tail) - 3)))  # the question gives way to the step first
    return shorten(f"{head} · {tail}", limit)


# --- the charts -------------------------------------------------------------------------------------------------------
# Bar charts are sized by their rows: every bar gets ``ROW_PX`` (a label line and a bar that reads as one), and the
# axis and legend come on top; only the first ``MAX_BARS`` rows are drawn (the table under the chart has them all), which
# bounds the height. Labels are cut to ``LABEL_CHARS`` characters (the tooltip has the whole text) and made unique,
# so two rows never share a band. No colours here: Streamlit's Altair theme draws them in its light and dark themes.

ROW_PX = 32
MIN_ROW_PX = 24  # the least a row may get and still be read (a test checks every chart against it)
MIN_CHART_PX = 64
MAX_BARS = 15
# The height is the plot's own: Streamlit's default ("fit") would squeeze the legend and axis into it too, which is
# how two rows once got 120 px between them, legend included.
PLOT_SIZED = alt.AutoSizeParams(type="fit-x", contains="padding")
LABEL_CHARS = 48
LABEL_LIMIT_PX = 340  # wide enough for LABEL_CHARS characters of the axis font: Vega never cuts them again
LINE_CHART_PX = 260


def bar_chart_height(rows: int) -> int:
    """The plot height of a bar chart of ``rows`` bars (at most ``MAX_BARS`` are drawn), axis and legend apart."""
    return max(MIN_CHART_PX, ROW_PX * min(rows, MAX_BARS))


def unique_labels(texts, limit: int = LABEL_CHARS) -> list[str]:
    """``texts`` cut to ``limit`` characters, a repeated label numbered (``… (2)``) so each row keeps its band."""
    labels, seen = [], {}
    for text in texts:
        label = shorten(text, limit)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{shorten(text, limit - 4)} ({seen[label]})")
    return labels


def _row_axis(labels: list[str]) -> alt.Y:
    return alt.Y("label:N", title=None, sort=labels,
                 axis=alt.Axis(labelLimit=LABEL_LIMIT_PX, labelOverlap=False, labelPadding=6))


def topics_chart(topics: pd.DataFrame, t) -> alt.Chart:
    """Questions asked per topic, most asked first. ``topics`` is ``Frames.topics`` with readable subjects; ``t``
    translates a text key."""
    top = topics.sort_values(["asked", "subject"], ascending=[False, True]).head(MAX_BARS)
    labels = unique_labels(top["subject"])
    data = top.assign(label=labels)
    return (alt.Chart(data).mark_bar(cornerRadiusEnd=3)
            .encode(y=_row_axis(labels),
                    x=alt.X("asked:Q", title=None, axis=alt.Axis(tickMinStep=1)),
                    tooltip=[alt.Tooltip("subject:N", title=t("col_subject")),
                             alt.Tooltip("asked:Q", title=t("col_asked")),
                             alt.Tooltip("students:Q", title=t("col_students"))])
            .properties(height=bar_chart_height(len(top)), autosize=PLOT_SIZED))


def struggles_chart(points: pd.DataFrame, t) -> alt.Chart:
    """Pauses and abandons per lesson step, stacked, hardest first (``points`` is ``Frames.struggle_points``)."""
    top = points.assign(total=points["pauses"] + points["abandons"]).sort_values(
        "total", ascending=False, kind="stable").head(MAX_BARS)
    rows = list(zip(top["question"], top["step"], top["step_title"]))
    full = [f"{q} · {t('col_step')} {int(s)}" + (f": {title}" if title else "") for q, s, title in rows]
    # ranked (``1. …``): two steps of questions that start alike still get a row each
    labels = [f"{rank}. {step_label(q, s, title, t('col_step'), limit=LABEL_CHARS - 4)}"
              for rank, (q, s, title) in enumerate(rows, start=1)]
    series = {"pauses": t("series_pauses"), "abandons": t("series_abandons")}
    long = (top.assign(label=labels, point=full)
            .melt(id_vars=["label", "point", "students"], value_vars=list(series), var_name="series", value_name="n"))
    long["series"] = long["series"].map(series)
    return (alt.Chart(long).mark_bar()
            .encode(y=_row_axis(labels),
                    x=alt.X("n:Q", title=None, stack="zero", axis=alt.Axis(tickMinStep=1)),
                    color=alt.Color("series:N", title=None, sort=list(series.values()),
                                    legend=alt.Legend(orient="top")),
                    tooltip=[alt.Tooltip("point:N", title=t("col_point")),
                             alt.Tooltip("series:N", title=t("col_series")),
                             alt.Tooltip("n:Q", title=t("col_count")),
                             alt.Tooltip("students:Q", title=t("col_students"))])
            .properties(height=bar_chart_height(len(top)), autosize=PLOT_SIZED))


def per_day_chart(per_day: pd.DataFrame, t) -> alt.Chart:
    """Questions, completed explanations and pauses per day (``per_day`` is ``Frames.questions_per_day``); the
    day labels thin out on long ranges instead of overlapping."""
    series = {"questions": t("series_questions"), "completed": t("series_completed"), "pauses": t("series_pauses")}
    long = per_day.melt(id_vars="day", value_vars=list(series), var_name="series", value_name="n")
    long["series"] = long["series"].map(series)
    return (alt.Chart(long).mark_line(point=True)
            .encode(x=alt.X("day:T", title=None, axis=alt.Axis(format="%d/%m", labelAngle=0, labelOverlap=True,
                                                                 tickCount={"interval": "day", "step": 1}
                                                                 if len(per_day) <= 14 else 10)),
                    y=alt.Y("n:Q", title=None, axis=alt.Axis(tickMinStep=1)),
                    color=alt.Color("series:N", title=None, sort=list(series.values()),
                                    legend=alt.Legend(orient="top")),
                    tooltip=[alt.Tooltip("day:T", title=t("col_day"), format="%Y-%m-%d"),
                             alt.Tooltip("series:N", title=t("col_series")),
                             alt.Tooltip("n:Q", title=t("col_count"))])
            .properties(height=LINE_CHART_PX, autosize=PLOT_SIZED))


# --- the whiteboard editor ---------------------------------------------------------------------------------------

# The whiteboard as the editor's table: one row per command, one column per field (empty where the op has none).
NUMBER_FIELDS = ("x", "y", "x1", "y1", "x2", "y2", "r", "w", "h", "x_min", "x_max", "y_min", "y_max")
TEXT_FIELDS = ("points", "expr", "text", "label", "x_label", "y_label", "id")
BOOLEAN_FIELDS = {"grid": False, "ticks": True, "visible": True}  # the value a command means when it leaves it out
COMMAND_COLUMNS = ("op", *NUMBER_FIELDS, *TEXT_FIELDS, "color", *BOOLEAN_FIELDS, "at_char")
NEW_DRAWING_VALUES = {"x_min": -5.0, "x_max": 5.0, "y_min": -5.0, "y_max": 5.0, "r": 1.0, "w": 2.0, "h": 1.0,
                      "x2": 3.0, "y2": 2.0, "points": "0, 0; 3, 0; 3, 4", "expr": "x", "text": "A"}


class DrawingError(ValueError):
    """A row of the whiteboard table cannot be a command: ``index`` (1-based) and ``kind``: ``no_op`` or
    ``points``."""

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index
        super().__init__(f"{kind} in drawing {index}")


def command_rows(commands: list[dict] | None) -> list[dict]:
    """Commands as the table's rows: every column present (``None`` when unused), points as ``x, y; x, y``."""
    rows = []
    for command in commands or []:
        row = {column: command.get(column) for column in COMMAND_COLUMNS}
        if command.get("points") is not None:
            row["points"] = "; ".join(f"{_number_text(x)}, {_number_text(y)}" for x, y in command["points"])
        row.update({name: bool(command.get(name, default)) for name, default in BOOLEAN_FIELDS.items()})
        rows.append(row)
    return rows


def new_drawing(op: str, fields: tuple[str, ...]) -> dict:
    """A table row for a new ``op`` command with its ``fields`` filled in (a teacher then moves it)."""
    row = {column: None for column in COMMAND_COLUMNS}
    row.update(op=op, at_char=0, color="blue", **BOOLEAN_FIELDS)
    row.update({name: NEW_DRAWING_VALUES.get(name, 0.0) for name in fields})
    return row


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COMMAND_COLUMNS))
    for column in NUMBER_FIELDS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["at_char"] = pd.to_numeric(frame["at_char"], errors="coerce").astype("Int64")
    for name, default in BOOLEAN_FIELDS.items():
        frame[name] = frame[name].fillna(default).astype(bool)
    for column in ("op", *TEXT_FIELDS, "color"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def commands_from_rows(rows: list[dict]) -> list[dict]:
    """The table's rows back as commands (``Curation.edit`` validates each); blank rows are skipped. Raises
    ``DrawingError``."""
    commands = []
    for index, row in enumerate(rows, start=1):
        values = {column: row.get(column) for column in COMMAND_COLUMNS if _filled(row.get(column))}
        for name, default in BOOLEAN_FIELDS.items():  # plain bools, written only where they say something
            values.pop(name, None)
            value = row.get(name)
            value = default if value is None or value != value else bool(value)  # None / NaN: an empty cell
            if value != default and values.get("op") == "axes":
                values[name] = bool(value)
        if not values.get("op"):
            if set(values) - {"at_char", "color"}:
                raise DrawingError("no_op", index)
            continue
        if "points" in values:
            values["points"] = _points(values["points"], index)
        for name in NUMBER_FIELDS:
            if name in values:
                values[name] = float(values[name])
        if "at_char" in values:
            values["at_char"] = int(values["at_char"])
        commands.append(values)
    return commands


def _filled(value) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return not (isinstance(value, str) and not value.strip()) and value is not False


def _points(text: str, index: int) -> list[list[float]]:
    try:
        pairs = [[float(v) for v in pair.split(",")] for pair in str(text).split(";") if pair.strip()]
    except ValueError:
        raise DrawingError("points", index) from None
    if any(len(pair) != 2 for pair in pairs):
        raise DrawingError("points", index)
    return pairs


def _number_text(value: float) -> str:
    return f"{value:g}"


def csv_file_name(class_name: str, table: str, start, end, stem: str = "") -> str:
    """``4-b-top-questions-2025-03-01-2025-03-30.csv``: the class, the table (and whose, for one student's), the
    dates."""
    parts = [file_stem(class_name, "class")]
    if stem:
        parts.append(file_stem(stem))
    parts.append(table.replace("_", "-"))
    parts += [str(start), str(end)]
    return "-".join(parts) + ".csv"
