"""Session store backends; ``open_store(settings)`` picks one from ``REDIS_URL``."""
from __future__ import annotations

from .base import SessionStatus, Store
from .embedded import EmbeddedStore


def open_store(settings) -> Store:
    if settings.redis_url:
        from .redis_store import RedisStore
        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    return EmbeddedStore(settings.data_dir / "sessions.db")


__all__ = ["open_store", "Store", "EmbeddedStore", "SessionStatus"]
