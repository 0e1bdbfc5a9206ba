"""Presentation helpers for the teacher page: numbers as text, chart labels, and the whiteboard editor's text.

No Streamlit here and nothing that decides anything: every number comes from ``tutor.frames`` or
``tutor.curation``; this module only turns values into what the page shows, and the editor's text back into the
canvas-command list that ``Curation.edit`` validates.
"""
from __future__ import annotations

import datetime as dt
import json
import math

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
    head = shorten(question, 40)
    tail = f"{step_word} {int(step)}" + (f": {step_title}" if step_title else "")
    return shorten(f"{head} · {tail}", limit)


# --- the whiteboard editor ---------------------------------------------------------------------------------------

class EditorError(ValueError):
    """The canvas editor's text is not a JSON list of objects. ``kind`` is ``json`` (with ``line`` and
    ``column``), ``not_list`` or ``not_object`` (with ``index``, 1-based)."""

    def __init__(self, kind: str, *, line: int = 0, column: int = 0, index: int = 0):
        self.kind, self.line, self.column, self.index = kind, line, column, index
        super().__init__(f"{kind} at line {line} column {column} item {index}")


def commands_text(commands: list[dict] | None) -> str:
    """Canvas commands as the editor shows them: a JSON list, one command per line."""
    if not commands:
        return "[]"
    return "[\n" + ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in commands) + "\n]"


def parse_commands(text: str) -> list[dict]:
    """The editor's text back as a list of command objects (``Curation.edit`` validates each one); an empty text
    is no drawings. Raises ``EditorError``."""
    if not (text or "").strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise EditorError("json", line=error.lineno, column=error.colno) from None
    if not isinstance(value, list):
        raise EditorError("not_list")
    for index, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise EditorError("not_object", index=index)
    return value


def csv_file_name(class_name: str, table: str, start, end, stem: str = "") -> str:
    """``4-b-top-questions-2025-03-01-2025-03-30.csv``: the class, the table (and whose, for one student's), the
    dates."""
    parts = [file_stem(class_name, "class")]
    if stem:
        parts.append(file_stem(stem))
    parts.append(table.replace("_", "-"))
    parts += [str(start), str(end)]
    return "-".join(parts) + ".csv"
