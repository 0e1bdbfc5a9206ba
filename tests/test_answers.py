import copy
import json

import pytest

from core.content.answers import AnswerSchema, estimate_duration, validate_answer
from core.errors import AIError
from core.testing.fakeai import build_answer


def good():
    return copy.deepcopy(build_answer("¿Qué es una parábola?"))


def test_a_good_answer_validates_and_round_trips():
    answer, dropped = validate_answer(good())
    assert dropped == [] and len(answer.steps) == 3
    assert validate_answer(answer.to_json())[0] == answer
    assert AnswerSchema.model_validate(good())


def test_delimiters_are_converted_and_invalid_drawings_dropped():
    raw = good()
    raw["steps"][0]["content"] = r"Sea \(x^2\) y \[y = 2x\]"
    raw["steps"][0]["canvas_commands"].append({"op": "plot", "expr": "__import__('os')"})
    raw["steps"][0]["canvas_commands"].append({"op": "teleport"})
    answer, dropped = validate_answer(raw)
    assert answer.steps[0].content == "Sea $x^2$ y $$y = 2x$$"
    assert len(dropped) == 2 and len(answer.steps[0].canvas_commands) == 2


def mutate(path, value):
    raw = good()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


@pytest.mark.parametrize("raw, reason", [
    ("not a dict", "not an object"),
    ({"steps": [], "total_duration": 10}, "1 to 8 steps"),
    ({"steps": [good()["steps"][0]] * 9, "total_duration": 10}, "1 to 8 steps"),
    (mutate(["steps", 0, "title"], ""), "title is empty"),
    (mutate(["steps", 0, "title"], "t" * 200), "longer than"),
    (mutate(["steps", 1, "type"], "image"), "type must be"),
    (mutate(["steps", 0, "content"], "x" * 5000), "longer than"),
    (mutate(["steps", 0, "content"], "hola <script>alert(1)</script>"), "HTML"),
    (mutate(["steps", 0, "content"], "sea $x^2 sin cerrar"), "unclosed $"),
    (mutate(["steps", 0, "content"], "hola\x07"), "control"),
    (mutate(["steps", 0, "canvas_commands"], "nope"), "canvas_commands"),
])
def test_invalid_answers_are_refused_with_the_reason(raw, reason):
    with pytest.raises(AIError) as error:
        validate_answer(raw)
    assert error.value.code == "ai_invalid_output" and reason in error.value.params["reason"]


def test_missing_or_absurd_duration_is_estimated():
    raw = good()
    raw["total_duration"] = -5
    answer, _ = validate_answer(raw)
    assert answer.total_duration == estimate_duration(answer.steps) > 0


def test_the_model_sees_a_strict_command_schema_but_a_bad_command_only_drops_itself():
    from openai.lib._pydantic import to_strict_json_schema
    schema = to_strict_json_schema(AnswerSchema)
    command = schema["$defs"]["StepSchema"]["properties"]["canvas_commands"]["items"]
    assert command["additionalProperties"] is False and "at_char" in command["required"]
    raw = good()
    raw["steps"][0]["canvas_commands"].insert(0, {"op": "point", "x": 1, "y": 2, "size": 900})
    raw["steps"][0]["canvas_commands"].insert(0, {"op": "point", "x": "one", "y": 2})
    parsed = AnswerSchema.model_validate_json(json.dumps(raw))  # what the SDK does with the model's JSON
    answer, dropped = validate_answer(parsed)
    assert [error.reason for _, error in dropped] == ["x must be a number", "point: unknown field(s) size"]
    assert answer.steps[0].canvas_commands == validate_answer(good())[0].steps[0].canvas_commands
