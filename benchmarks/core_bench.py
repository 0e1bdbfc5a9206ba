"""Benchmarks of ``core`` through the facade: cached first chunk, uncached first chunk vs generation, pause,
single-flight (threads and processes), and reworded questions (``match_bench``).

The provider is ``core.testing.fakeai.FakeAI`` on loopback, driven by the real ``openai`` SDK. Two fakes per backend:

* the *paced* one (``UNCACHED_TPS`` tokens/s, ``chars_per_token=4``, a ``UNCACHED_STEPS``-step answer) for
  ``uncached_first_chunk_ratio``;
* the *gated* one (no pacing) for single-flight: its reply is held back until every one of the N askers has an
  explanation session in the database (at most ``GATE_TIMEOUT_S``), so all N asks certainly overlap the one
  generation — any second provider call would show.
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from typing import Callable

import sqlalchemy as sa

from core.testing.fakeai import FakeAI, build_answer
from core.testing.probes import db, load_lessons, prepare

from . import match_bench
from .common import SEED, Backend, Results, make_users, median, percentile

UNCACHED_TPS = 100
UNCACHED_STEPS = 5
GATE_TIMEOUT_S = 60.0
AI_TIMEOUT_S = "120"  # TUTOR_AI_TIMEOUT for the benchmark tutors: longer than the gate, so a held reply never times out
UNCACHED_QUESTIONS = (
    "¿Cómo se calcula el área de un trapecio de bases 7 cm y 3 cm y altura 4 cm?",
    "¿Cuánto tarda en caer una piedra desde 45 m de altura sin rozamiento?",
    "¿Cuál es la pendiente de la recta que pasa por (1, 2) y (4, 11)?",
    "¿Cómo se resuelve la ecuación 3x - 7 = 2x + 5 paso a paso?",
    "¿Qué aceleración tiene un coche que pasa de 0 a 27 m/s en 9 s?",
)
SINGLEFLIGHT_THREADS_QUESTION = "¿Cuántas diagonales tiene un polígono convexo de 12 lados? (hilos)"
SINGLEFLIGHT_PROCESSES_QUESTION = "¿Cuántas diagonales tiene un polígono convexo de 12 lados? (procesos)"


def parameters(quick: bool) -> dict:
    return {
        "cached_asks": 40 if quick else 200,
        "cached_users": 4 if quick else 20,
        "cached_warmup_asks": 3,
        "uncached_runs": 1 if quick else 3,
        "pause_trials": 2 if quick else 5,
        "singleflight_threads": 20,
        "singleflight_processes": 4 if quick else 20,
    }


# --- the fakes -----------------------------------------------------------------------------------------------------

class TimedFakeAI(FakeAI):
    """A FakeAI that also notes, per request, when it arrived and when ``data: [DONE]`` was written (the
    generation's total from the provider's side). It swaps in a subclass of fakeai's request handler, the one
    place this reaches into fakeai's internals; without it the log's ``done`` entry is used (see ``setup``)."""

    def start(self) -> "TimedFakeAI":
        super().start()
        self.timings: list[dict] = []
        self.timed = False
        server = getattr(self, "_server", None)
        handler = getattr(server, "RequestHandlerClass", None)
        if handler is not None and hasattr(handler, "_send_chunk") and hasattr(handler, "do_POST"):
            server.RequestHandlerClass = _timed_handler(handler, self)
            self.timed = True
        return self

    def timing_for(self, question: str) -> dict | None:
        return next((t for t in reversed(self.timings) if t.get("question") == question and "done_at" in t), None)

    def calls_for(self, question: str) -> int:
        from core.testing.fakeai import last_user_text
        return sum(1 for body in list(self.calls) if last_user_text(body.get("messages") or []) == question)


_current = threading.local()


def _timed_handler(base, fake: TimedFakeAI):
    class Timed(base):
        def do_POST(self):
            _current.timing = {"request_at": time.monotonic()}
            fake.timings.append(_current.timing)
            try:
                super().do_POST()
            finally:
                _current.timing = None

        def _send_chunk(self, data: bytes) -> None:
            super()._send_chunk(data)
            timing = getattr(_current, "timing", None)
            if timing is not None and data.startswith(b"data: [DONE]"):
                timing["done_at"] = time.monotonic()

    return Timed


def _noting_question(answer_for: Callable[[str], dict]) -> Callable[[str], dict]:
    def answer(question: str) -> dict:
        timing = getattr(_current, "timing", None)
        if timing is not None:
            timing["question"] = question
        return answer_for(question)
    return answer


class Gate:
    """Holds the reply to a question until ``count`` sessions for it exist in the database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.waiting: dict[str, tuple[str, int]] = {}
        self.released: dict[str, dict] = {}

    def expect(self, question: str, count: int) -> None:
        self.waiting[question] = (prepare(question, language="es", limit=1000).hash, count)

    def answer_for(self, question: str) -> dict:
        if question in self.waiting:
            question_hash, count = self.waiting[question]
            started, seen = time.monotonic(), 0
            while time.monotonic() - started < GATE_TIMEOUT_S:
                seen = self._sessions(question_hash)
                if seen >= count:
                    break
                time.sleep(0.02)
            self.released[question] = {"sessions_when_released": seen, "held_s": round(time.monotonic() - started, 2)}
        return build_answer(question, steps=UNCACHED_STEPS)

    def _sessions(self, question_hash: str) -> int:
        t = db.tutor_sessions
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.question_hash == question_hash))
                       .scalar())


# --- the benchmarks ------------------------------------------------------------------------------------------------

def run(backend: Backend, results: Results, quick: bool, log: Callable[[str], None]) -> None:
    p = parameters(quick)
    paced = TimedFakeAI(tokens_per_second=UNCACHED_TPS,
                        answer_for=_noting_question(lambda q: build_answer(q, steps=UNCACHED_STEPS))).start()
    tutor = backend.tutor(OPENAI_BASE_URL=paced.base_url, OPENAI_API_KEY="test", TUTOR_AI_TIMEOUT=AI_TIMEOUT_S)
    try:
        for name, bench in (("cached_first_chunk", lambda: cached_first_chunk(tutor, results, p)),
                            ("uncached_first_chunk_ratio", lambda: uncached_ratio(tutor, paced, results, p)),
                            ("pause_chunks_after", lambda: pause_chunks_after(tutor, results, p)),
                            ("singleflight", lambda: singleflight(backend, tutor, results, p)),
                            ("paraphrase", lambda: match_bench.paraphrase(tutor, results))):
            log(f"  core: {name}")
            try:
                bench()
            except Exception as error:  # one broken benchmark must not lose the others
                results.failed(name, error)
                log(f"    failed: {error!r}")
    finally:
        tutor.close()
        paced.stop()


def cached_first_chunk(tutor, results: Results, p: dict) -> None:
    """ask → first content_chunk for library lessons, asked one after another by several users."""
    lessons = load_lessons()
    users = [tutor.identity_of(u) for u in make_users(tutor, "cached", p["cached_users"])]
    warm = tutor.identity_of(make_users(tutor, "warm", 1)[0])
    plan = [(lessons[i % len(lessons)], users[i % len(users)]) for i in range(p["cached_asks"])]
    random.Random(SEED).shuffle(plan)
    for lesson in lessons[:p["cached_warmup_asks"]]:
        _first_chunk(tutor, warm, lesson)
    totals, asks = [], []
    for lesson, identity in plan:
        total, ask = _first_chunk(tutor, identity, lesson)
        totals.append(total)
        asks.append(ask)
    setup = dict(n=len(totals), users=len(users), lessons=len(lessons), seed=SEED,
                 warmup_asks=p["cached_warmup_asks"], order="sequential, shuffled (lesson, user) pairs",
                 chunk_size=tutor.settings.chunk_size, chunk_delay_ms=tutor.settings.chunk_delay_ms,
                 rate_limit=str(tutor.settings.rate_ask_student),
                 ask_ms_p50=round(median(asks), 2), ask_ms_p99=round(percentile(asks, 99), 2),
                 max_ms=round(max(totals), 2),
                 method="perf_counter before tutor.ask(...) to the first content_chunk yielded by tutor.stream(...)")
    results.put("cached_first_chunk_ms_p50", median(totals), "ms", **setup)
    results.put("cached_first_chunk_ms_p99", percentile(totals, 99), "ms", **setup)


def _first_chunk(tutor, identity, lesson) -> tuple[float, float]:
    started = time.perf_counter()
    state = tutor.ask(identity, lesson.question.text, language=lesson.question.language)
    asked = time.perf_counter()
    events = tutor.stream(identity, state["id"])
    try:
        for item in events:
            if item["event"] == "content_chunk":
                break
            if item["event"] == "error":
                raise RuntimeError(f"stream error: {item['data']}")
        else:
            raise RuntimeError("the stream ended without a content_chunk")
    finally:
        events.close()
    done = time.perf_counter()
    return (done - started) * 1000, (asked - started) * 1000


def uncached_ratio(tutor, fake: TimedFakeAI, results: Results, p: dict) -> None:
    """First content_chunk of an answer still being generated, over the provider's whole generation time."""
    identity = tutor.identity_of(make_users(tutor, "uncached", 1)[0])
    runs = []
    for question in UNCACHED_QUESTIONS[:p["uncached_runs"]]:
        started = time.monotonic()
        state = tutor.ask(identity, question, language="es")
        if not state.get("generation_id"):
            raise RuntimeError(f"{question!r} was not generated (cached already?)")
        done_in_log: dict = {}
        watcher = threading.Thread(target=_watch_log, args=(tutor.store, state["generation_id"], done_in_log),
                                   daemon=True)
        watcher.start()
        first = None
        for item in tutor.stream(identity, state["id"]):
            if item["event"] == "content_chunk" and first is None:
                first = time.monotonic()
            if item["event"] == "error":
                raise RuntimeError(f"stream error: {item['data']}")
        tutor.generations.wait(60)
        watcher.join(60)
        if first is None or "at" not in done_in_log:
            raise RuntimeError("no first chunk or no done entry")
        timing = fake.timing_for(question)
        run = {"question": question, "first_chunk_ms": round((first - started) * 1000, 1),
               "ask_to_log_done_ms": round((done_in_log["at"] - started) * 1000, 1)}
        if timing is not None:
            run["provider_request_to_done_ms"] = round((timing["done_at"] - timing["request_at"]) * 1000, 1)
            run["ratio"] = (first - started) / (timing["done_at"] - timing["request_at"])
            run["source"] = "fake: request arrival → [DONE] written"
        else:
            run["ratio"] = (first - started) / (done_in_log["at"] - started)
            run["source"] = "log: ask → done entry"
        run["ratio"] = round(run["ratio"], 4)
        runs.append(run)
    answer = build_answer(UNCACHED_QUESTIONS[0], steps=UNCACHED_STEPS)
    results.put("uncached_first_chunk_ratio", median([r["ratio"] for r in runs]), "ratio",
                runs=runs, n=len(runs), tokens_per_second=UNCACHED_TPS, chars_per_token=fake.chars_per_token,
                steps=UNCACHED_STEPS, answer_json_chars=len(json.dumps(answer, ensure_ascii=False)),
                statistic="median over runs",
                method="(ask → first content_chunk) / (provider's request arrival → its data: [DONE]); "
                       "the numerator also includes the SDK's request set-up, so the ratio is if anything high")


def _watch_log(store, log_id: str, out: dict) -> None:
    seen, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline:
        for seq, entry in store.read(log_id, seen, 200):
            seen = seq
            if entry["type"] in ("done", "error"):
                out["at"], out["type"] = time.monotonic(), entry["type"]
                return


def pause_chunks_after(tutor, results: Results, p: dict) -> None:
    """Pause from another thread while streaming at the default pacing; count chunks that arrive afterwards."""
    lessons = [l for l in load_lessons() if l.question.language == "es"]
    identity = tutor.identity_of(make_users(tutor, "pause", 1)[0])
    trials = []
    for trial in range(p["pause_trials"]):
        lesson = lessons[trial % len(lessons)]
        pause_after = 3 + 2 * trial  # pause at a different point each time
        state = tutor.ask(identity, lesson.question.text, language="es")
        events: list[dict] = []
        reached = threading.Event()

        def consume() -> None:
            chunks = 0
            for item in tutor.stream(identity, state["id"]):
                events.append(item)
                if item["event"] == "content_chunk":
                    chunks += 1
                    if chunks == pause_after:
                        reached.set()
            reached.set()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        if not reached.wait(30):
            raise RuntimeError("the stream did not start")
        asked = time.perf_counter()
        paused = tutor.pause(identity, state["id"])
        returned = time.perf_counter()
        seen_at_return = len(events)
        reader.join(30)
        after = [e for e in events[seen_at_return:] if e["event"] == "content_chunk"]
        beyond = [e for e in events if e["event"] == "content_chunk" and e["data"]["position"] > paused["position"]]
        trials.append({"lesson": lesson.name, "paused_after_chunks": pause_after,
                       "chunks_after_pause_returned": len(after), "chunks_beyond_paused_position": len(beyond),
                       "paused_position": paused["position"], "pause_call_ms": round((returned - asked) * 1000, 2),
                       "last_event": events[-1]["event"] if events else None})
    results.put("pause_chunks_after", sum(t["chunks_after_pause_returned"] for t in trials), "chunks",
                trials=trials, n=len(trials), chunk_size=tutor.settings.chunk_size,
                chunk_delay_ms=tutor.settings.chunk_delay_ms, statistic="sum over trials (expected 0)",
                method="a reader thread iterates tutor.stream; the main thread calls tutor.pause after the k-th "
                       "chunk; content_chunk events the reader received after pause() returned are counted")


def singleflight(backend: Backend, tutor, results: Results, p: dict) -> None:
    """N concurrent asks of one uncached question → provider calls: threads in this process, then processes."""
    gate = Gate(tutor.engine)
    fake = TimedFakeAI(answer_for=_noting_question(gate.answer_for)).start()
    settings = dict(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="test", TUTOR_AI_TIMEOUT=AI_TIMEOUT_S)
    asker = backend.tutor(**settings)
    try:
        threads_calls, threads_setup = _singleflight_threads(asker, fake, gate, p["singleflight_threads"])
        results.put("singleflight_provider_calls_threads", threads_calls, "calls", **threads_setup)
        procs_calls, procs_setup = _singleflight_processes(backend, asker, fake, gate, p["singleflight_processes"],
                                                           settings)
        results.put("singleflight_provider_calls_processes", procs_calls, "calls", **procs_setup)
        results.put("singleflight_provider_calls", max(threads_calls, procs_calls), "calls",
                    threads=threads_calls, processes=procs_calls,
                    statistic="the larger of the threads and the processes measurement (expected 1)")
    finally:
        asker.close()
        fake.stop()


def _singleflight_threads(tutor, fake: TimedFakeAI, gate: Gate, n: int) -> tuple[int, dict]:
    question = SINGLEFLIGHT_THREADS_QUESTION
    users = [tutor.identity_of(u) for u in make_users(tutor, "sfthread", n)]
    gate.expect(question, n)
    barrier = threading.Barrier(n)
    states: list[dict] = []
    failures: list[str] = []

    def ask(identity) -> None:
        barrier.wait(30)
        try:
            states.append(tutor.ask(identity, question, language="es"))
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=ask, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tutor.generations.wait(120)
    if failures:
        raise RuntimeError(f"asks failed: {failures[:3]}")
    cached = tutor.cache.lookup(prepare(question, language="es", limit=1000).hash)
    return fake.calls_for(question), {
        "n": n, "asks_ok": len(states), "followed_one_generation": len({s["generation_id"] for s in states}) == 1,
        "asks_on_the_generation": sum(1 for s in states if s.get("generation_id")), "answer_cached": bool(cached),
        **gate.released.get(question, {}),
        "method": f"{n} threads (one user each) released by a barrier call tutor.ask on one uncached question; "
                  "the fake holds its reply until all asks have a session; provider calls counted by the fake"}


def _singleflight_processes(backend: Backend, tutor, fake: TimedFakeAI, gate: Gate, n: int,
                            settings: dict) -> tuple[int, dict]:
    question = SINGLEFLIGHT_PROCESSES_QUESTION
    users = make_users(tutor, "sfproc", n)
    gate.expect(question, n)
    env = backend.environ(**settings, TUTOR_CHUNK_DELAY_MS="0")
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-m", "core", "ask", question, "--user", u.email, "--json"],
                                  cwd=backend.data_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for u in users]
    outputs = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        outputs.append((process.returncode, out, err))
    events = [[json.loads(line) for line in out.splitlines() if line.startswith("{")] for _, out, _ in outputs]
    followed = sum(1 for evs in events for e in evs
                   if e["event"] == "explanation_start" and e["data"].get("total_steps") is None)
    completed = sum(1 for evs in events if any(e["event"] == "explanation_complete" for e in evs))
    failed = [(code, err.strip()[-300:]) for code, _, err in outputs if code != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {n} processes failed: {failed[:2]}")
    return fake.calls_for(question), {
        "n": n, "exit_0": sum(1 for code, _, _ in outputs if code == 0), "completed": completed,
        "asks_on_the_generation": followed, "wall_s": round(time.monotonic() - started, 1),
        **gate.released.get(question, {}),
        "method": f"{n} processes `python -m core ask QUESTION --user U --json` started at once (one user each, "
                  "TUTOR_CHUNK_DELAY_MS=0, shared database and session store); the fake holds its reply until "
                  "all asks have a session; provider calls counted by the fake"}
