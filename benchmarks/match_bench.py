"""Reworded questions: ``paraphrase_hit_rate`` and ``paraphrase_wrong_rate`` on tests/data's paraphrase sets.

Each row is a student question and the lesson it rewords (or ``-`` for a trap that must not be served). A rewording
counts as a hit when ``tutor.match`` would serve exactly its lesson; a trap counts as wrong when anything is served.
The keys' values come from the held-out set (written before any tuning); the development set's figures are in
``setup``.
"""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS = {"heldout": "paraphrases_heldout.tsv", "dev": "paraphrases_dev.tsv"}


def rows(name: str) -> list[list[str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith(("#", "expect\t"))]


def figures(tutor, name: str) -> dict:
    """Hit rate on rewordings, wrong rate on traps, and the wrong hits by kind, for one set."""
    lessons = {lesson.name[:2]: lesson.question.hash for lesson in tutor.lessons()}
    hits = rewordings = wrong = traps = 0
    wrong_kinds: dict[str, int] = {}
    for expect, _language, kind, question in rows(name):
        served = tutor.match(question)
        if expect == "-":
            traps += 1
            if served:
                wrong += 1
                wrong_kinds[kind] = wrong_kinds.get(kind, 0) + 1
        else:
            rewordings += 1
            hits += bool(served and served["question_hash"] == lessons[expect])
    return dict(hit_rate=hits / rewordings, wrong_rate=wrong / traps, rewordings=rewordings, traps=traps,
                hits=hits, wrong=wrong, wrong_by_kind=wrong_kinds)


def paraphrase(tutor, results) -> None:
    measured = {label: figures(tutor, name) for label, name in SETS.items()}
    setup = dict(sets=SETS, dev=measured["dev"], heldout=measured["heldout"],
                 method="tutor.match(question) for every row: exact key, canonical key, or similar + guards")
    results.put("paraphrase_hit_rate", measured["heldout"]["hit_rate"], "ratio", **setup)
    results.put("paraphrase_wrong_rate", measured["heldout"]["wrong_rate"], "ratio", **setup)
