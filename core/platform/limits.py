"""Per-user rate limits on asks and chat messages: a sliding window per user and action in the session store.

A rate is written ``"N/S"``: at most N requests in any S seconds (``"20/60"``); ``"0"`` means unlimited. Each role
has its own rate per action (``TUTOR_RATE_ASK_STUDENT``, ``TUTOR_RATE_CHAT_TEACHER``, …). The window lives in the
session store (``Store.hit_window``: a Lua script on Redis' clock, or a SQLite transaction), so every process of a
deployment shares it and concurrent requests can never exceed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import RateLimited

ACTIONS = ("ask", "chat")
MAX_WINDOW_S = 86_400


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` hits in any ``window_s`` seconds; ``limit == 0`` is unlimited."""

    limit: int
    window_s: float = 1.0

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @classmethod
    def parse(cls, value: Any) -> "Rate":
        """``"20/60"`` → 20 per 60 s; ``"0"`` → unlimited. Raises ``ValueError`` on anything else."""
        if isinstance(value, Rate):
            return value
        text = str(value).strip()
        if text == "0":
            return cls(0)
        limit, slash, window = text.partition("/")
        if not slash or not limit.strip().isdigit():
            raise ValueError(text)
        rate = cls(int(limit), float(window))
        if rate.limit < 1 or not 0 < rate.window_s <= MAX_WINDOW_S:
            raise ValueError(text)
        return rate

    def __str__(self) -> str:
        return "0" if self.unlimited else f"{self.limit}/{self.window_s:g}"


class RateLimits:
    """``check(identity, "ask")`` counts one request or raises ``RateLimited(retry_after=seconds)``."""

    def __init__(self, store, settings, metrics=None):
        self.store = store
        self.settings = settings
        self.metrics = metrics

    def rate(self, role: str, action: str) -> Rate:
        if action not in ACTIONS:
            raise ValueError(f"unknown rate-limited action {action!r}")
        return getattr(self.settings, f"rate_{action}_{role}")

    def check(self, identity, action: str) -> None:
        rate = self.rate(identity.role, action)
        if rate.unlimited:
            return
        wait = self.store.hit_window(f"{action}:{identity.user_id}", rate.limit, rate.window_s)
        if wait > 0:
            if self.metrics is not None:
                self.metrics.error("rate_limited")
            raise RateLimited(retry_after=wait)
