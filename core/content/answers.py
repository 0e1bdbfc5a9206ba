"""The answer format and its validator, shared by model output, lessons and teacher edits.

``AnswerSchema`` is what the model is asked for (a strict JSON schema: every canvas field present, most null).
``validate_answer`` turns any candidate into an ``Answer`` or raises ``AIError("ai_invalid_output")`` whose params
say why (``reason``), where (``field``, e.g. ``steps[2].content``) and, for a formula or link rule of
``core.content.safety``, which rule (``problem``, an error code, and its params). Invalid canvas commands are dropped
with a reason rather than failing the explanation; so is a command with unknown or mistyped fields in the model's
JSON, which the schema accepts as raw data for that reason.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema

from ..errors import AIError
from .canvas import validate_commands
from .mathtext import to_markdown_math, unbalanced_delimiters
from .questions import MARKUP
from .safety import Problem, content_problems

MAX_STEPS = 8
MAX_TITLE = 120
MAX_CONTENT = 4000
MAX_COMMANDS = 20
STEP_TYPES = ("text", "math")


class CanvasCommandSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: str
    x: float | None = None
    y: float | None = None
    x1: float | None = None
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None
    r: float | None = None
    w: float | None = None
    h: float | None = None
    x_min: float | None = None
    x_max: float | None = None
    y_min: float | None = None
    y_max: float | None = None
    points: list[list[float]] | None = None
    text: str | None = None
    expr: str | None = None
    label: str | None = None
    color: str | None = None
    grid: bool | None = None
    ticks: bool | None = None
    visible: bool | None = None
    x_label: str | None = None
    y_label: str | None = None
    id: str | None = None
    at_char: int | None = None


# The model is shown the strict command schema, but the commands are parsed as raw JSON: a command with an unknown
# or mistyped field is then dropped by ``validate_commands`` (with a logged reason) instead of failing the answer.
CanvasCommands = Annotated[list[Any], WithJsonSchema({"type": "array",
                                                      "items": CanvasCommandSchema.model_json_schema()})]


class StepSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    type: Literal["text", "math"]
    content: str
    canvas_commands: CanvasCommands


class AnswerSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[StepSchema]
    total_duration: int


@dataclass(frozen=True)
class Step:
    title: str
    type: str
    content: str
    canvas_commands: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    steps: tuple[Step, ...]
    total_duration: int

    @property
    def text_length(self) -> int:
        return sum(len(step.content) for step in self.steps)

    def to_json(self) -> dict:
        return {"steps": [asdict(step) for step in self.steps], "total_duration": self.total_duration}


def estimate_duration(steps: list[Step] | tuple[Step, ...]) -> int:
    """About 15 s per 100 characters read, plus 2 s per drawing."""
    chars = sum(len(s.content) for s in steps)
    drawings = sum(len(s.canvas_commands) for s in steps)
    return max(5, math.ceil(chars * 0.15 + drawings * 2))


def _invalid(reason: str, field: str | None = None, problem: Problem | None = None) -> AIError:
    params: dict[str, Any] = {"reason": f"{field}: {reason}" if field else reason}
    if field:
        params["field"] = field
    if problem:
        params.update(problem.params, problem=problem.code)
    return AIError("ai_invalid_output", **params)


def _text_field(value: Any, name: str, limit: int, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{name} is empty", field)
    value = value.strip()
    if len(value) > limit:
        raise _invalid(f"{name} is longer than {limit} characters", field)
    if MARKUP.search(value):
        raise _invalid(f"{name} contains HTML", field)
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise _invalid(f"{name} contains control characters", field)
    return value


def _check_markdown(text: str, name: str, field: str) -> None:
    """Balanced formula delimiters, and the formula and link rules of ``core.content.safety``."""
    delimiters = unbalanced_delimiters(text)
    if delimiters:
        raise _invalid(f"{name}: {delimiters[0]}", field)
    problems = content_problems(text)
    if problems:
        raise _invalid(f"{name}: {problems[0].reason}", field, problems[0])


def validate_step(raw: Any, number: int) -> tuple[Step, list[tuple[object, str]]]:
    where = f"steps[{number - 1}]"
    if not isinstance(raw, dict):
        raise _invalid(f"step {number} is not an object", where)
    title = " ".join(_text_field(raw.get("title"), f"step {number} title", MAX_TITLE, f"{where}.title").split())
    _check_markdown(title, f"step {number} title", f"{where}.title")
    if raw.get("type") not in STEP_TYPES:
        raise _invalid(f"step {number} type must be text or math", f"{where}.type")
    content = to_markdown_math(_text_field(raw.get("content"), f"step {number} content", MAX_CONTENT,
                                           f"{where}.content"))
    _check_markdown(content, f"step {number}", f"{where}.content")
    commands = raw.get("canvas_commands") or []
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise _invalid(f"step {number} canvas_commands must be a list of at most {MAX_COMMANDS}",
                       f"{where}.canvas_commands")
    valid, dropped = validate_commands(commands, len(content))
    # Drawn in the order the text reveals them, so live, reloaded and exported boards are the same picture.
    valid.sort(key=lambda command: command["at_char"])
    return Step(title=title, type=raw["type"], content=content, canvas_commands=valid), dropped


def validate_answer(raw: Any) -> tuple[Answer, list[tuple[object, str]]]:
    """An ``Answer`` and the canvas commands dropped from it, or ``AIError('ai_invalid_output')``."""
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, dict):
        raise _invalid("the answer is not an object")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not 1 <= len(steps_raw) <= MAX_STEPS:
        raise _invalid(f"an answer needs 1 to {MAX_STEPS} steps")
    steps, dropped = [], []
    for number, step_raw in enumerate(steps_raw, start=1):
        step, step_dropped = validate_step(step_raw, number)
        steps.append(step)
        dropped.extend(step_dropped)
    duration = raw.get("total_duration")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 1 <= duration <= 3600:
        duration = estimate_duration(steps)
    return Answer(steps=tuple(steps), total_duration=int(duration)), dropped


def answer_from_json(data: dict) -> Answer:
    """Rebuild a stored, already validated answer without validating it again."""
    steps = tuple(Step(title=s["title"], type=s["type"], content=s["content"],
                       canvas_commands=list(s.get("canvas_commands") or [])) for s in data["steps"])
    return Answer(steps=steps, total_duration=int(data["total_duration"]))
