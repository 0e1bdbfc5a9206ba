"""What benchmarks and notebooks read from inside the tutor, in one listed place.

Measuring the tutor sometimes needs its parts: the lesson library, how the reader cuts text into chunks, a
question's hash, the database tables. Clients reach them only through this module, so what they depend on inside
core is written down here (and nothing else is reachable: ``tests/test_architecture.py``).
"""
from __future__ import annotations

from ..content.answers import AnswerSchema, validate_answer, validate_step
from ..content.library import Lesson, load_lessons
from ..content.mathtext import chunk_text, formula_spans
from ..content.questions import prepare
from ..explaining.models import LANGUAGE_NAMES, OpenAIModel, load_prompt
from ..platform import db
from ..platform.db import database_url

__all__ = ["AnswerSchema", "validate_answer", "validate_step", "Lesson", "load_lessons", "chunk_text",
           "formula_spans", "prepare", "LANGUAGE_NAMES", "OpenAIModel", "load_prompt", "db", "database_url"]
