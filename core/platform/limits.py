"""Rate limits: a sliding window per key and action in the session store.

A rate is written ``"N/S"``: at most N requests in any S seconds (``"20/60"``); ``"0"`` means unlimited. Asks and
chat messages have a rate per role (``TUTOR_RATE_ASK_STUDENT``, ``TUTOR_RATE_CHAT_TEACHER``, …); pauses/resumes
and new chats one rate per user (``TUTOR_RATE_PAUSE``, ``TUTOR_RATE_NEW_CHAT``); sign-ins one per account
(``TUTOR_RATE_SIGNIN``) and one per client (``TUTOR_RATE_SIGNIN_CLIENT``), registrations one per client
(``TUTOR_RATE_REGISTER``). The window lives in the session store (``Store.hit_window``: a Lua script on Redis'
clock, or a SQLite transaction), so every process of a deployment shares it and concurrent requests can never
exceed it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..errors import RateLimited

ACTIONS = ("ask", "chat")  # rated per role
KEYED = ("pause", "new_chat", "signin", "signin_client", "register")  # one rate for every key
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
    """``check(identity, "ask")`` or ``hit("signin", email)`` counts one request or raises
    ``RateLimited(retry_after=seconds)``."""

    def __init__(self, store, settings, metrics=None):
        self.store = store
        self.settings = settings
        self.metrics = metrics

    def rate(self, role: str, action: str) -> Rate:
        if action not in ACTIONS:
            raise ValueError(f"unknown rate-limited action {action!r}")
        return getattr(self.settings, f"rate_{action}_{role}")

    def check(self, identity, action: str) -> None:
        """Count one ``action`` by ``identity`` (per-role rates for asks and chat, one rate for the others)."""
        if action in KEYED:
            self.hit(action, identity.user_id)
        else:
            self._count(self.rate(identity.role, action), f"{action}:{identity.user_id}")

    def hit(self, action: str, key: str) -> None:
        """Count one ``action`` for ``key`` (an account's email, a client's address, a user id)."""
        if action not in KEYED:
            raise ValueError(f"unknown rate-limited action {action!r}")
        digest = hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).hexdigest()[:32]  # no emails in the store
        self._count(getattr(self.settings, f"rate_{action}"), f"{action}:{digest}")

    def _count(self, rate: Rate, key: str) -> None:
        if rate.unlimited:
            return
        wait = self.store.hit_window(key, rate.limit, rate.window_s)
        if wait > 0:
            if self.metrics is not None:
                self.metrics.error("rate_limited")
            raise RateLimited(retry_after=wait)
