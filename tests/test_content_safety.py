"""Hostile step text (huge formulas, HTML-ish macros, data: links) is refused by the one validator, on the model
path (repaired once) and on the teacher edit path (a clear code and field); a bad canvas command is dropped alone."""
import copy

import pytest

from core.content.answers import validate_answer
from core.content.library import load_lessons
from core.content.safety import content_problems
from core.errors import AIError, InvalidInput
from core.testing.fakeai import build_answer

# (payload, error code): each one is put in a step's text.
HOSTILE = [
    (r"$\rule{200em}{200em}$", "formula_macro"),
    (r"$\rule[-1em]{1em}{1em}$", "formula_macro"),
    (r"$\kern200em x$", "formula_size"),
    (r"$\hspace{300cm} x$", "formula_size"),
    (r"$\mspace{5000mu} x$", "formula_size"),
    (r"$\raisebox{-400em}{x}$", "formula_size"),
    (r"$$\begin{aligned} a \\[900em] b \end{aligned}$$", "formula_size"),
    (r"$\genfrac{(}{)}{200em}{0}{a}{b}$", "formula_size"),
    (r"$\kern\maxdimen x$", "formula_size"),
    (r"$\href{vbscript:msgbox(1)}{clic}$", "formula_macro"),
    (r"$\href{data:text/html,hi}{clic}$", "formula_macro"),
    (r"$\url{https://example.org}$", "formula_macro"),
    (r"$\htmlClass{x}{y}$", "formula_macro"),
    (r"$\htmlId{x}{y}$", "formula_macro"),
    (r"$\htmlStyle{position:fixed;top:0}{y}$", "formula_macro"),
    (r"$\htmlData{a=b}{y}$", "formula_macro"),
    (r"$\includegraphics{https://example.org/a.png}$", "formula_macro"),
    (r"$\def\a{\a\a}\a$", "formula_macro"),
    (r"$\newcommand{\b}{\b\b}\b$", "formula_macro"),
    (r"$\renewcommand{\frac}{x}$", "formula_macro"),
    (r"$\let\x\frac$", "formula_macro"),
    (r"$\color{" + "r" * 300 + "} x$", "formula_color"),
    ("$" + "x+" * 400 + "1$", "formula_too_long"),
    ("$$\\begin{matrix}" + "a\\\\" * 40 + "\\end{matrix}$$", "formula_too_long"),
    ("[clic](data:text/html;base64,PHNjcmlwdD4=)", "link_not_allowed"),
    ("[clic](  <data:text/html,x>)", "link_not_allowed"),
    ("[clic](&#100;ata:text/html,x)", "link_not_allowed"),
    ("[clic](vbscript:msgbox)", "link_not_allowed"),
    ("[clic](/local/page)", "link_not_allowed"),
    ("<data:text/html,hola>", "link_not_allowed"),
    ("<file:///etc/passwd>", "link_not_allowed"),
    ("Mira [esto][r].\n\n[r]: data:text/html,x", "link_not_allowed"),
    ("![img](data:image/png;base64,iVBORw0KGgo=)", "link_not_allowed"),
]

ALLOWED = [
    r"Sea $\frac{100 cm}{1 m} = 100$ y $\operatorname{sen} x$.",
    r"$a \kern 0.5em b \hspace{1cm} c \mkern18mu d$",
    r"$$\begin{aligned} a &= b \\[4pt] c &= d \end{aligned}$$",
    r"$\Huge x$ y $\color{red} x$ y $\textcolor{#16a34a}{y}$",
    r"$\href{https://es.wikipedia.org/wiki/Par%C3%A1bola}{parábola}$",
    "[Wikipedia](https://es.wikipedia.org) y <https://example.org> y [correo](mailto:profe@example.org)",
    "`[código](data:x)` no es un enlace",
]


def answer_with(text: str, step: int = 1) -> dict:
    raw = copy.deepcopy(build_answer("¿Qué es una parábola?"))
    raw["steps"][step]["content"] = f"Texto normal. {text}"
    return raw


@pytest.mark.parametrize("payload, code", HOSTILE)
def test_hostile_text_is_refused_with_its_rule_and_field(payload, code):
    with pytest.raises(AIError) as error:
        validate_answer(answer_with(payload))
    params = error.value.params
    assert error.value.code == "ai_invalid_output"
    assert params["problem"] == code and params["field"] == "steps[1].content"
    assert params["reason"].startswith("steps[1].content: ")


@pytest.mark.parametrize("payload, code", HOSTILE[:3] + HOSTILE[24:26] + HOSTILE[-1:])
def test_hostile_titles_are_refused_too(payload, code):
    raw = answer_with("")
    raw["steps"][0]["title"] = payload
    with pytest.raises(AIError) as error:
        validate_answer(raw)
    assert error.value.params["problem"] == code and error.value.params["field"] == "steps[0].title"


@pytest.mark.parametrize("text", ALLOWED)
def test_ordinary_formulas_and_web_links_pass(text):
    assert content_problems(text) == []
    answer, dropped = validate_answer(answer_with(text))
    assert dropped == [] and text in answer.steps[1].content


def test_every_lesson_follows_the_rules():
    for lesson in load_lessons():
        for step in lesson.answer.steps:
            assert content_problems(step.content) == [], (lesson.name, step.title)


# --- the model path: the real SDK against the fake server -------------------------------------------------------

def serve(fake_ai, first: dict, *, every_time: bool = False):
    def answer(question):
        return copy.deepcopy(first) if every_time or len(fake_ai.calls) == 1 else build_answer(question)
    fake_ai.answer_for = answer


def read(tutor, question: str) -> tuple[list, dict]:
    me = tutor.identity_of(tutor.accounts.register("hostil@example.org", "otter-42-moss"))
    state = tutor.ask(me, question)
    return list(tutor.stream(me, state["id"])), state


def text_of(events) -> str:
    return "".join(e["data"]["chunk"] for e in events if e["event"] == "content_chunk")


@pytest.mark.parametrize("payload, code", HOSTILE[::4])
def test_a_hostile_model_answer_is_repaired(make_tutor, ai, fake_ai, payload, code):
    """The payload is never shown, not even while the step is still being written (the text before it may be:
    text once shown stays, and the repaired answer goes on after it)."""
    serve(fake_ai, answer_with(f"{payload} Y el texto sigue después."))
    events, _ = read(make_tutor(**ai), "¿Qué es una parábola?")
    assert events[-1]["event"] == "explanation_complete"
    assert len(fake_ai.calls) == 2 and "steps[1].content" in fake_ai.calls[1]["messages"][-1]["content"]
    assert payload not in text_of(events) and "sigue después" not in text_of(events)


def test_a_model_that_insists_gets_a_clear_error_and_nothing_cached(make_tutor, ai, fake_ai):
    serve(fake_ai, answer_with(r"$\rule{200em}{200em}$", step=0), every_time=True)
    tutor = make_tutor(**ai)
    events, state = read(tutor, "¿Qué es una parábola?")
    assert events[-1]["event"] == "error" and events[-1]["data"]["code"] == "ai_invalid_output"
    assert r"\rule" not in text_of(events) and tutor.cache.lookup(state["question_hash"]) is None


@pytest.mark.parametrize("bad", [
    {"op": "point", "x": 1, "y": 2, "size": 900},                 # a field the schema does not have
    {"op": "point", "x": "uno", "y": 2},                          # a mistyped field
    {"op": "polygon", "points": "0,0 1,1 2,0"},
    {"op": "teleport", "x": 1},
    "not an object",
])
def test_one_bad_canvas_command_from_the_model_is_dropped_alone(make_tutor, ai, fake_ai, bad, caplog):
    raw = copy.deepcopy(build_answer("¿Qué es una parábola?"))
    kept = copy.deepcopy(raw["steps"][0]["canvas_commands"])
    raw["steps"][0]["canvas_commands"].insert(1, bad)
    serve(fake_ai, raw, every_time=True)
    tutor = make_tutor(**ai)
    events, state = read(tutor, "¿Qué es una parábola?")
    assert events[-1]["event"] == "explanation_complete" and len(fake_ai.calls) == 1
    drawn = [e["data"]["command"] for e in events if e["event"] == "canvas_command" and e["data"]["step"] == 1]
    assert [(c["op"], c["at_char"]) for c in drawn] == [(c["op"], c["at_char"]) for c in kept]
    assert "canvas command dropped" in caplog.text
    stored = tutor.cache.lookup(state["question_hash"])
    assert stored is not None


# --- the teacher edit path ----------------------------------------------------------------------------------------

@pytest.fixture
def curation(make_tutor):
    tutor = make_tutor()
    teacher = tutor.identity_of(tutor.accounts.register("profe@example.org", "otter-42-moss", role="teacher"))
    lesson = load_lessons()[0]
    return tutor, teacher, tutor.cache.lookup(lesson.question.hash).id, lesson


@pytest.mark.parametrize("payload, code", HOSTILE[1::3])
def test_a_hostile_teacher_edit_is_refused_with_code_and_field(curation, payload, code):
    tutor, teacher, answer_id, lesson = curation
    steps = copy.deepcopy(lesson.answer.to_json()["steps"])
    steps[2]["content"] += "\n\n" + payload
    with pytest.raises(InvalidInput) as error:
        tutor.curation.edit(teacher, answer_id, steps)
    assert error.value.code == code and error.value.params["field"] == "steps[2].content"
    spanish, english = error.value.message_for("es"), error.value.message_for("en")
    assert spanish != english and "steps[2].content" in spanish and "{" not in spanish + english
    assert tutor.curation.get(teacher, answer_id)["version"] == 1


def test_a_teachers_unknown_canvas_field_names_the_command(curation):
    tutor, teacher, answer_id, lesson = curation
    steps = copy.deepcopy(lesson.answer.to_json()["steps"])
    steps[0]["canvas_commands"] = [{"op": "point", "x": 0, "y": 0, "onclick": "alert(1)"}]
    with pytest.raises(InvalidInput) as error:
        tutor.curation.edit(teacher, answer_id, steps)
    assert error.value.code == "invalid_text"
    assert error.value.params["field"] == "steps[0].canvas_commands[0]"
    assert "unknown field(s) onclick" in error.value.message_for("es")
