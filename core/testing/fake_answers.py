"""The answers and replies ``core.testing.fakeai`` serves: deterministic, in the question's language.

``build_answer(question)`` is a valid structured answer (text and maths steps with whiteboard commands, one
checkable maths claim that holds); ``default_reply(messages)`` a chat reply quoting the last user message.
"""
from __future__ import annotations

import math
import re
from typing import Any

_SPANISH_MARKS = re.compile(r"[áéíóúñü¿¡]", re.IGNORECASE)
_SPANISH_WORDS = frozenset(
    "el la los las un una unos unas de del que qué como cómo cual cuál cuánto por para con sin es son está "
    "y o se su sus al lo calcula calcular halla hallar resuelve resolver explica explicar derivada integral "
    "ecuación función velocidad fuerza".split()
)
_CANVAS: list[list[dict[str, Any]]] = [
    [
        {"op": "axes", "x_min": -5, "x_max": 5, "y_min": -5, "y_max": 5, "at_char": 0},
        {"op": "point", "x": 1, "y": 2, "label": "P", "at_char": 10},
    ],
    [{"op": "plot", "expr": "x^2", "label": "y = x^2", "color": "red", "at_char": 0}],
    [{"op": "segment", "x1": 0, "y1": 0, "x2": 1, "y2": 2, "label": "OP", "color": "green", "at_char": 5}],
]
_TEXTS = {
    "en": {
        "title": "Step {n}: {topic}",
        "text": "We look at “{topic}”. Take the curve $y = x^2$ and the point $P = (1, 2)$. "
                "This step explains the idea in plain words.",
        "math": "For “{topic}” we compute $$x^2 + 2x + 1 = (x + 1)^2$$ and simplify. "
                "The result holds because $(x + 1)^2 \\ge 0$.",
        "reply": "You asked: “{quote}”. Let us go through it step by step. First we identify what is given. "
                 "Then we apply the key idea, for example $x^2 = 4$ gives $x = \\pm 2$. Finally we check the result.",
    },
    "es": {
        "title": "Paso {n}: {topic}",
        "text": "Estudiamos «{topic}». Toma la curva $y = x^2$ y el punto $P = (1, 2)$. "
                "Este paso explica la idea con palabras sencillas.",
        "math": "Para «{topic}» calculamos $$x^2 + 2x + 1 = (x + 1)^2$$ y simplificamos. "
                "El resultado se cumple porque $(x + 1)^2 \\ge 0$.",
        "reply": "Has preguntado: «{quote}». Vamos a verlo paso a paso. Primero identificamos los datos. "
                 "Después aplicamos la idea clave, por ejemplo $x^2 = 4$ da $x = \\pm 2$. Por último comprobamos "
                 "el resultado.",
    },
}


def build_answer(question: str, steps: int = 3) -> dict[str, Any]:
    """A deterministic valid answer about ``question``: ``steps`` steps alternating text and math, with canvas."""
    if not 1 <= steps <= 8:
        raise ValueError(f"steps must be between 1 and 8, got {steps}")
    texts = _TEXTS[_language(question)]
    topic = _shorten(question, 60)
    built = [_build_step(index, topic, texts) for index in range(steps)]
    characters = sum(len(step["content"]) for step in built)
    return {"steps": built, "total_duration": max(5, math.ceil(characters / 15))}


def default_reply(messages: list[dict[str, Any]]) -> str:
    """A deterministic reply of several sentences quoting the last user message, in its language."""
    question = last_user_text(messages)
    return _TEXTS[_language(question)]["reply"].format(quote=_shorten(question, 200))


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (text parts joined by newlines), or ``""``."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def _build_step(index: int, topic: str, texts: dict[str, str]) -> dict[str, Any]:
    kind = "math" if index % 2 else "text"
    return {
        "title": texts["title"].format(n=index + 1, topic=topic),
        "type": kind,
        "content": texts[kind].format(topic=topic),
        "canvas_commands": [dict(command) for command in (_CANVAS[index] if index < len(_CANVAS) else [])],
    }


def _language(text: str) -> str:
    words = set(re.findall(r"\w+", text.lower()))
    return "es" if _SPANISH_MARKS.search(text) or len(words & _SPANISH_WORDS) >= 2 else "en"


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""
