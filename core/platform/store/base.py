"""The session store: live session state, per-generation event logs, locks and rate-limit windows.

Two implementations with the same behaviour: ``RedisStore`` (``REDIS_URL``) and ``EmbeddedStore`` (a SQLite file
in the data dir). Every write that can race is conditional and atomic on the server side, so a stale thread, a
reload, a second tab or a second process can never duplicate or lose text.
"""
from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

# Session fields kept by every store. Integers are stored as integers; the rest as strings.
SESSION_FIELDS = ("id", "owner", "kind", "question_hash", "generation_id", "answer_id", "language", "status",
                  "reader", "step", "position", "created_at", "last_activity")
INT_FIELDS = ("step", "position")



class SessionStatus(StrEnum):
    """Where a session is: an explanation streams, pauses, completes or fails; a chat is open. The values are what
    the stores and ``tutor_sessions.status`` hold (a ``StrEnum`` compares equal to them)."""

    STREAMING = "streaming"
    PAUSED = "paused"
    COMPLETE = "complete"
    FAILED = "error"
    OPEN = "open"


def now() -> float:
    return time.time()


class Store(Protocol):
    # --- sessions (sliding TTL, renewed on every read and write) ---
    def put_session(self, state: dict, ttl: int) -> None: ...
    def get_session(self, session_id: str, ttl: int) -> dict | None: ...

    def advance(self, session_id: str, reader: str, step: int, position: int, new_step: int, new_position: int,
                ttl: int) -> bool:
        """Move the cursor from (step, position) to (new_step, new_position) only if the session is streaming,
        ``reader`` is its current reader and the cursor is still where this reader left it."""

    def advance_many(self, moves: list[tuple]) -> list[bool]:
        """``advance(*move)`` for each move, in one round trip (each still conditional on its own)."""

    def set_status(self, session_id: str, status: str, *, expect: tuple[str, ...] | None, ttl: int,
                   reader: str | None = None) -> dict | None:
        """Set the status (and the reader when given) if the current status is in ``expect`` (None = any).
        Returns the new state, or None if the condition failed or the session is gone."""

    def rewind(self, session_id: str, step: int, position: int, *, ttl: int) -> dict | None:
        """Move a paused session's cursor back to (step, position), never forward: only if the session is paused and
        (step, position) is not after its cursor. Returns the new state, or None if the condition failed."""

    def delete_session(self, session_id: str) -> None: ...

    # --- event logs (append-only, one per generation) ---
    def append(self, log_id: str, entry: dict, ttl: int) -> int: ...
    def read(self, log_id: str, after: int = 0, block_ms: int = 0) -> list[tuple[int, dict]]: ...

    # --- locks ---
    def acquire(self, name: str, token: str, ttl_ms: int) -> bool: ...
    def refresh(self, name: str, token: str, ttl_ms: int) -> bool: ...
    def release(self, name: str, token: str) -> bool: ...
    def holder(self, name: str) -> str | None: ...
    def held(self, names: list[str]) -> dict[str, str]:
        """The holders' tokens of those of ``names`` that are held now (one round trip for all)."""

    # --- sliding-window counters ---
    def hit_window(self, key: str, limit: int, window_s: float) -> float:
        """Count one hit if fewer than ``limit`` happened in the last ``window_s`` seconds; return 0, else return
        the seconds until a slot frees (nothing counted)."""

    def ping(self) -> None: ...
    def close(self) -> None: ...
