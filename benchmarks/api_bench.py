"""The HTTP API's streams (SSE at ``/api/v1``) on the same ``streamlit run`` server as the pages.

- ``api_sse_first_chunk_ms_p50/p99``: a cached answer, from sending ``GET /sessions/{id}/events`` to the first
  ``content_chunk`` (the session was created just before with ``POST /sessions``).
- ``api_sse_bytes_per_text_char``: bytes of the whole event stream / characters of the explanation's text.
- ``api_sse_{n}_gap_ms_p99``: n clients each streaming explanations back to back for a window; the gaps between
  consecutive ``content_chunk`` events of one stream (the pacing is ``TUTOR_CHUNK_DELAY_MS``, 200 ms by default).
- ``api_sse_streams_at_p99_100ms``: the largest measured n whose streams kept pace — p99 gap ≤ the pace + 100 ms
  and at least 80 % of the gaps due in the window seen (chunks in late bursts do not count) — 0 if none.
"""
from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import httpx

from .common import Results, StreamlitServer, make_users, percentile

LEVELS = (100, 300, 500)
QUICK_LEVELS = (100,)
FIRST_CHUNK_RUNS = 30
WINDOW_S = 10.0


def _run(coroutine):
    """``asyncio.run`` on a thread of its own: the browser benchmarks' Playwright keeps an event loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def parameters(quick: bool) -> dict:
    return {"levels": list(QUICK_LEVELS if quick else LEVELS), "first_chunk_runs": FIRST_CHUNK_RUNS,
            "window_s": WINDOW_S, "client": "httpx.AsyncClient in one process, lines parsed by hand"}


def _question(tutor) -> str:
    from core.testing.probes import load_lessons
    return next(lesson.question.text for lesson in load_lessons() if lesson.question.language == "es")


async def _stream(http: httpx.AsyncClient, headers: dict, question: str, *, on_chunk=None) -> tuple[int, int]:
    """Ask and read one explanation to its end; returns (stream bytes, text characters)."""
    started = await http.post("/api/v1/sessions", json={"question": question}, headers=headers)
    started.raise_for_status()
    size = chars = 0
    event = None
    url = f"/api/v1/sessions/{started.json()['session_id']}/events"
    async with http.stream("GET", url, headers=headers) as response:
        async for line in response.aiter_lines():
            size += len(line.encode()) + 1
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "content_chunk":
                chars += len(json.loads(line[6:])["chunk"])
                if on_chunk is not None:
                    on_chunk()
            if event in ("explanation_complete", "streaming_paused", "error") and line == "":
                break
    return size, chars


ASKS_PER_USER = 10  # under the per-student ask limit (TUTOR_RATE_ASK_STUDENT, 20 a minute)


async def _first_chunks(url: str, users: list[dict], question: str, runs: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for run in range(runs):
            headers = users[run // ASKS_PER_USER]
            started = await http.post("/api/v1/sessions", json={"question": question}, headers=headers)
            started.raise_for_status()
            sid = started.json()
            sent = time.perf_counter()
            async with http.stream("GET", f"/api/v1/sessions/{sid['session_id']}/events", headers=headers) as r:
                async for line in r.aiter_lines():
                    if line == "event: content_chunk":
                        times.append((time.perf_counter() - sent) * 1000)
                        break
    return times


async def _level(url: str, tokens: list[str], question: str, window: float) -> list[float]:
    gaps: list[float] = []
    deadline = time.monotonic() + window
    limits = httpx.Limits(max_connections=len(tokens) * 2 + 10, max_keepalive_connections=len(tokens) * 2)

    async def client(token: str, http: httpx.AsyncClient):
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < deadline:
            last = [None]

            def chunk():
                now = time.monotonic()
                if last[0] is not None and now < deadline:
                    gaps.append((now - last[0]) * 1000)
                last[0] = now
            await _stream(http, headers, question, on_chunk=chunk)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(token, http) for token in tokens))
    return gaps


def run(backend, server: StreamlitServer, tutor, results: Results, quick: bool, log: Callable[[str], None]) -> None:
    p = parameters(quick)
    question = _question(tutor)
    levels = p["levels"]
    runs = FIRST_CHUNK_RUNS // (3 if quick else 1)
    askers = -(-runs // ASKS_PER_USER) + 1
    users = make_users(tutor, "api", sum(levels) + askers)  # fresh users per level: under the per-user ask limit
    tokens = [tutor.token_for(user) for user in users]
    first_users = [{"Authorization": f"Bearer {token}"} for token in tokens[-askers:]]
    headers = first_users[-1]  # one more ask, for the bytes
    try:
        log("  api: first chunk, bytes per character")
        first = _run(_first_chunks(server.url, first_users, question, runs))
        results.put("api_sse_first_chunk_ms_p50", percentile(first, 50), "ms", n=len(first),
                    method="GET /events sent → first content_chunk line read; cached answer")
        results.put("api_sse_first_chunk_ms_p99", percentile(first, 99), "ms", n=len(first))

        async def one():
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                return await _stream(http, headers, question)
        size, chars = _run(one())
        results.put("api_sse_bytes_per_text_char", size / chars, "bytes/char", stream_bytes=size, text_chars=chars)
    except Exception as error:
        results.failed("api", error)
        log(f"    failed: {error!r}")
    best, used = 0, 0
    for n in levels:
        log(f"  api: {n} concurrent SSE streams")
        try:
            gaps = _run(_level(server.url, tokens[used:used + n], question, p["window_s"]))
            used += n
            p99 = percentile(gaps, 99)
        except Exception as error:
            results.failed(f"api_sse_{n}", error)
            log(f"    failed: {error!r}")
            continue
        due = n * p["window_s"] * 1000 / max(1, tutor.settings.chunk_delay_ms)  # gaps if every stream kept pace
        log(f"    p50 {percentile(gaps, 50):.0f} ms, p99 {p99:.0f} ms over {len(gaps)} gaps ({len(gaps) / due:.0%} of due)")
        results.put(f"api_sse_{n}_gap_ms_p99", p99, "ms", streams=n, gaps=len(gaps), window_s=p["window_s"],
                    gap_ms_p50=round(percentile(gaps, 50), 1))
        # on time: p99 within 100 ms of the pace, and (nearly) every gap due was seen — not chunks in bursts
        best = n if p99 <= tutor.settings.chunk_delay_ms + 100 and len(gaps) >= 0.8 * due else best
        time.sleep(1.0)
    results.put("api_sse_streams_at_p99_100ms", best, "streams", levels=levels)
