"""The tutor's HTTP API, served by the same process and port as the pages (``streamlit run streamlit_app.py``).

``routes(get_tutor)`` gives the Starlette routes for ``st.App(..., routes=...)``: the FastAPI application at ``/api``
(REST + SSE, ``/api/v1/docs``) and the python-socketio server at ``/socket.io``. Both are thin clients of the
``core`` facade; ``get_tutor`` is the pages' own tutor builder, so a process has one tutor.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount

from .rest import create_api
from .sockets import Hub

__all__ = ["routes", "Tutors", "create_api", "Hub"]


class Tutors:
    """The process's tutor, built on first use in a worker thread (building migrates the database)."""

    def __init__(self, build: Callable[[], object]):
        self.build = build
        self.tutor = None
        self.lock = asyncio.Lock()

    async def get(self):
        if self.tutor is None:
            async with self.lock:
                if self.tutor is None:
                    self.tutor = await run_in_threadpool(self.build)
        return self.tutor


def routes(get_tutor: Callable[[], object], settings) -> list[Mount]:
    """``/api`` and ``/socket.io`` for one process; ``settings`` (core.Settings) choose the Socket.IO manager."""
    tutors = Tutors(get_tutor)
    hub = Hub(tutors, redis_url=settings.redis_url, channel=f"{settings.redis_prefix}socketio")
    api = create_api(tutors, hub, default_language=settings.default_language)
    return [Mount("/api", app=api), Mount("/socket.io", app=hub.asgi())]
