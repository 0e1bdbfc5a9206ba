"""The live explanation: one ``st.components.v2`` component that follows the session's stream in the browser.

The page draws the component once with the snapshot so far (the first paint needs no round trip); the module
``ui/static/explanation.js`` then reads ``GET /api/v1/sessions/{id}/live`` itself (login cookie, same origin),
appends text deltas to the current step, applies whiteboard patches and calls Pause/Resume on the API directly.
Streamlit reruns only on rare events the module reports with ``setTriggerValue``: ``ended`` (the explanation
completed: the page draws what follows it) and ``chat`` (a step's "ask about this step").

Mounted with no session (``idle``), the module takes over the Ask form's submit in the browser: it asks
``POST /api/v1/sessions`` for a stored answer only and, on 201, streams it at once with no rerun (the URL gets
``?session=``, so any later run draws that session); on anything else it lets the form's submit go through.

``ui/static/`` is served by our own route (``static_route``) with long cache headers; the inline loader imports
the module with ``?v=<hash of the folder>`` so an upgrade busts every cache.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import streamlit as st
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from core import SessionStatus
from core.errors import TutorError

from .render import ExplanationView, duration_label
from .texts import t

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/tutor-static"
TEXT_KEYS = ("pause", "resume", "explanation_paused", "completed", "taken_over", "continue_here", "whiteboard",
             "whiteboard_empty", "chat_about_step", "step_of", "step_n", "live_connecting", "live_reconnecting",
             "live_new_drawing", "live_failed", "live_total_time", "step_check_failed")


@lru_cache(maxsize=1)
def version() -> str:
    """A hash of every file under ``ui/static`` (the cache-busting query of the module and its assets)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class CachedStatic(StaticFiles):
    """Static files that browsers keep for a year: every URL carries the content hash (``?v=``)."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_route() -> Mount:
    """``/tutor-static/…`` → ``ui/static/`` (JavaScript as ``text/javascript``, unlike Streamlit's ``static/``)."""
    return Mount(STATIC_PREFIX, app=CachedStatic(directory=STATIC_DIR), name="tutor-static")


def base_path() -> str:
    """The app's URL path prefix (``server.baseUrlPath``), ``""`` at the root."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


_LOADER = """
export default async function (component) {
  const url = new URL(component.data.module, window.location.origin).href;
  const live = await import(url);
  return live.mount(component);
}
"""

_component = st.components.v2.component("tutor_live_explanation", js=_LOADER, isolate_styles=False)


def cursor_token(snapshot: dict) -> str:
    """The event-id token of everything the snapshot holds (what the stream must continue after)."""
    steps = snapshot["steps"]
    if not steps:
        return "0:0:0"
    last = steps[-1]
    position = sum(len(s["text"]) for s in steps)
    return f"{last['step']}:{position}:{len(last['commands']) + int(bool(last['complete']))}"


def texts(language: str) -> dict[str, str]:
    return {name: t(name, language) for name in TEXT_KEYS}


def module_url() -> str:
    return f"{base_path()}{STATIC_PREFIX}/explanation.js?v={version()}"


def idle_data(language: str) -> dict:
    """No session yet: what the module needs to start one from the form (``sessions``: the API to ask)."""
    return {"session": None, "lang": language, "texts": texts(language), "module": module_url(),
            "sessions": f"{base_path()}/api/v1/sessions"}


def component_data(snapshot: dict, language: str, *, light: bool = False, question: str = "",
                   page_session: str | None = None, focus_step: int | None = None) -> dict:
    """Everything the module needs, JSON-ready: the snapshot so far, URLs, the interface's words. ``light`` leaves
    the steps, the board and the words out (the rerun after the module reported the end: it already shows them,
    and fetches the snapshot itself in the rare case it does not). ``page_session``: the session the page around
    the component was last drawn for (another one: the module keeps what the page drew for it hidden)."""
    view = ExplanationView.from_snapshot(snapshot)
    base = base_path()
    session_id = snapshot["session_id"]
    api = f"{base}/api/v1/sessions/{session_id}"
    error = TutorError("ai_failed").message_for(language) if view.status == SessionStatus.FAILED else None
    return {
        "session": session_id,
        "question": question or snapshot.get("question") or "",
        "page_session": page_session,
        "focus_step": focus_step,  # scrolled to when the view is first drawn (the link back from a step's chat)
        "lang": language,
        "texts": None if light else texts(language),
        "module": module_url(),
        "sessions": f"{base}/api/v1/sessions",
        "api": api,
        "cursor": cursor_token(snapshot),
        "status": view.status,
        "total_steps": view.total_steps,
        "duration": duration_label(view.duration, language),
        "light": light,
        "steps": None if light else [{"step": s.step, "title": s.title, "text": s.text, "complete": s.complete,
                                      "check_failed": s.check_failed} for s in view.steps],
        "board": None if light else view.board_svg(),
        "error": error,
    }


def explanation(snapshot: dict, language: str, *, key: str = "live", light: bool = False, question: str = "",
                page_session: str | None = None, focus_step: int | None = None, on_ended=None):
    """Mount the live explanation; returns the component's result (``.chat`` on the run a step's chat was asked)."""
    data = component_data(snapshot, language, light=light, question=question, page_session=page_session,
                          focus_step=focus_step)
    return _component(key=key, data=data,
                      on_ended_change=on_ended or (lambda: None), on_chat_change=lambda: None)


def idle(language: str, *, key: str = "live", on_ended=None):
    """Mount the module with no session: its code and libraries load before the first ask, and it answers the
    form's stored questions itself (same ``key`` as ``explanation``: one component across runs)."""
    return _component(key=key, data=idle_data(language), on_ended_change=on_ended or (lambda: None),
                      on_chat_change=lambda: None)
