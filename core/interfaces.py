"""The facade's sub-objects as clients see them: ``tutor.chats``, ``tutor.history``, ``tutor.frames``,
``tutor.curation`` and ``tutor.credits``.

Each protocol is the whole of what a client may call on that sub-object (``tests/test_architecture.py`` checks the
pages call nothing else, and that each implementation has every method). Every operation takes the verified caller
(an ``Identity`` from ``tutor.identity(token)``) first and checks, in core, that they may do it (``Forbidden``
otherwise); failures are ``core.errors`` with a code.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from .school.auth import Identity
    from .school.frames import StudentDetail

Day = dt.date | dt.datetime | str


@runtime_checkable
class ChatsAPI(Protocol):
    """Chats with the tutor, streamed as ``start``, ``content``, ``done`` (or ``error``) events."""

    max_message_chars: int

    def create(self, identity: Identity, *, title: str = "", explanation_id: str | None = None,
               step: int | None = None, language: str | None = None) -> dict: ...

    def history(self, identity: Identity, session_id: str) -> list[dict]: ...

    def send(self, identity: Identity, session_id: str, text: str) -> Iterator[dict]: ...

    def check_message(self, text: str) -> str: ...

    def about(self, identity: Identity, session_id: str) -> dict | None: ...


@runtime_checkable
class HistoryAPI(Protocol):
    """The caller's past sessions: list, search, delete, export, ratings."""

    def sessions(self, identity: Identity, *, search: str = "", limit: int = 200) -> list[dict]: ...

    def delete(self, identity: Identity, session_id: str) -> None: ...

    def export_markdown(self, identity: Identity, session_id: str) -> str: ...

    def board_svg(self, identity: Identity, session_id: str, *, step: int | None = None) -> str: ...

    def rate(self, identity: Identity, session_id: str, *, helpful: bool, comment: str = "") -> None: ...

    def rating(self, identity: Identity, session_id: str) -> dict | None: ...


@runtime_checkable
class FramesAPI(Protocol):
    """A class's analytics for its teacher or an admin, one pandas DataFrame per view, over UTC days."""

    def kpis(self, identity: Identity, class_id: str, start: Day, end: Day) -> dict: ...

    def questions_per_day(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def top_questions(self, identity: Identity, class_id: str, start: Day, end: Day, *,
                      limit: int = 20) -> pd.DataFrame: ...

    def topics(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def struggle_points(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def students_needing_help(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def ratings(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def match_decisions(self, identity: Identity, class_id: str, start: Day, end: Day) -> pd.DataFrame: ...

    def student_detail(self, identity: Identity, class_id: str, student_id: str, start: Day,
                       end: Day) -> StudentDetail: ...

    def csv(self, frame: pd.DataFrame) -> bytes: ...


@runtime_checkable
class CurationAPI(Protocol):
    """The answer library as staff see and change it, with versions."""

    step_types: tuple[str, ...]
    drawing_ops: dict[str, tuple[str, ...]]

    def answers(self, identity: Identity, *, search: str = "", status: str | None = None,
                source: str | None = None, review: bool = False, limit: int = 200) -> list[dict]: ...

    def needing_review(self, identity: Identity, *, limit: int = 50) -> list[dict]: ...

    def get(self, identity: Identity, answer_id: str) -> dict: ...

    def history(self, identity: Identity, answer_id: str) -> list[dict]: ...

    def draw(self, identity: Identity, commands: list) -> dict: ...

    def edit(self, identity: Identity, answer_id: str, steps: list[dict], *, total_duration: int | None = None,
             expected_version: int | None = None) -> dict: ...

    def approve(self, identity: Identity, answer_id: str, *, expected_version: int | None = None) -> dict: ...

    def retire(self, identity: Identity, answer_id: str, *, expected_version: int | None = None) -> dict: ...


@runtime_checkable
class CreditsAPI(Protocol):
    """Credit balances: one credit per newly generated answer; teachers and admins grant more."""

    max_grant: int
    max_reason_chars: int

    def balance(self, identity: Identity, user_id: str | None = None) -> int: ...

    def ledger(self, identity: Identity, user_id: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]: ...

    def grant(self, identity: Identity, user_id: str, amount: int, reason: str = "grant") -> int: ...
