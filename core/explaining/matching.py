"""Matching a reworded question to a stored answer: candidates by similarity, then guards that must agree.

Order of decision (each recorded in the ``cache_hit`` analytics event as ``match``): ``exact`` (the question's
hash, done by the cache), ``canonical`` (the same maths-aware key, ``core.content.meaning``), ``similar`` (a
candidate found by rapidfuzz whose similarity reaches ``MATCH_SERVE_SCORE`` and whose guards all agree). A
candidate in another language than its answer (a Spanish phrasing of an English lesson) is offered, never served.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from ..content import library
from ..content.meaning import Meaning, read

TYPO_SCORE = 80  # two words this close (rapidfuzz ratio) count as one word typed two ways
SUGGEST_LIMIT = 3


@dataclass(frozen=True)
class Entry:
    """One phrasing that leads to an answer: a lesson's question or alternative, or a cached answer's question."""
    text: str
    language: str           # the language of this phrasing
    answer_language: str    # the language the answer is written in
    question_hash: str      # the answer's key in the cache
    subject: str
    title: str              # the answer's own question, shown when it is offered
    meaning: Meaning


@dataclass(frozen=True)
class Match:
    entry: Entry
    how: str                # "canonical" or "similar"
    score: float
    failed_guard: str | None

    @property
    def servable(self) -> bool:
        return self.failed_guard is None and self.entry.language == self.entry.answer_language


def failed_guard(query: Meaning, candidate: Meaning) -> str | None:
    """The first fact on which two questions differ (None when every guard agrees)."""
    if query.language and candidate.language and query.language != candidate.language:
        return "language"
    checks = (("number", query.numbers, candidate.numbers), ("expression", query.expressions, candidate.expressions),
              ("variable", query.variables, candidate.variables), ("unit", query.units, candidate.units),
              ("entity", query.entities, candidate.entities), ("negation", query.negated, candidate.negated),
              ("task", query.tasks, candidate.tasks))
    for name, ours, theirs in checks:
        if ours != theirs:
            return name
    if any(_best(word, candidate.words) < TYPO_SCORE for word in query.words if len(word) >= 4):
        return "topic"  # a content word of the question is nowhere in the candidate
    return None


def _best(word: str, words: tuple[str, ...]) -> float:
    """How close the closest of ``words`` is: the same stem (``ecuacion``/``ecuaciones``) counts fully; a typo
    must keep the first letter (``inecuacion`` is not ``ecuacion``, ``coseno`` is not ``seno``)."""
    return max((100.0 if w[:5] == word[:5] and min(len(w), len(word)) >= 5 and abs(len(w) - len(word)) <= 3
                else fuzz.ratio(word, w) if w[0] == word[0] else 0.0 for w in words), default=0.0)


def similarity(query: Meaning, candidate: Meaning) -> float:
    """0–100: how many content words the two share, typos forgiven (Dice coefficient over fuzzy word matches)."""
    if not query.words and not candidate.words:
        return 100.0 if query.key == candidate.key else 0.0
    shared = sum(1 for word in query.words if _best(word, candidate.words) >= TYPO_SCORE)
    shared += sum(1 for word in candidate.words if _best(word, query.words) >= TYPO_SCORE)
    return 100.0 * shared / (len(query.words) + len(candidate.words))


class Matcher:
    """The phrasings of every lesson and approved answer, and the decision for a new question."""

    def __init__(self, cache, *, serve_score: float, suggest_score: float):
        self.cache = cache
        self.serve_score = serve_score
        self.suggest_score = suggest_score
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._version: object = None
        self._lessons = [entry for lesson in library.load_lessons() for entry in _lesson_entries(lesson)]

    def entries(self) -> list[Entry]:
        """Lesson phrasings plus the approved answers' questions, re-read when the approved set changes."""
        version = self.cache.approved_version()
        with self._lock:
            if version != self._version:
                rows = self.cache.approved_questions()
                approved = {row.question_hash for row in rows}
                known = {(e.question_hash, e.text) for e in self._lessons}
                stored = {(e.question_hash, e.text): e for e in self._entries if e.title == e.text}
                self._entries = [e for e in self._lessons if e.question_hash in approved] + [
                    stored.get((row.question_hash, row.question)) or _stored_entry(row)
                    for row in rows if (row.question_hash, row.question) not in known]
                self._version = version
            return self._entries

    def candidates(self, text: str, limit: int = 8) -> list[Match]:
        """The closest phrasings, best first, each with the guard it fails (if any)."""
        query = read(text)
        entries = self.entries()
        if not entries:
            return []
        keys = [entry.meaning.key for entry in entries]
        rough = process.extract(query.key, keys, scorer=fuzz.token_set_ratio, limit=limit * 4)
        matches = []
        for _, _, index in rough:
            entry = entries[index]
            how = "canonical" if entry.meaning.key == query.key else "similar"
            score = 100.0 if how == "canonical" else similarity(query, entry.meaning)
            matches.append(Match(entry, how, score, failed_guard(query, entry.meaning)))
        matches.sort(key=lambda m: (m.how != "canonical", m.failed_guard is not None, -m.score))
        return matches[:limit]

    def serve(self, text: str) -> Match | None:
        """The match to serve without asking anyone, or None."""
        for match in self.candidates(text):
            if match.servable and (match.how == "canonical" or match.score >= self.serve_score):
                return match
        return None

    def phrasing(self, question_hash: str, language: str | None) -> str | None:
        """A lesson's question as phrased in ``language`` (its own text first), if it has one."""
        for entry in self._lessons:
            if entry.question_hash == question_hash and entry.language == language:
                return entry.text
        return None

    def suggestions(self, text: str) -> list[tuple[Entry, float]]:
        """Up to three different answers close to the question ("did you mean…?"), best first."""
        seen, out = set(), []
        for match in sorted(self.candidates(text, limit=12), key=lambda m: -m.score):
            if match.score >= self.suggest_score and match.entry.question_hash not in seen:
                seen.add(match.entry.question_hash)
                out.append((match.entry, match.score))
        return out[:SUGGEST_LIMIT]


def _stored_entry(row) -> Entry:
    return Entry(text=row.question, language=row.language, answer_language=row.language,
                 question_hash=row.question_hash, subject=row.subject or "", title=row.question,
                 meaning=read(row.question))


def _lesson_entries(lesson: library.Lesson) -> list[Entry]:
    q = lesson.question
    phrasings = [(q.text, q.language)] + [(text, language) for language, texts in lesson.alternatives.items()
                                           for text in texts]
    return [Entry(text=text, language=language, answer_language=q.language, question_hash=q.hash,
                  subject=lesson.subject, title=q.text, meaning=read(text)) for text, language in phrasings]
