"""Presentation helpers for the pages: safe Markdown for streamed text, the whiteboard SVG, labels.

No Streamlit here (pages import this; tests call it directly). Nothing in this module decides anything about the
tutor: it only turns what ``core`` returns (snapshots and events) into text to show.

Safety contract (the pages rely on it):

* ``step_markdown`` / ``message_markdown`` / ``plain_markdown`` return Markdown for ``st.markdown`` *without*
  ``unsafe_allow_html`` — Streamlit escapes any HTML in it, so the student's and the model's text stays inert;
* ``ExplanationView.board_svg`` comes from ``core.render_svg``, which escapes every text and attribute; the live
  component (ui/live.py) parses it as SVG (DOMParser), never as HTML.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core import SessionStatus, render_svg, safe_prefix, to_markdown_math
from core.errors import TutorError

from .texts import t

# Markdown images would make the browser fetch any URL the model wrote: show them as text instead.
_IMAGE = re.compile(r"!\[")
# Characters with a meaning in Markdown or in Streamlit's Markdown extensions (``:red[..]``, ``:emoji:``).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")


def step_markdown(text: str) -> str:
    """The Markdown to show for a step's text so far: never half a formula, ``\\( \\)``/``\\[ \\]`` as ``$``."""
    shown = safe_prefix(text, len(text))
    return _IMAGE.sub(r"!\\[", to_markdown_math(shown))


def message_markdown(text: str) -> str:
    """A chat message (possibly still streaming) as Markdown, formulas converted and never half-shown."""
    return step_markdown(text)


def plain_markdown(text: str) -> str:
    """``text`` shown literally by ``st.markdown`` (a title, a question, an e-mail): every Markdown character is
    escaped and newlines become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def duration_label(seconds: float | None, language: str) -> str:
    """``~1 min`` / ``~40 s`` (or an empty string when unknown)."""
    if seconds is None or seconds <= 0:
        return ""
    if seconds < 60:
        return t("about_seconds", language, n=max(5, int(round(seconds / 5.0)) * 5))
    return t("about_minutes", language, n=max(1, int(round(seconds / 60.0))))


def progress_label(step: int, total_steps: int | None, seconds: float | None, language: str) -> str:
    """``Paso 2 de 4 · ~1 min`` / ``Step 2 of 4 · ~1 min``; without a known total: ``Paso 2 · ~1 min``."""
    text = (t("step_of", language, step=step, total=total_steps) if total_steps
            else t("step_n", language, step=step))
    time = duration_label(seconds, language)
    return f"{text} · {time}" if time else text


def event_error_message(data: dict, language: str) -> str:
    """The message of an ``error`` event in the interface language (the event's own text is in the session's)."""
    code = data.get("code") or "error"
    translated = TutorError(code).message_for(language)
    if "{" in translated:  # a message that needs parameters the event does not carry
        return data.get("message") or TutorError().message_for(language)
    return translated


def local_time(value, tz_name: str | None = None) -> str:
    """A stored UTC datetime (naive from SQLite, aware from Postgres) as ``YYYY-MM-DD HH:MM`` in ``tz_name``."""
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if tz_name:
        try:
            from zoneinfo import ZoneInfo
            value = value.astimezone(ZoneInfo(tz_name))
        except Exception:  # an unknown zone name from the browser: keep UTC
            pass
    return value.strftime("%Y-%m-%d %H:%M")


def file_stem(title: str, fallback: str = "tutor") -> str:
    """A short, safe, ASCII file name stem from a title (``3º ESO B`` → ``3o-eso-b``)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:48].strip("-")
    return stem or fallback


# --- the explanation being read -----------------------------------------------------------------------------

@dataclass
class StepView:
    step: int
    title: str
    type: str = "text"
    text: str = ""
    complete: bool = False
    commands: list[dict] = field(default_factory=list)
    check_failed: list[str] = field(default_factory=list)  # maths claims (LaTeX) that did not hold

    @property
    def markdown(self) -> str:
        return step_markdown(self.text)

    def check_markdown(self, language: str) -> str:
        """The warning for the claims of this step that failed the maths check; ``""`` when none did."""
        if not self.check_failed:
            return ""
        claims = "\n".join(f"- ${claim}$" for claim in self.check_failed)
        return f"{t('step_check_failed', language)}\n\n{claims}"

    @property
    def title_markdown(self) -> str:
        return step_markdown(self.title)


@dataclass
class ExplanationView:
    """What a page shows of one explanation: built from ``tutor.snapshot`` and moved on by stream events.

    ``apply(event)`` returns what changed, so a page re-renders only that part: ``"waiting"``, ``"start"``,
    ``("step", n)`` (a new or grown step), ``"canvas"``, ``"resumed"``, the status the session ended in
    (``SessionStatus.COMPLETE``, ``PAUSED`` or ``FAILED``), or ``None``.
    """

    session_id: str
    status: str
    steps: list[StepView] = field(default_factory=list)
    total_steps: int | None = None
    duration: int | None = None
    waiting: str | None = None
    error: dict | None = None

    @classmethod
    def from_snapshot(cls, snapshot: dict) -> "ExplanationView":
        steps = [StepView(step=s["step"], title=s["title"], type=s.get("type", "text"), text=s["text"],
                          complete=bool(s.get("complete")), commands=list(s.get("commands") or []),
                          check_failed=list(s.get("check_failed") or []))
                 for s in snapshot.get("steps", [])]
        return cls(session_id=snapshot["session_id"], status=snapshot["status"], steps=steps,
                   total_steps=snapshot.get("total_steps"), duration=snapshot.get("total_duration"))

    @property
    def commands(self) -> list[dict]:
        """Every drawing reached, in reveal order: by step, then by ``at_char`` (ties keep their order). Events
        arrive chunk by chunk while a snapshot lists a step's commands in stored order; sorting makes a live
        board and a reloaded one identical."""
        return [c for s in self.steps for c in sorted(s.commands, key=lambda c: c.get("at_char", 0))]

    def board_svg(self) -> str:
        """The whiteboard as reached: every step's drawings so far, in order (``clear`` wipes what came before)."""
        return render_svg(self.commands)

    def step(self, number: int) -> StepView:
        return self.steps[number - 1]

    def apply(self, item: dict):
        name, data = item.get("event"), item.get("data") or {}
        if name == "waiting_phrase":
            self.waiting = data.get("message") or ""
            return "waiting"
        if name == "explanation_start":
            self.waiting = None
            self.total_steps = data.get("total_steps")
            self.duration = data.get("estimated_duration") or self.duration
            self.status = SessionStatus.STREAMING
            return "start"
        if name == "step_start":
            number = int(data["step"])
            while len(self.steps) < number:
                self.steps.append(StepView(step=len(self.steps) + 1, title=""))
            view = self.steps[number - 1]
            view.title, view.type = data.get("title", ""), data.get("type", "text")
            return ("step", number)
        if name == "content_chunk":
            view = self.steps[int(data["step"]) - 1]
            view.text += data.get("chunk", "")
            view.complete = bool(data.get("is_final"))
            return ("step", view.step)
        if name == "canvas_command":
            self.steps[int(data["step"]) - 1].commands.append(data["command"])
            return "canvas"
        if name == "step_complete":
            self.steps[int(data["step"]) - 1].complete = True
            return ("step", int(data["step"]))
        if name == "step_check":
            view = self.steps[int(data["step"]) - 1]
            view.check_failed += [c for c in data.get("claims") or [] if c not in view.check_failed]
            return ("step", int(data["step"]))
        if name == "explanation_complete":
            self.status = SessionStatus.COMPLETE
            self.total_steps = data.get("steps_completed") or self.total_steps
            self.duration = data.get("total_duration") or self.duration
            return SessionStatus.COMPLETE
        if name == "streaming_paused":
            self.status = SessionStatus.PAUSED
            return SessionStatus.PAUSED
        if name == "streaming_resumed":
            self.status = SessionStatus.STREAMING
            return "resumed"
        if name == "error":
            self.status = SessionStatus.FAILED
            self.error = data
            return SessionStatus.FAILED
        return None

    def progress(self, number: int, language: str) -> str:
        return progress_label(number, self.total_steps, self.duration, language)

