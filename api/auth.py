"""Who is calling: a bearer token, or the pages' login cookie for browser callers.

The API's routes sit outside Streamlit's XSRF protection. The login cookie is ``SameSite=Strict`` already; a
state-changing request authenticated by it must also carry ``X-Tutor-Request: 1`` (a header a cross-site form
cannot send) and, when the browser sends one, an ``Origin`` naming this host.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from core.errors import AuthError, Forbidden

COOKIE = "tutor_token"  # the pages' login cookie (ui/app.py)
CSRF_HEADER = "x-tutor-request"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def credentials(headers, cookies: dict, method: str) -> str:
    """The token a request carries, after the cookie checks; raises ``AuthError`` / ``Forbidden``."""
    header = headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("auth_invalid")
        return token.strip()
    token = cookies.get(COOKIE)
    if not token:
        raise AuthError("auth_invalid")
    if method not in SAFE_METHODS:
        if headers.get(CSRF_HEADER) != "1":
            raise Forbidden()
        same_origin(headers)
    return token


def same_origin(headers) -> None:
    origin = headers.get("origin")
    if origin is None:
        return
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    if urlsplit(origin).netloc.lower() != host.lower():
        raise Forbidden()


async def caller(request: Request):
    """FastAPI dependency: the verified identity of the caller (also sets the language of error messages)."""
    token = credentials(request.headers, request.cookies, request.method)
    tutor = await tutor_of(request)
    identity = await run_in_threadpool(tutor.identity, token)
    request.state.language = identity.language
    return identity


async def tutor_of(request: Request):
    return await request.app.state.tutors.get()
