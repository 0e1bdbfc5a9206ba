"""The teacher page's Altair charts (ui/teacher_view.py), rendered to their Vega-Lite specs with few and many rows:
every row gets a readable height, labels are cut with the whole text in the tooltip but never to nothing, rows are
sorted, and no colour is hard-coded (Streamlit's theme draws them, light or dark)."""
import json

import pandas as pd
import pytest

from ui.teacher_view import (
    LABEL_CHARS,
    MAX_BARS,
    MIN_ROW_PX,
    per_day_chart,
    struggles_chart,
    topics_chart,
)
from ui.texts import t

LONG_QUESTION = "¿Cómo se calcula la hipotenusa de un triángulo rectángulo con el teorema de Pitágoras, paso a paso?"
AXIS_FONT_PX = 7  # an upper bound for one character of Vega's 10–11 px axis font


def struggle_points(rows: int) -> pd.DataFrame:
    """Points as ``Frames.struggle_points`` returns them: questions that start alike, different steps."""
    return pd.DataFrame({"question": [f"{LONG_QUESTION} ({i // 4})" for i in range(rows)],
                         "subject": "geometry", "step": [i % 4 for i in range(rows)],
                         "step_title": ["" if i % 4 == 0 else f"Los catetos, parte {i}" for i in range(rows)],
                         "pauses": [rows - i for i in range(rows)], "abandons": [i % 2 for i in range(rows)],
                         "students": 1, "answer_id": None, "question_hash": [f"h{i}" for i in range(rows)]})


def topics(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"subject": [f"Tema {i}: un nombre de tema muy largo que no cabe en el eje" for i in range(rows)],
                         "asked": [i % 7 + 1 for i in range(rows)], "questions": 1, "students": 1})


def per_day(rows: int) -> pd.DataFrame:
    days = pd.date_range("2025-03-01", periods=rows, freq="D", name="day")
    return pd.DataFrame({"day": days, "questions": range(rows), "students": 1, "completed": 0, "pauses": 1,
                         "errors": 0})


def rows_of(spec: dict) -> list[dict]:
    return next(iter(spec["datasets"].values()))


def bar_rows(spec: dict) -> list[str]:
    """The y-axis labels in the order drawn."""
    return spec["encoding"]["y"]["sort"]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("rows", [1, 5, 50])
@pytest.mark.parametrize("build, frame, full_text", [
    (struggles_chart, struggle_points, lambda row: row["point"]),
    (topics_chart, topics, lambda row: row["subject"]),
])
def test_bar_charts_give_every_row_room_and_a_readable_label(build, frame, full_text, rows, language):
    data = frame(rows)
    spec = build(data, lambda key: t(key, language)).to_dict()
    labels = bar_rows(spec)
    assert len(labels) == min(rows, MAX_BARS) == len(set(labels))  # one band per row, never two labels in one
    assert spec["height"] / len(labels) >= MIN_ROW_PX
    assert spec["autosize"]["type"] == "fit-x"  # the height is the bars' alone: the legend and axis come on top
    axis = spec["encoding"]["y"]["axis"]
    assert axis["labelLimit"] >= LABEL_CHARS * AXIS_FONT_PX and axis["labelOverlap"] is False
    drawn = rows_of(spec)
    for label in labels:
        assert 12 <= len(label) <= LABEL_CHARS  # cut, but never to nothing
        whole = {full_text(row) for row in drawn if row["label"] == label}
        assert len(whole) == 1 and whole.pop().startswith(label.split(". ", 1)[-1].rstrip("…").split("…")[0])
    assert any(tooltip["field"] in ("point", "subject") for tooltip in spec["encoding"]["tooltip"])
    assert "color" not in json.dumps(spec.get("config", {}))  # the theme's colours, in light and dark


@pytest.mark.parametrize("rows", [5, 50])
def test_struggles_keep_the_step_in_the_label_and_the_hardest_first(rows):
    data = struggle_points(rows)
    spec = struggles_chart(data, lambda key: t(key, "es")).to_dict()
    labels = bar_rows(spec)
    assert [label.split(". ", 1)[0] for label in labels] == [str(n) for n in range(1, len(labels) + 1)]
    assert all(" · Paso " in label for label in labels)
    totals = {row["label"]: 0 for row in rows_of(spec)}
    for row in rows_of(spec):
        totals[row["label"]] += row["n"]
    assert [totals[label] for label in labels] == sorted(totals.values(), reverse=True)


@pytest.mark.parametrize("rows", [5, 50])
def test_topics_most_asked_first(rows):
    spec = topics_chart(topics(rows), lambda key: t(key, "en")).to_dict()
    asked = {row["label"]: row["asked"] for row in rows_of(spec)}
    assert [asked[label] for label in bar_rows(spec)] == sorted(asked.values(), reverse=True)


@pytest.mark.parametrize("rows", [5, 50])
def test_the_per_day_chart_thins_its_day_labels(rows):
    spec = per_day_chart(per_day(rows), lambda key: t(key, "es")).to_dict()
    axis = spec["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] is True and spec["height"] >= 200
    assert len(rows_of(spec)) == 3 * rows
