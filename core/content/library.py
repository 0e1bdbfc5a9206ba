"""The curated lesson library (``core/content/lessons/*.json``): the embedded default's content.

Every lesson passes the same validator as model output and is loaded into the answer cache at start,
idempotently: a lesson already present (or edited by a teacher since) is left as it is.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

from rapidfuzz import fuzz

from .answers import Answer, validate_answer
from .meaning import plain
from .questions import Question, prepare

LIBRARY_MODEL = "library"
LIBRARY_PROMPT_VERSION = "library-v1"


@dataclass(frozen=True)
class Lesson:
    name: str
    question: Question
    subject: str
    level: str
    answer: Answer
    alternatives: dict[str, list[str]] = field(default_factory=dict)  # other phrasings, by language


def load_lessons() -> list[Lesson]:
    """Parse and validate every lesson file; a broken lesson is a bug, so it raises."""
    lessons = []
    for path in sorted(resources.files("core.content.lessons").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".json"):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        answer, dropped = validate_answer(data["answer"])
        if dropped:
            raise ValueError(f"{path.name}: invalid canvas commands {dropped}")
        # The hash context is the language only, so a student's plain question finds the lesson.
        question = prepare(data["question"], language=data["language"], limit=1000)
        lessons.append(Lesson(name=path.name.removesuffix(".json"), question=question,
                              subject=data.get("subject", ""), level=data.get("level", ""), answer=answer,
                              alternatives=data.get("alternatives", {})))
    return lessons


def install(cache, lessons: list[Lesson] | None = None) -> int:
    """Put every lesson missing from the cache into it; returns how many were added."""
    added = 0
    for lesson in lessons if lessons is not None else load_lessons():
        if cache.has_any(lesson.question.hash):
            continue
        cache.store(lesson.question, lesson.answer, model=LIBRARY_MODEL, prompt_version=LIBRARY_PROMPT_VERSION,
                    source="library", subject=lesson.subject, level=lesson.level)
        added += 1
    return added


def search(lessons: list[Lesson], query: str, *, score: float = 80) -> list[Lesson]:
    """The lessons whose phrasings contain every word of ``query`` of 3+ letters (accents and typos forgiven)."""
    words = [w for w in plain(query).split() if len(w) >= 3]

    def text_of(lesson: Lesson) -> str:
        return plain(" ".join([lesson.question.text, lesson.subject, *(text for texts in lesson.alternatives.values() for text in texts)]))

    return [lesson for lesson in lessons
            if all(fuzz.partial_ratio(word, text_of(lesson)) >= score for word in words)]
