"""Socket.IO at ``/socket.io``: the seed's events over one connection, and the room every reader publishes to.

Client → server: ``ask_question {question, language?}``, ``pause_streaming {session_id}``,
``resume_streaming {session_id}``, ``join_session {session_id, last_position?}``. Server → client: the explanation
events (the same names and data as SSE, plus ``session_id``) and ``error {code, message}``. Each handler also
returns an acknowledgement: ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``.

Every live explanation event, whichever client's reader sends it (SSE or Socket.IO, in any process), is emitted to
the room ``session:<id>`` while the session is watched (a client entered its room: api/watching.py); with
``REDIS_URL`` set, python-socketio's Redis manager carries it to the other processes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import socketio
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from core.errors import AuthError, InvalidInput, TutorError

from . import streams
from .auth import COOKIE
from .events import Cursor, catch_up
from .watching import Watching

log = logging.getLogger(__name__)


class AskQuestion(BaseModel):
    question: str
    language: str | None = Field(default=None, max_length=8)


class SessionRef(BaseModel):
    session_id: str = Field(pattern=r"^[0-9a-fA-F-]{32,36}$")


class Join(SessionRef):
    last_position: str | int | None = None


def room(session_id: str) -> str:
    return f"session:{session_id}"


class Hub:
    """The Socket.IO server plus what SSE routes share with it: the room publisher and the reader threads' limit."""

    def __init__(self, tutors, *, redis_url: str = "", channel: str = "tutor:socketio", readers: int = 2000):
        manager = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
        # Default origin policy: a browser's Origin must name this host (cookie auth; see api/auth.py).
        self.sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
        self.tutors = tutors
        self.limiter = anyio.CapacityLimiter(readers)
        self.readers: dict[str, asyncio.Task] = {}  # one live reader per connection
        self.watching = Watching(self._rooms_here)
        for name in ("connect", "disconnect", "ask_question", "pause_streaming", "resume_streaming",
                     "join_session"):
            self.sio.on(name, getattr(self, "_" + name))

    def asgi(self):
        return socketio.ASGIApp(self.sio, socketio_path="socket.io")

    async def publish(self, session_id: str, item: dict) -> None:
        await self.sio.emit(item["event"], {**item["data"], "session_id": session_id}, room=room(session_id))

    def _rooms_here(self) -> list[str]:
        """The sessions whose rooms have members connected to this process."""
        rooms = self.sio.manager.rooms.get("/", {})
        return [name.split(":", 1)[1] for name, members in rooms.items()
                if members and isinstance(name, str) and name.startswith("session:")]

    async def _enter(self, sid: str, tutor, session_id: str) -> None:
        """Put the client in the session's room, marked as watched first (the session's readers then publish)."""
        await self.watching.watch(tutor, session_id)
        await self.sio.enter_room(sid, room(session_id))

    # --- handlers --------------------------------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict, auth: Any = None):
        token = auth.get("token") if isinstance(auth, dict) else None
        token = token if isinstance(token, str) and token else _cookie(environ)
        try:
            identity = await self._identity(token)
        except TutorError as error:
            raise socketio.exceptions.ConnectionRefusedError(_error(error, "en")) from None
        await self.sio.save_session(sid, {"token": token, "language": identity.language})

    async def _disconnect(self, sid: str, *args) -> None:
        task = self.readers.pop(sid, None)
        if task is not None:
            task.cancel()  # like a closed tab: the reader stops, the session stays where it got to

    async def _ask_question(self, sid: str, data: Any = None):
        return await self._handle(sid, data, AskQuestion, self._ask)

    async def _pause_streaming(self, sid: str, data: Any = None):
        return await self._handle(sid, data, SessionRef, self._control("pause"))

    async def _resume_streaming(self, sid: str, data: Any = None):
        return await self._handle(sid, data, SessionRef, self._control("resume"))

    async def _join_session(self, sid: str, data: Any = None):
        return await self._handle(sid, data, Join, self._join)

    # --- actions ---------------------------------------------------------------------------------------------

    async def _ask(self, sid, me, tutor, body: AskQuestion) -> dict:
        state = await run_in_threadpool(lambda: tutor.ask(me, body.question, language=body.language))
        await self._enter(sid, tutor, state["id"])
        self._start_reader(sid, me, tutor, state["id"])
        return {"session_id": state["id"], "status": state["status"]}

    def _control(self, action: str):
        async def run(sid, me, tutor, body: SessionRef) -> dict:
            state = await run_in_threadpool(getattr(tutor, action), me, body.session_id)
            if action == "resume" and state["status"] == "streaming":
                await self._enter(sid, tutor, body.session_id)
                self._start_reader(sid, me, tutor, body.session_id)
            return {"session_id": body.session_id, "status": state["status"], "step": state["step"],
                    "position": state["position"]}
        return run

    async def _join(self, sid, me, tutor, body: Join) -> dict:
        snapshot = await run_in_threadpool(tutor.snapshot, me, body.session_id)  # ownership first
        await self._enter(sid, tutor, body.session_id)
        if body.last_position is not None:  # read after the mark: every later event reaches the room
            snapshot = await run_in_threadpool(tutor.snapshot, me, body.session_id)
            for item in catch_up(snapshot, Cursor.parse(body.last_position)):
                await self.sio.emit(item["event"], {**item["data"], "session_id": body.session_id}, to=sid)
        return {"session_id": body.session_id, "status": snapshot["status"], "step": snapshot["step"],
                "position": snapshot["position"]}

    def _start_reader(self, sid, me, tutor, session_id: str) -> None:
        previous = self.readers.pop(sid, None)
        if previous is not None:
            previous.cancel()
        self.readers[sid] = asyncio.create_task(self._read(sid, me, tutor, session_id))

    async def _read(self, sid, me, tutor, session_id: str) -> None:
        try:
            async for item, _ in streams.explanation(tutor, me, session_id, None, limiter=self.limiter,
                                                     publish=self.publish, watching=self.watching,
                                                     heartbeat=None):
                if item is not None and item["event"] == "taken_over":  # the rest went to the room
                    await self.sio.emit(item["event"], {**item["data"], "session_id": session_id}, to=sid)
        except TutorError as error:
            await self.sio.emit("error", {**_error(error, me.language), "session_id": session_id}, to=sid)
        except Exception:
            log.exception("socket reader of session %s failed", session_id)
        finally:
            if self.readers.get(sid) is asyncio.current_task():
                del self.readers[sid]

    async def _handle(self, sid, data, model, action) -> dict:
        session = await self.sio.get_session(sid)
        language = session.get("language", "en")
        try:
            body = model.model_validate(data if isinstance(data, dict) else {})
            me = await self._identity(session.get("token"))  # every event: a revoked or expired token stops here
            result = await action(sid, me, await self.tutors.get(), body)
            return {"ok": True, **result}
        except ValidationError:
            error = InvalidInput()
        except TutorError as caught:
            error = caught
        except Exception:
            log.exception("socket handler failed")
            error = TutorError("error")
        payload = _error(error, language)
        await self.sio.emit("error", payload, to=sid)
        return {"ok": False, "error": payload}

    async def _identity(self, token):
        if not token:
            raise AuthError("auth_invalid")
        tutor = await self.tutors.get()
        return await run_in_threadpool(tutor.identity, token)


def _error(error: TutorError, language: str) -> dict:
    return {"code": error.code, "message": error.message_for(language)}


def _cookie(environ: dict) -> str | None:
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None
