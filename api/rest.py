"""The REST + SSE API under ``/api/v1``: thin routes over the facade, described by the OpenAPI document."""
from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StrictBool
from starlette.concurrency import run_in_threadpool
from swagger_ui_bundle import swagger_ui_path

from core.errors import TutorError

from . import errors, live, streams
from .auth import caller, tutor_of
from .events import Cursor, catch_up, resolve, sse

log = logging.getLogger(__name__)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
router = APIRouter(prefix="/v1")


class Credentials(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Ask(BaseModel):
    question: str
    language: str | None = Field(default=None, max_length=8)
    stored_only: StrictBool = Field(default=False, description="serve only a stored answer (a lesson, a cached "
                                    "one); otherwise 409 `not_stored`, with nothing created or charged")


class Started(BaseModel):
    session_id: str
    status: str
    cached: bool
    language: str
    question_hash: str
    events: str


class Control(BaseModel):
    status: str
    step: int
    position: int


class Page(BaseModel):
    items: list[dict[str, Any]]
    offset: int
    limit: int
    has_more: bool


class Rating(BaseModel):
    helpful: StrictBool
    comment: str = Field(default="", max_length=5000)


class NewChat(BaseModel):
    title: str = Field(default="", max_length=1000)
    explanation_id: uuid.UUID | None = None
    step: int | None = Field(default=None, ge=1, le=1000)
    language: str | None = Field(default=None, max_length=8)


class ChatCreated(BaseModel):
    chat_id: str
    title: str
    language: str


class Message(BaseModel):
    message: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    store: bool


async def sse_messages(pairs, language: str, encode=sse):
    """``(event, id)`` pairs as SSE messages; a failure after the 200 went out becomes an ``error`` event."""
    try:
        async for item, event_id in pairs:
            yield encode(item, event_id)
    except TutorError as error:  # after the 200 went out, a refusal can only be an event
        yield encode(error.to_event(language))
    except Exception:
        log.exception("event stream failed")
        yield encode(TutorError("error").to_event(language))


def _event_stream(pairs, language: str) -> StreamingResponse:
    return StreamingResponse(sse_messages(pairs, language), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/auth/token", response_model=Token, tags=["auth"])
async def token(body: Credentials, request: Request):
    tutor = await tutor_of(request)
    client = request.client.host if request.client else None
    access = await run_in_threadpool(partial(tutor.sign_in, body.email, body.password, client=client))
    return Token(access_token=access, expires_in=int(tutor.token_ttl))


@router.get("/health", response_model=Health, tags=["service"])
async def health(request: Request, response: Response):
    tutor = await tutor_of(request)
    checks = await run_in_threadpool(tutor.health)
    ok = all(checks.values())
    response.status_code = 200 if ok else 503
    return Health(status="ok" if ok else "degraded", **checks)


@router.post("/sessions", status_code=201, response_model=Started, tags=["explanations"],
             responses={409: {"description": "`not_stored`: `stored_only` and no stored answer matches"}})
async def ask(body: Ask, request: Request, me=Depends(caller)):
    tutor = await tutor_of(request)
    state = await run_in_threadpool(lambda: tutor.ask(me, body.question, language=body.language,
                                                      stored_only=body.stored_only))
    return Started(session_id=state["id"], status=state["status"], cached=bool(state.get("answer_id")),
                   language=state["language"], question_hash=state["question_hash"],
                   events=f"{request.scope.get('root_path', '')}/v1/sessions/{state['id']}/events")


@router.get("/sessions/{session_id}/events", tags=["explanations"],
            responses={200: {"content": {"text/event-stream": {}}}, 204: {"description": "nothing to follow"}})
async def events(session_id: str, request: Request, me=Depends(caller),
                 last_event_id: str | None = Header(default=None, max_length=40),
                 after: str | None = Query(default=None, max_length=40,
                                           description="a position token, as Last-Event-ID")):
    """The explanation's events from the saved cursor; with ``Last-Event-ID`` (or ``after``), from exactly there."""
    tutor = await tutor_of(request)
    have = Cursor.parse(last_event_id or after) if (last_event_id or after) else None
    snapshot = await run_in_threadpool(tutor.snapshot, me, str(session_id))
    if have is not None:
        catch_up(snapshot, have)  # a token beyond this session's text is refused before the stream starts
    elif snapshot["status"] not in ("streaming", "paused"):
        return Response(status_code=204)
    hub = request.app.state.hub
    return _event_stream(streams.explanation(tutor, me, str(session_id), have, limiter=hub.limiter,
                                             publish=hub.publish, watching=hub.watching), me.language)


@router.get("/sessions/{session_id}/live", tags=["explanations"], responses={200: {"content": {"text/event-stream": {}}}})
async def live_stream(session_id: str, request: Request, me=Depends(caller),
                      last_event_id: str | None = Header(default=None, max_length=40),
                      after: str = Query(max_length=40, description="the position token the client holds")):
    """For the pages' explanation component: ``/events`` from ``after``, with whiteboard patches (``board``
    events: a ``reset`` first, then ``append``/``replace``) instead of canvas commands, and text chunks as
    ``event:c`` with the chunk alone as data (a JSON string) and an ``id`` only on a step's last chunk (the client
    adds the chunk's code points to its token's position); gzip per message."""
    tutor = await tutor_of(request)
    have = Cursor.parse(last_event_id or after)
    snapshot = await run_in_threadpool(tutor.snapshot, me, str(session_id))
    catch_up(snapshot, have)  # a token beyond this session's text is refused before the stream starts
    hub = request.app.state.hub
    pairs = streams.explanation(tutor, me, str(session_id), have, limiter=hub.limiter, publish=hub.publish,
                                watching=hub.watching)
    board = live.BoardStream(str(session_id), live.drawn_before(snapshot, resolve(snapshot, have)))
    messages = sse_messages(board.translated(pairs), me.language, encode=live.message)
    return live.response(live.message(board.first), messages, request.headers.get("accept-encoding", ""))


class PauseAt(BaseModel):
    at: str | None = Field(default=None, max_length=40,
                           description="the position token (an event id) of the last event the client SHOWED: the "
                                       "session pauses back there, and what came after it is sent again on resume")


@router.post("/sessions/{session_id}/pause", response_model=Control, tags=["explanations"])
async def pause(session_id: str, request: Request, me=Depends(caller), body: PauseAt | None = None):
    at = Cursor.parse(body.at) if body is not None and body.at else None
    tutor = await tutor_of(request)
    state = await run_in_threadpool(partial(tutor.pause, me, str(session_id),
                                            at=(at.step, at.position) if at else None))
    return Control(status=state["status"], step=state["step"], position=state["position"])


@router.post("/sessions/{session_id}/resume", response_model=Control, tags=["explanations"])
async def resume(session_id: str, request: Request, me=Depends(caller)):
    state = await run_in_threadpool((await tutor_of(request)).resume, me, str(session_id))
    return Control(status=state["status"], step=state["step"], position=state["position"])


@router.get("/sessions", response_model=Page, tags=["history"])
async def history(request: Request, me=Depends(caller), search: str = Query(default="", max_length=200),
                  offset: int = Query(default=0, ge=0, le=10_000), limit: int = Query(default=50, ge=1, le=200)):
    tutor = await tutor_of(request)
    rows = await run_in_threadpool(lambda: tutor.history.sessions(me, search=search, limit=offset + limit + 1))
    items = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
             for row in rows[offset:offset + limit]]
    return Page(items=items, offset=offset, limit=limit, has_more=len(rows) > offset + limit)


@router.get("/sessions/{session_id}", tags=["history"])
async def snapshot(session_id: str, request: Request, me=Depends(caller)) -> dict[str, Any]:
    return await run_in_threadpool((await tutor_of(request)).snapshot, me, str(session_id))


@router.delete("/sessions/{session_id}", status_code=204, tags=["history"])
async def delete(session_id: str, request: Request, me=Depends(caller)):
    await run_in_threadpool((await tutor_of(request)).history.delete, me, str(session_id))
    return Response(status_code=204)


@router.get("/sessions/{session_id}/export.md", tags=["history"],
            responses={200: {"content": {"text/markdown": {}}}})
async def export(session_id: str, request: Request, me=Depends(caller)):
    text = await run_in_threadpool((await tutor_of(request)).history.export_markdown, me, str(session_id))
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.get("/sessions/{session_id}/whiteboard.svg", tags=["history"],
            responses={200: {"content": {"image/svg+xml": {}}}})
async def whiteboard(session_id: str, request: Request, me=Depends(caller),
                     step: int | None = Query(default=None, ge=1, le=1000)):
    tutor = await tutor_of(request)
    svg = await run_in_threadpool(lambda: tutor.history.board_svg(me, str(session_id), step=step))
    return Response(svg, media_type="image/svg+xml", headers={"Content-Security-Policy": "default-src 'none'"})


@router.post("/sessions/{session_id}/rating", status_code=204, tags=["history"])
async def rate(session_id: str, body: Rating, request: Request, me=Depends(caller)):
    tutor = await tutor_of(request)
    await run_in_threadpool(lambda: tutor.history.rate(me, str(session_id), helpful=body.helpful,
                                                       comment=body.comment))
    return Response(status_code=204)


@router.post("/chats", status_code=201, response_model=ChatCreated, tags=["chat"])
async def new_chat(body: NewChat, request: Request, me=Depends(caller)):
    tutor = await tutor_of(request)
    explanation = str(body.explanation_id) if body.explanation_id else None
    chat = await run_in_threadpool(lambda: tutor.chats.create(me, title=body.title, explanation_id=explanation,
                                                              step=body.step, language=body.language))
    return ChatCreated(chat_id=chat["id"], title=chat["title"], language=chat["language"])


@router.post("/chats/{chat_id}/messages", tags=["chat"], responses={200: {"content": {"text/event-stream": {}}}})
async def send(chat_id: str, body: Message, request: Request, me=Depends(caller)):
    """The reply as SSE: ``start``, ``content`` (whole words), ``done``; refusals come before the stream."""
    tutor = await tutor_of(request)
    replies = await run_in_threadpool(tutor.chats.send, me, str(chat_id), body.message)
    return _event_stream(streams.chat_reply(replies, me.language, limiter=request.app.state.hub.limiter),
                         me.language)


@router.get("/chats/{chat_id}", tags=["chat"])
async def chat(chat_id: str, request: Request, me=Depends(caller)) -> dict[str, Any]:
    messages = await run_in_threadpool((await tutor_of(request)).chats.history, me, str(chat_id))
    return {"chat_id": str(chat_id), "messages": [{**m, "created_at": m["created_at"].isoformat()
                                                   if hasattr(m["created_at"], "isoformat") else m["created_at"]}
                                                  for m in messages]}


def create_api(tutors, hub, *, default_language: str = "es", max_body: int = 64 * 1024) -> FastAPI:
    """The FastAPI application mounted at ``/api`` (docs at ``/api/v1/docs``)."""
    app = FastAPI(title="Tutor API", version="1", openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None)
    app.mount("/v1/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.add_api_route("/v1/docs", _docs, include_in_schema=False, response_class=HTMLResponse)
    app.state.tutors = tutors
    app.state.hub = hub
    app.state.default_language = default_language
    app.include_router(router)
    errors.install(app)
    app.add_middleware(errors.BodyLimit, limit=max_body)
    return app


async def _docs(request: Request) -> HTMLResponse:
    """Swagger UI from the copy that ships in the ``swagger-ui-bundle`` package: no CDN."""
    root = request.scope.get("root_path", "")
    assets = f"{root}/v1/docs/assets"
    return get_swagger_ui_html(openapi_url=f"{root}/v1/openapi.json", title="Tutor API",
                               swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                               swagger_css_url=f"{assets}/swagger-ui.css",
                               swagger_favicon_url=f"{assets}/favicon-32x32.png")
