"""Concurrent streaming sessions against ONE real ``streamlit run`` server, with protocol clients.

Each client is a websocket client that speaks Streamlit's protocol (the ``BackMsg`` / ``ForwardMsg`` protobufs
Streamlit ships) on ``/_stcore/stream``, signed in with the app's login cookie in the handshake, like a browser
tab. It opens an explanation session of a library lesson prepared through the facade, the way a link to
``/?session=<id>`` does: a ``rerun_script`` BackMsg with ``query_string="session=<id>"``. When the explanation
is finished (``script_finished``) it opens its next prepared session, so N explanations stream all the time.

Measured, in a window of W seconds that starts once every client has seen text arriving:

* the gaps between the updates a client sees while an explanation streams: from the run's first delta (the
  page being drawn) to the first *text update*, then between consecutive text updates — a text update is a
  ``delta`` with a non-empty markdown element directly inside a step container (the block whose id ends in
  ``-step_<n>``, from ``st.container(key="step_<n>")``) other than the step's ``#####`` heading. Streamlit
  coalesces queued deltas to the same element when the server falls behind, so overload shows as fewer, later
  updates, i.e. longer gaps; updates less than 10 ms apart (one flush, one frame) count as one. p50 and p99
  over all clients;
* the time from opening a session (the rerun BackMsg sent) to its first text update, p50 and p99;
* the server process's CPU (user + system seconds over the window / W, in % of one core: 200 % = both cores)
  and its peak resident memory (sampled every 0.25 s).

The load generator runs on the same 2 cores; its own CPU share is recorded in ``setup``, and so is the CPU of
everything else. A level during which other processes used more than ``OTHER_CPU_RETRY_PERCENT`` of a core
(another job on a shared machine; for the servers backend this includes Redis and PostgreSQL) is measured once
more (not with ``--quick``), and the second measurement is kept (the first one's figures are in
``setup.first_attempt``).
"""
from __future__ import annotations

import asyncio
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from core.testing.probes import load_lessons

from .common import (
    Backend,
    Results,
    StreamlitServer,
    cpu_seconds,
    machine_cpu_seconds,
    make_users,
    median,
    percentile,
    rss_bytes,
)

COOKIE = "tutor_token"
OTHER_CPU_RETRY_PERCENT = 50.0  # a level measured while other processes used more than this is measured again
SAME_UPDATE_S = 0.010  # text updates closer than this arrived in one flush: the reader sees one change
EXPECTED_EXPLANATION_S = 1.2  # lower bound of one lesson at the default pacing; sizes how many sessions to prepare


def parameters(quick: bool) -> dict:
    return {"levels": [10] if quick else [10, 50, 100], "window_s": 4.0 if quick else 15.0,
            "retry_when_other_cpu_percent_above": None if quick else OTHER_CPU_RETRY_PERCENT,
            "ramp_s_per_client": 0.03, "settle_s": 1.0, "drain_timeout_s": 30.0}


@dataclass
class _Run:
    """One page run of one client: what it received, for classification afterwards."""

    started: float  # when the rerun BackMsg was sent
    first_delta_at: float | None = None
    step_blocks: set = field(default_factory=set)  # delta paths of the step containers (keys step_1, step_2, …)
    deltas: list[tuple[float, tuple, int, str]] = field(default_factory=list)  # markdown: (time, path, len, body)
    finished: bool = False


@dataclass
class _Client:
    token: str
    sessions: list[str]
    runs: list[_Run] = field(default_factory=list)
    current: str | None = None
    first_text_at: float | None = None
    error: str | None = None
    bytes_received: int = 0
    messages: int = 0


_STEP_BLOCK = re.compile(r"-step_\d+$")


def is_text_update(run: _Run, path: tuple, body: str) -> bool:
    """A delta that shows a step's text: a non-empty markdown element directly inside a step container that is
    not the step's heading (``##### n. title``)."""
    return bool(body) and path[:-1] in run.step_blocks and not body.startswith("#####")


def text_update_times(run: _Run) -> list[float]:
    return sorted(at for at, path, _, body in run.deltas if is_text_update(run, path, body))


def update_gaps(run: _Run, start: float, end: float) -> list[float]:
    """Gaps (s) between the updates a client saw in one run, within [start, end]: from the run's first delta (the
    page being drawn) to its first text update, then between consecutive text updates. Streamlit coalesces queued
    deltas to one element when the server falls behind, so a slow server shows here as fewer, later updates;
    updates that arrive less than ``SAME_UPDATE_S`` apart (one flush of the queue, drawn in one frame) count once."""
    times = text_update_times(run)
    if not times:
        return []
    if run.first_delta_at is not None:
        times = [run.first_delta_at] + times
    seen: list[float] = []
    for t in times:
        if start <= t <= end and (not seen or t - seen[-1] >= SAME_UPDATE_S):
            seen.append(t)
    return [b - a for a, b in zip(seen, seen[1:])]


async def _client(url: str, client: _Client, stop: asyncio.Event, started: Callable[[], None]) -> None:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        async with connect(ws_url, subprotocols=["streamlit"],
                           additional_headers={"Cookie": f"{COOKIE}={client.token}"},
                           max_size=None, proxy=None, open_timeout=60, ping_interval=None) as ws:
            for session_id in client.sessions:
                if stop.is_set():
                    break
                client.current = session_id
                back = BackMsg()
                back.rerun_script.query_string = f"session={session_id}"
                back.rerun_script.page_name = ""
                run = _Run(started=time.monotonic())
                client.runs.append(run)
                await ws.send(back.SerializeToString())
                while True:
                    raw = await ws.recv()
                    now = time.monotonic()
                    client.bytes_received += len(raw)
                    client.messages += 1
                    msg = ForwardMsg()
                    msg.ParseFromString(raw)
                    kind = msg.WhichOneof("type")
                    if kind == "delta":
                        if run.first_delta_at is None:
                            run.first_delta_at = now
                        path = tuple(msg.metadata.delta_path)
                        delta_kind = msg.delta.WhichOneof("type")
                        if delta_kind == "add_block" and _STEP_BLOCK.search(msg.delta.add_block.id):
                            run.step_blocks.add(path)
                        element = msg.delta.new_element if delta_kind == "new_element" else None
                        if element is not None and element.WhichOneof("type") == "markdown":
                            body = element.markdown.body
                            run.deltas.append((now, path, len(body), body))
                            if client.first_text_at is None and is_text_update(run, path, body):
                                client.first_text_at = now  # text is streaming in for this client
                                started()
                        elif element is not None and element.WhichOneof("type") == "exception":
                            client.error = element.exception.message[:300]
                    elif kind == "script_finished":
                        run.finished = True
                        break
            client.current = None
    except Exception as error:  # recorded; the benchmark reports how many clients failed
        client.error = f"{type(error).__name__}: {error}"[:300]
    finally:
        started()


def _measure_level(server: StreamlitServer, tutor, n: int, p: dict, log: Callable[[str], None],
                   attempt: int = 1) -> dict:
    lessons = load_lessons()
    users = make_users(tutor, f"load{n}a{attempt}u", n)
    per_client = math.ceil(p["window_s"] / EXPECTED_EXPLANATION_S) + 3
    clients = []
    prepared = time.monotonic()
    for i, user in enumerate(users):
        identity = tutor.identity_of(user)
        sessions = []
        for j in range(per_client):
            lesson = lessons[(i * 7 + j) % len(lessons)]
            sessions.append(tutor.ask(identity, lesson.question.text, language=lesson.question.language)["id"])
        clients.append((identity, _Client(token=tutor.token_for(user), sessions=sessions)))
    log(f"    {n} sessions: prepared {n * per_client} explanations in {time.monotonic() - prepared:.1f} s")

    window: dict[str, float] = {}
    rss: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.25):
            try:
                rss.append(rss_bytes(server.pid))
            except Exception:
                pass

    async def main() -> None:
        stop = asyncio.Event()
        everyone = asyncio.Event()
        waiting = {"n": n}

        def started() -> None:
            waiting["n"] -= 1
            if waiting["n"] <= 0:
                everyone.set()

        tasks = []
        for index, (_, client) in enumerate(clients):
            tasks.append(asyncio.create_task(_client(server.url, client, stop, _once(started))))
            await asyncio.sleep(p["ramp_s_per_client"])
        try:
            await asyncio.wait_for(everyone.wait(), timeout=60)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(p["settle_s"])
        window["start"], window["cpu0"], window["self0"] = time.monotonic(), cpu_seconds(server.pid), _self_cpu()
        window["all0"] = machine_cpu_seconds()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        await asyncio.sleep(p["window_s"])
        window["end"], window["cpu1"], window["self1"] = time.monotonic(), cpu_seconds(server.pid), _self_cpu()
        window["all1"] = machine_cpu_seconds()
        sampling.set()
        stop.set()
        # Stop the explanations still streaming, so the next level starts on an idle server.
        loop = asyncio.get_running_loop()
        for identity, client in clients:
            if client.current:
                await loop.run_in_executor(None, _pause_quietly, tutor, identity, client.current)
        done, pending = await asyncio.wait(tasks, timeout=p["drain_timeout_s"])
        for task in pending:
            task.cancel()

    _run_in_thread(main)
    start, end = window["start"], window["end"]
    gaps: list[float] = []
    first_text: list[float] = []
    updates = completed = 0
    for _, client in clients:
        for run in client.runs:
            times = text_update_times(run)
            updates += sum(1 for t in times if start <= t <= end)
            gaps.extend(gap * 1000 for gap in update_gaps(run, start, end))
            if times and start <= run.started <= end:
                first_text.append((times[0] - run.started) * 1000)
            completed += 1 if run.finished and run.deltas and start <= run.deltas[-1][0] <= end else 0
    errors = [c.error for _, c in clients if c.error]
    out_of_sessions = sum(1 for _, c in clients if len(c.runs) == len(c.sessions) and c.runs[-1].finished
                          and c.runs[-1].deltas and c.runs[-1].deltas[-1][0] < end)
    if len(gaps) < 10:
        raise RuntimeError(f"{n} sessions: too few updates measured ({len(gaps)} gaps); errors: {errors[:3]}")
    seconds = end - start
    if not first_text:
        raise RuntimeError(f"{n} sessions: no explanation opened and showing text within the window")
    return {
        "gap_ms_p50": median(gaps), "gap_ms_p99": percentile(gaps, 99), "gap_ms_max": max(gaps),
        "first_text_ms_p50": median(first_text), "first_text_ms_p99": percentile(first_text, 99),
        "other_cpu_percent": ((window["all1"] - window["all0"]) - (window["cpu1"] - window["cpu0"])
                              - (window["self1"] - window["self0"])) / seconds * 100,
        "server_cpu_percent": (window["cpu1"] - window["cpu0"]) / seconds * 100,
        "server_rss_mb": max(rss) / 2**20 if rss else rss_bytes(server.pid) / 2**20,
        "setup": {
            "sessions": n, "clients": "websocket clients speaking Streamlit's protocol (asyncio, one process)",
            "window_s": round(seconds, 2), "gaps": len(gaps), "text_updates": updates,
            "text_updates_per_s": round(updates / seconds, 1), "explanations_finished_in_window": completed,
            "explanations_prepared": n * per_client, "clients_out_of_sessions_before_the_end": out_of_sessions,
            "clients_with_errors": len(errors), "errors": errors[:3],
            "gap_ms_max": round(max(gaps), 1),
            "first_text_runs": len(first_text),
            "same_update_ms": SAME_UPDATE_S * 1000,
            "load_generator_cpu_percent": round((window["self1"] - window["self0"]) / seconds * 100, 1),
            "machine_cpu_percent": round((window["all1"] - window["all0"]) / seconds * 100, 1),
            "other_processes_cpu_percent": round(((window["all1"] - window["all0"]) - (window["cpu1"] - window["cpu0"])
                                                  - (window["self1"] - window["self0"])) / seconds * 100, 1),
            "other_processes_note": "machine CPU minus the streamlit server and the load generator: Redis and "
                                    "PostgreSQL for the servers backend, plus anything else running",
            "ramp_s": round(n * p["ramp_s_per_client"], 2), "settle_s": p["settle_s"],
            "chunk_size": tutor.settings.chunk_size, "chunk_delay_ms": tutor.settings.chunk_delay_ms,
            "lessons": "library lessons, client i opens lessons[(7 i + j) % 35] for j = 0, 1, …",
        },
    }


def _run_in_thread(coroutine_function) -> None:
    """asyncio.run in a thread of its own (Playwright's sync API keeps an event loop in the main thread)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine_function())
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=target, name="load-clients")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _once(callback: Callable[[], None]) -> Callable[[], None]:
    called = []

    def call() -> None:
        if not called:
            called.append(True)
            callback()
    return call


def _pause_quietly(tutor, identity, session_id: str) -> None:
    try:
        tutor.pause(identity, session_id)
    except Exception:
        pass


def _self_cpu() -> float:
    return cpu_seconds(os.getpid())


def run(backend: Backend, server: StreamlitServer, tutor, results: Results, quick: bool,
        log: Callable[[str], None]) -> None:
    p = parameters(quick)
    for n in p["levels"]:
        log(f"  load: {n} concurrent sessions")
        try:
            level = _measure_level(server, tutor, n, p, log)
            limit = p["retry_when_other_cpu_percent_above"]
            if limit is not None and level["other_cpu_percent"] > limit:  # something else ran on the machine: again
                log(f"    other processes used {level['other_cpu_percent']:.0f} % of a core: measuring again")
                time.sleep(5.0)
                again = _measure_level(server, tutor, n, p, log, attempt=2)
                again["setup"]["first_attempt"] = {k: round(level[k], 1) for k in (
                    "gap_ms_p50", "gap_ms_p99", "other_cpu_percent")}
                level = again
        except Exception as error:
            results.failed(f"sessions_{n}", error)
            log(f"    failed: {error!r}")
            continue
        setup = level["setup"]
        results.put(f"sessions_{n}_gap_ms_p50", level["gap_ms_p50"], "ms", **setup)
        results.put(f"sessions_{n}_gap_ms_p99", level["gap_ms_p99"], "ms", **setup)
        first_text = dict(sessions=n, window_s=setup["window_s"], n=setup["first_text_runs"],
                          method="rerun BackMsg sent (the client opens ?session=<id>) → the first text update of "
                                 "that run, for runs opened inside the window")
        results.put(f"sessions_{n}_first_text_ms_p50", level["first_text_ms_p50"], "ms", **first_text)
        results.put(f"sessions_{n}_first_text_ms_p99", level["first_text_ms_p99"], "ms", **first_text)
        results.put(f"sessions_{n}_server_cpu_percent", level["server_cpu_percent"], "% of one core",
                    sessions=n, window_s=setup["window_s"], method="(user+system CPU seconds of the streamlit "
                    "process over the window) / window; 200 % = both cores")
        results.put(f"sessions_{n}_server_rss_mb", level["server_rss_mb"], "MiB", sessions=n,
                    window_s=setup["window_s"], method="peak RSS of the streamlit process, sampled every 0.25 s "
                    "in the window")
        time.sleep(1.0)
