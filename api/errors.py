"""Errors as JSON: ``{"error": {"code", "message"}}`` in the caller's language, with one status per code.

``STATUS_BY_CODE`` and ``STATUS_BY_CLASS`` are the only mapping from ``core.errors`` to HTTP: every route, the SSE
streams (before they start) and the Socket.IO handlers (as ``error`` events) report the same code.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    AIError,
    AuthError,
    Conflict,
    Forbidden,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    RateLimited,
    SettingsError,
    StoreError,
    TutorError,
)

log = logging.getLogger(__name__)

STATUS_BY_CODE = {"ai_unavailable": 503, "ai_rate_limited": 503, "ai_timeout": 504, "ai_failed": 502,
                  "ai_invalid_output": 502, "auth_unavailable": 503, "payload_too_large": 413,
                  "method_not_allowed": 405}
STATUS_BY_CLASS = ((InvalidInput, 422), (AuthError, 401), (Forbidden, 403), (NotFound, 404), (Conflict, 409),
                   (InsufficientCredits, 402), (RateLimited, 429), (StoreError, 503), (AIError, 502),
                   (SettingsError, 500))
LANGUAGES = ("es", "en")


def status_for(error: TutorError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    return next((status for kind, status in STATUS_BY_CLASS if isinstance(error, kind)), 500)


def language_of(request: Request) -> str:
    """The caller's language: their account's once known, else the first ``Accept-Language`` we speak."""
    known = getattr(request.state, "language", None)
    if known:
        return known
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return request.app.state.default_language


def error_response(error: TutorError, language: str, **extra) -> JSONResponse:
    status = status_for(error)
    headers = {"Retry-After": str(max(1, round(error.retry_after)))} if isinstance(error, RateLimited) else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    body = {"error": {"code": error.code, "message": error.message_for(language), **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TutorError)
    async def tutor_error(request: Request, error: TutorError):
        return error_response(error, language_of(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        fields = [".".join(str(p) for p in e.get("loc", ())) for e in error.errors()][:20]
        return error_response(InvalidInput(), language_of(request), fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if request.scope.get("body_too_large"):
            raise _TooLarge()
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(error.status_code,
                                                                                        "invalid_input")
        response = error_response(TutorError(code), language_of(request))
        response.status_code = error.status_code
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(TutorError("error"), language_of(request))


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, whether or not it declares its length."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                scope["body_too_large"] = True  # FastAPI turns a failed body read into a 400: tell it apart
                raise _TooLarge()
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        request = Request(scope, receive)
        await error_response(TutorError("payload_too_large"), language_of(request))(scope, receive, send)


class _TooLarge(Exception):
    pass
