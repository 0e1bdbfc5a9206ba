"""Concurrent live sessions streaming from ONE real ``streamlit run`` server through the API's SSE route.

Each client is what the live explanation view consumes: ``GET /api/v1/sessions/{id}/events`` (``text/event-stream``,
bearer token), read with ``httpx`` + ``httpx-sse``. It follows an explanation of a library lesson (a cached answer,
prepared through the facade), and when that one ends opens its next one, so N explanations stream all the time at
the app's default reading pace (``TUTOR_CHUNK_SIZE`` / ``TUTOR_CHUNK_DELAY_MS``). The clients run in one asyncio
process below 100 sessions and in two from 100 on, so the load generator is not the bottleneck (its CPU is
recorded). Levels start one after another on the same server; clients connect over a ramp, then a window of W
seconds is measured:

* the gaps between consecutive ``content_chunk`` events of one stream, both inside the window (the pace itself is
  ``TUTOR_CHUNK_DELAY_MS``: ``setup.late_ms_p99`` is the p99 gap minus the pace), p50 and p99 over all streams;
* the time from sending the GET to its first ``content_chunk``, for streams opened inside the window;
* the server process's CPU over the window (% of one core) and per text update (CPU ms / ``content_chunk`` events
  received in the window), its peak RSS (sampled every 0.25 s) and, per session, (peak RSS − RSS of the idle
  server before the level) / N.

``python -m benchmarks.load_bench [--quick] [--levels 10,200] [--backend embedded|servers]`` runs only this.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

from core.testing.probes import load_lessons

from .common import (
    Backend,
    Results,
    StreamlitServer,
    backend,
    cpu_seconds,
    machine_cpu_seconds,
    make_users,
    median,
    percentile,
    rss_bytes,
)

LEVELS = (10, 50, 100, 200, 400)
TWO_PROCESSES_FROM = 100  # sessions from which the clients run in two processes
SESSIONS_PER_CLIENT = 2  # a lesson lasts 18–33 s at the default pace: one more in case the first ends
PER_UPDATE_LEVEL = 200  # the level whose CPU per update and RSS per session are the keys (else the largest)
ENDS = ("explanation_complete", "streaming_paused", "error", "taken_over")


def parameters(quick: bool) -> dict:
    return {"levels": [10] if quick else list(LEVELS), "window_s": 4.0 if quick else 15.0,
            "ramp_s_per_client": 0.02, "settle_s": 2.0, "start_lead_s": 3.0,
            "client": "httpx.AsyncClient + httpx-sse, bearer token; one process below "
                      f"{TWO_PROCESSES_FROM} sessions, two from {TWO_PROCESSES_FROM} on",
            "lessons": "library lessons (cached answers), client i opens lessons[(7 i + j) % 35] for j = 0, 1"}


# --- the clients (in their own processes) ---------------------------------------------------------------------------

async def _follow(http, token: str, sessions: list[str], start_at: float, runs: list) -> None:
    from httpx_sse import aconnect_sse
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    headers = {"Authorization": f"Bearer {token}"}
    for session_id in sessions:
        run = {"sent": time.monotonic(), "chunks": [], "error": None}
        runs.append(run)
        try:
            async with aconnect_sse(http, "GET", f"/api/v1/sessions/{session_id}/events", headers=headers) as source:
                if source.response.status_code != 200:
                    run["error"] = f"HTTP {source.response.status_code}"
                    continue
                async for message in source.aiter_sse():
                    if message.event == "content_chunk":
                        run["chunks"].append(time.monotonic())
                    elif message.event in ENDS:
                        break
        except Exception as error:  # recorded; the benchmark reports how many runs failed
            run["error"] = f"{type(error).__name__}: {error}"[:300]


async def _clients(url: str, clients: list[tuple[str, list[str], float]], window: tuple[float, float]) -> dict:
    import httpx
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    runs: list[list] = [[] for _ in clients]
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(60, read=None)) as http:
        tasks = [asyncio.create_task(_follow(http, token, sessions, start_at, runs[i]))
                 for i, (token, sessions, start_at) in enumerate(clients)]
        await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
        cpu0 = cpu_seconds_of_self()
        await asyncio.sleep(max(0.0, window[1] - time.monotonic()))
        cpu1 = cpu_seconds_of_self()
        for task in tasks:
            task.cancel()  # the client leaves: the server cancels its reader
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"runs": runs, "cpu_s": cpu1 - cpu0}


def cpu_seconds_of_self() -> float:
    import os
    return cpu_seconds(os.getpid())


def _client_process(url: str, clients: list, window: tuple[float, float]) -> dict:
    return asyncio.run(_clients(url, clients, window))


# --- one level -------------------------------------------------------------------------------------------------------

def _prepare(tutor, n: int, attempt: int) -> list[tuple[str, list[str]]]:
    lessons = load_lessons()
    clients = []
    for i, user in enumerate(make_users(tutor, f"load{n}a{attempt}u", n)):
        identity = tutor.identity_of(user)
        sessions = [tutor.ask(identity, lesson.question.text, language=lesson.question.language)["id"]
                    for lesson in (lessons[(i * 7 + j) % len(lessons)] for j in range(SESSIONS_PER_CLIENT))]
        clients.append((tutor.token_for(user), sessions))
    return clients


def _measure_level(server: StreamlitServer, tutor, n: int, p: dict, log: Callable[[str], None],
                   attempt: int = 1) -> dict:
    prepared = time.monotonic()
    clients = _prepare(tutor, n, attempt)
    log(f"    {n} sessions: prepared {n * SESSIONS_PER_CLIENT} explanations in {time.monotonic() - prepared:.1f} s")
    idle_rss = rss_bytes(server.pid)
    start = time.monotonic() + p["start_lead_s"]
    begin = start + n * p["ramp_s_per_client"] + p["settle_s"]
    window = (begin, begin + p["window_s"])
    processes = 2 if n >= TWO_PROCESSES_FROM else 1
    shares = [[(token, sessions, start + i * p["ramp_s_per_client"])
               for i, (token, sessions) in enumerate(clients) if i % processes == k] for k in range(processes)]
    rss: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.25):
            if window[0] <= time.monotonic() <= window[1]:
                rss.append(rss_bytes(server.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_client_process, server.url, share, window) for share in shares]
        time.sleep(max(0.0, window[0] - time.monotonic()))
        cpu0, all0 = cpu_seconds(server.pid), machine_cpu_seconds()
        time.sleep(max(0.0, window[1] - time.monotonic()))
        cpu1, all1 = cpu_seconds(server.pid), machine_cpu_seconds()
        outcomes = [f.result(timeout=120) for f in futures]
    sampling.set()
    return _figures(n, p, window, outcomes, cpu1 - cpu0, all1 - all0, idle_rss, rss, tutor)


def _figures(n, p, window, outcomes, server_cpu, machine_cpu, idle_rss, rss, tutor) -> dict:
    start, end = window
    seconds = end - start
    pace_ms = tutor.settings.chunk_delay_ms
    gaps, first_text, errors = [], [], []
    updates = runs = 0
    for outcome in outcomes:
        for client_runs in outcome["runs"]:
            for run in client_runs:
                runs += 1
                if run["error"]:
                    errors.append(run["error"])
                inside = [t for t in run["chunks"] if start <= t <= end]
                updates += len(inside)
                gaps += [(b - a) * 1000 for a, b in zip(inside, inside[1:])]
                if run["chunks"] and start <= run["sent"] <= end:
                    first_text.append((run["chunks"][0] - run["sent"]) * 1000)
    if len(gaps) < 10:
        every = [t for o in outcomes for client in o["runs"] for run in client for t in run["chunks"]]
        span = f"{min(every) - start:.1f}…{max(every) - start:.1f} s from the window's start" if every else "none"
        raise RuntimeError(f"{n} sessions: too few updates measured ({len(gaps)} gaps, {runs} runs, {len(every)} "
                           f"chunks at {span}); errors: {errors[:3]}")
    load_cpu = sum(o["cpu_s"] for o in outcomes)
    peak = max(rss) if rss else idle_rss
    return {
        "gap_ms_p50": median(gaps), "gap_ms_p99": percentile(gaps, 99),
        "first_text_ms_p50": median(first_text) if first_text else 0.0,
        "first_text_ms_p99": percentile(first_text, 99) if first_text else 0.0,
        "server_cpu_percent": server_cpu / seconds * 100,
        "server_cpu_ms_per_update": server_cpu * 1000 / max(1, updates),
        "server_rss_mb": peak / 2**20, "rss_mb_per_session": (peak - idle_rss) / 2**20 / n,
        "setup": {
            "sessions": n, "window_s": round(seconds, 2), "gaps": len(gaps), "text_updates": updates,
            "text_updates_per_s": round(updates / seconds, 1), "runs": runs, "runs_with_errors": len(errors),
            "errors": errors[:3], "gap_ms_max": round(max(gaps), 1),
            "late_ms_p99": round(percentile(gaps, 99) - pace_ms, 1), "first_text_runs": len(first_text),
            "chunk_size": tutor.settings.chunk_size, "chunk_delay_ms": pace_ms,
            "client_processes": len(outcomes),
            "load_generator_cpu_percent": round(load_cpu / seconds * 100, 1),
            "machine_cpu_percent": round(machine_cpu / seconds * 100, 1),
            "other_processes_cpu_percent": round((machine_cpu - server_cpu - load_cpu) / seconds * 100, 1),
            "server_idle_rss_mb": round(idle_rss / 2**20, 1),
            "ramp_s": round(n * p["ramp_s_per_client"], 2), "settle_s": p["settle_s"],
            "route": "GET /api/v1/sessions/{id}/events (SSE), Authorization: Bearer",
        },
    }


def _warm_up(server: StreamlitServer, timeout: float = 180) -> None:
    """Wait until the server's API answers: the app builds its tutor (the lesson matcher's index) on the first
    API request, which is no part of streaming."""
    import httpx
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{server.url}/api/v1/health", timeout=timeout).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not answer /api/v1/health")
        time.sleep(0.5)


def run(backend: Backend, server: StreamlitServer, tutor, results: Results, quick: bool,
        log: Callable[[str], None]) -> None:
    p = parameters(quick)
    _warm_up(server)
    measured = {}
    for n in p["levels"]:
        log(f"  load: {n} concurrent SSE sessions")
        try:
            level = _measure_level(server, tutor, n, p, log)
        except Exception as error:
            results.failed(f"sessions_{n}", error)
            log(f"    failed: {error!r}")
            continue
        measured[n] = level
        setup = level["setup"]
        log(f"    gap p50/p99 {level['gap_ms_p50']:.0f}/{level['gap_ms_p99']:.0f} ms, server "
            f"{level['server_cpu_percent']:.0f} % ({level['server_cpu_ms_per_update']:.3f} ms/update), load "
            f"{setup['load_generator_cpu_percent']} %, RSS {level['server_rss_mb']:.0f} MiB")
        results.put(f"sessions_{n}_gap_ms_p50", level["gap_ms_p50"], "ms", **setup)
        results.put(f"sessions_{n}_gap_ms_p99", level["gap_ms_p99"], "ms", **setup)
        first_text = dict(sessions=n, window_s=setup["window_s"], n=setup["first_text_runs"],
                          method="GET …/events sent → its first content_chunk, for streams opened in the window "
                                 "(0 when none was)")
        results.put(f"sessions_{n}_first_text_ms_p50", level["first_text_ms_p50"], "ms", **first_text)
        results.put(f"sessions_{n}_first_text_ms_p99", level["first_text_ms_p99"], "ms", **first_text)
        results.put(f"sessions_{n}_server_cpu_percent", level["server_cpu_percent"], "% of one core",
                    sessions=n, window_s=setup["window_s"], method="(user+system CPU seconds of the streamlit "
                    "process over the window) / window; 200 % = both cores")
        results.put(f"sessions_{n}_server_rss_mb", level["server_rss_mb"], "MiB", sessions=n,
                    window_s=setup["window_s"], method="peak RSS of the streamlit process, sampled every 0.25 s "
                    "in the window")
        time.sleep(1.0)
    if measured:
        n = PER_UPDATE_LEVEL if PER_UPDATE_LEVEL in measured else max(measured)
        level = measured[n]
        results.put("server_cpu_ms_per_update", level["server_cpu_ms_per_update"], "ms", sessions=n,
                    by_level={k: round(v["server_cpu_ms_per_update"], 3) for k, v in measured.items()},
                    method="server CPU seconds in the window / content_chunk events received in the window")
        results.put("rss_mb_per_session", level["rss_mb_per_session"], "MiB", sessions=n,
                    by_level={k: round(v["rss_mb_per_session"], 3) for k, v in measured.items()},
                    method="(peak RSS in the window − RSS of the idle server before the level) / sessions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--levels", help="comma-separated session counts (default: all)")
    parser.add_argument("--backend", choices=("embedded", "servers"), default="embedded")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    global LEVELS
    if args.levels:
        LEVELS = tuple(int(x) for x in args.levels.split(","))
    with backend(args.backend) as b:
        results = Results(b)
        tutor = b.tutor()
        try:
            with StreamlitServer(b.data_dir, b.environ()) as server:
                run(b, server, tutor, results, args.quick, log)
        finally:
            tutor.close()
    doc = {"backend": args.backend, "parameters": parameters(args.quick), "results": results.keys,
           "errors": results.errors}
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    for key, entry in results.keys.items():
        print(f"{key:40} {entry['value']:10.3f} {entry['unit']}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
