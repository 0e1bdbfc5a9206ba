"""The app in Chromium (Debian's, driven by Playwright) against a real ``streamlit run`` server.

* ``browser_first_text_ms`` — click Ask → the first words of step 1 are in the page and a frame has been drawn
  (``requestAnimationFrame`` after the ``MutationObserver`` saw them), timed in the page with
  ``performance.now()`` (the click is read by a capture listener on ``window``, before the page's own); median
  over runs, each a fresh tab asking a different library lesson. A stored answer takes the fast path: the live
  component asks the API itself and streams it, with no Streamlit rerun (the tab waits until the component's
  module has mounted, ``window.__tutorAsk``; a click before that takes the page's path).
* ``ws_bytes_per_text_char`` — in the same runs: bytes the tab received for the explanation, as Chromium counts
  them through CDP's Network domain: the response bodies on the wire of every ``/api/v1/`` request (``Network.
  dataReceived`` ``encodedDataLength``: the ask, the ``…/live`` stream with its gzip and chunked framing, any
  snapshot; not the HTTP headers, ≈ 0.2–0.3 KB a request) plus the payloads of the Streamlit websocket's frames
  (``Network.webSocketFrameReceived``; CDP gives them after permessage-deflate is undone, so this errs high),
  from the click on Ask to the ``script_finished`` of the rerun that draws the rating form, divided by the
  explanation's text length; median over runs. ``by_length`` repeats it for answers 1×, 4× and 16× as long (a
  lesson's first step, stored as a library answer of 1, 2 and 8 steps of 1 or 2 copies); ``stream_only`` is the
  ``…/live`` stream alone.
* ``browser_pause_text_after_chars`` — while an explanation streams (after 250 visible characters), click Pause;
  characters of the explanation's visible text (``innerText``) 1 s after the Resume button appeared, minus those
  at the click (read in the click handler); median over runs.

``python -m benchmarks.browser_bench`` runs these alone (see ``--help``), at ``python -m benchmarks``' browser pace.
"""
from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Callable

from core.testing.probes import chunk_text, formula_spans, load_lessons, prepare, validate_answer

from .common import CHROMIUM, Backend, Results, StreamlitServer, make_users, median

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000
PAUSE_AFTER_CHARS = 250
SETTLE_AFTER_PAUSE_S = 1.0


LENGTHS = {1: (1, 1), 4: (2, 2), 16: (8, 2)}  # × text length → (steps, copies of the unit text per step)


def parameters(quick: bool) -> dict:
    return {"first_text_runs": 1 if quick else 5, "pause_runs": 1 if quick else 3, "warmup_asks": 1,
            "length_runs": 1 if quick else 2}


def key(name: str) -> str:
    return f".st-key-{name}"


def first_words(content: str, chunk_size: int, words: int = 3) -> str:
    """A few words of the first streamed chunk that render exactly as written (no maths, no Markdown)."""
    a, b = next(chunk_text(content, chunk_size, 0))
    text = content[a:b]
    for start, end in reversed(formula_spans(text)):
        text = text[:start] + " $ " + text[end:]
    run: list[str] = []
    for word in text.split():
        if re.search(r"[$\\*_`#\[\]<>|~]", word):
            if len(run) >= 2:
                break
            run = []
            continue
        run.append(word)
        if len(run) == words:
            break
    if not run:
        raise ValueError(f"no plain words in {text!r}")
    return " ".join(run)


_INSTRUMENT_FIRST_TEXT = """
needle => {
  const b = window.__bench = {click: null, dom: null, frame: null};
  window.addEventListener('click', e => {
    if (b.click === null && e.target.closest('.st-key-ask')) b.click = performance.now();
  }, true);
  const obs = new MutationObserver(() => {
    if (b.click === null || b.dom !== null) return;
    const el = document.querySelector('.st-key-explanation');
    if (el && el.textContent.includes(needle)) {
      b.dom = performance.now();
      obs.disconnect();
      requestAnimationFrame(() => { b.frame = performance.now(); });
    }
  });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""

_INSTRUMENT_PAUSE = """
() => {
  const b = window.__bench = {chars_at_click: null};
  document.addEventListener('click', e => {
    if (b.chars_at_click === null && e.target.closest('.st-key-pause')) {
      b.chars_at_click = document.querySelector('.st-key-explanation').innerText.length;
    }
  }, true);
}
"""


def run(backend: Backend, server: StreamlitServer, tutor, browser, results: Results, quick: bool,
        log: Callable[[str], None]) -> None:
    p = parameters(quick)
    lessons = [l for l in load_lessons() if l.question.language == "es"]
    user = make_users(tutor, "browser", 1)[0]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="es-ES")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "tutor_token", "value": tutor.token_for(user), "url": server.url}])
    try:
        log("  browser: warm-up")
        for lesson in lessons[-p["warmup_asks"]:]:
            _warm_up(context, server.url, tutor, tutor.identity_of(user), lesson)
        for name, bench in (("browser_first_text", lambda: first_text(context, server, tutor, lessons, results, p)),
                            ("browser_pause", lambda: pause_text_after(context, server, lessons, results, p))):
            log(f"  browser: {name}")
            try:
                bench()
            except Exception as error:
                results.failed(name, error)
                log(f"    failed: {error!r}")
    finally:
        context.close()


class WireBytes:
    """Bytes the tab receives, as Chromium counts them (CDP): API response bodies on the wire (``stream``; the
    ``…/live`` stream alone in ``live``) + websocket payloads."""

    def __init__(self, context, page):
        self.ws = self.stream = self.live_stream = 0
        self.api: set[str] = set()
        self.live: set[str] = set()
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.webSocketFrameReceived", self._frame)
        cdp.send("Network.enable")

    def _request(self, event) -> None:
        url = event["request"]["url"]
        if "/api/v1/" in url:
            self.api.add(event["requestId"])
        if "/live?" in url:
            self.live.add(event["requestId"])

    def _data(self, event) -> None:
        if event["requestId"] in self.api:
            self.stream += event.get("encodedDataLength") or 0
        if event["requestId"] in self.live:
            self.live_stream += event.get("encodedDataLength") or 0

    def _frame(self, event) -> None:
        response = event["response"]
        data = response.get("payloadData", "")
        self.ws += len(base64.b64decode(data)) if response.get("opcode") == 2 else len(data.encode())

    @property
    def total(self) -> int:
        return self.ws + self.stream


def _open(context, url: str):
    page = context.new_page()
    frames: list[bytes] = []
    wire = WireBytes(context, page)

    def websocket(ws) -> None:
        if ws.url.endswith("/_stcore/stream"):
            ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes)
                                                                 else payload.encode()))

    page.on("websocket", websocket)
    page.goto(url + "/")
    page.locator(key("question") + " textarea").wait_for()
    page.wait_for_function("() => window.__tutorAsk !== undefined")  # the live component is ready: a student's
    return page, frames, wire                                         # first click never comes before it


def _warm_up(context, url: str, tutor, identity, lesson) -> None:
    """The first page load and ask of the server (builds the tutor, imports the pages); stopped at the first text."""
    page, _, _ = _open(context, url)
    try:
        page.locator(key("question") + " textarea").fill(lesson.question.text)
        page.locator(key("ask") + " button").click()
        page.wait_for_url(re.compile(r"[?&]session="))
        page.locator(key("step_1")).wait_for()
        page.locator(key("pause") + " button").click()  # as a student would
        page.locator(key("resume") + " button").wait_for()
    finally:
        page.close()


def _first_text(context, url: str, lesson, chunk_size: int) -> dict:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    page, frames, wire = _open(context, url)
    try:
        needle = first_words(lesson.answer.steps[0].content, chunk_size)
        page.evaluate(_INSTRUMENT_FIRST_TEXT, needle)
        page.locator(key("question") + " textarea").fill(lesson.question.text)
        mark = len(frames)
        wire_mark = (wire.ws, wire.stream, wire.live_stream)
        page.locator(key("ask") + " button").click()
        page.wait_for_function("() => window.__bench.frame !== null")
        page.locator(key("rate_submit") + " button").wait_for()
        deadline, finished = time.monotonic() + 15, None
        while finished is None and time.monotonic() < deadline:
            for index in range(mark, len(frames)):
                msg = ForwardMsg()
                msg.ParseFromString(frames[index])
                if msg.WhichOneof("type") == "script_finished":
                    finished = index
                    break
            else:
                time.sleep(0.05)
        if finished is None:
            raise RuntimeError("no script_finished after the explanation")
        page.wait_for_timeout(200)  # the last frames' CDP events
        bench = page.evaluate("() => window.__bench")
        text_chars = sum(len(step.content) for step in lesson.answer.steps)
        ws_bytes, stream_bytes = wire.ws - wire_mark[0], wire.stream - wire_mark[1]
        return {"lesson": lesson.name, "needle": needle, "first_text_ms": round(bench["frame"] - bench["click"], 1),
                "first_text_dom_ms": round(bench["dom"] - bench["click"], 1), "ws_bytes": ws_bytes,
                "stream_bytes": stream_bytes, "live_bytes": wire.live_stream - wire_mark[2],
                "ws_frames": finished + 1 - mark, "text_chars": text_chars,
                "ws_bytes_per_text_char": round((ws_bytes + stream_bytes) / text_chars, 2)}
    finally:
        page.close()


def scaled_lessons(tutor, lesson, runs: int) -> dict[int, list]:
    """Library answers 1×, 4× and 16× as long as ``lesson``'s first step, stored under new questions."""
    unit = lesson.answer.steps[0]
    out: dict[int, list] = {}
    for times, (steps, copies) in LENGTHS.items():
        out[times] = []
        for run in range(runs):
            raw = {"total_duration": 60 * times, "steps": [
                {"title": f"{unit.title} ({n + 1})", "type": unit.type, "content": "\n\n".join([unit.content] * copies),
                 "canvas_commands": list(unit.canvas_commands)} for n in range(steps)]}
            answer, _ = validate_answer(raw)
            question = f"{lesson.question.text.rstrip('?')} — banco {times}x {run} {time.monotonic_ns()}?"
            tutor.cache.store(prepare(question, language="es", limit=1000), answer, model="bench",
                              prompt_version="bench", source="library")
            out[times].append(_Scaled(question, answer, lesson.name))
    return out


class _Scaled:
    """A stored answer as the runs read a lesson: ``.question.text``, ``.answer.steps``, ``.name``."""

    def __init__(self, text: str, answer, name: str):
        self.question = type("Q", (), {"text": text})()
        self.answer, self.name = answer, f"{name} (scaled)"


def first_text(context, server: StreamlitServer, tutor, lessons, results: Results, p: dict) -> None:
    runs = [_first_text(context, server.url, lessons[i], tutor.settings.chunk_size)
            for i in range(p["first_text_runs"])]
    with_board = next(l for l in lessons if l.answer.steps[0].canvas_commands)
    by_length = {times: [_first_text(context, server.url, scaled, tutor.settings.chunk_size)
                         for scaled in stored]
                 for times, stored in scaled_lessons(tutor, with_board, p["length_runs"]).items()}
    common = dict(n=len(runs), runs=runs, chromium=Path(CHROMIUM).name, viewport="1400x900",
                  chunk_size=tutor.settings.chunk_size, chunk_delay_ms=tutor.settings.chunk_delay_ms,
                  warmup_asks=p["warmup_asks"], statistic="median over runs (fresh tab each, a different lesson)")
    results.put("browser_first_text_ms", median([r["first_text_ms"] for r in runs]), "ms", **common,
                method="performance.now() at the click on Ask (capture listener) → the next animation frame after "
                       "a MutationObserver saw the first words of step 1 in .st-key-explanation")
    results.put("ws_bytes_per_text_char", median([r["ws_bytes_per_text_char"] for r in runs]), "bytes/char",
                **common, by_length={f"{times}x": median([r["ws_bytes_per_text_char"] for r in rs])
                                     for times, rs in by_length.items()},
                by_length_runs={f"{times}x": rs for times, rs in by_length.items()},
                stream_only_by_length={f"{times}x": median([r["live_bytes"] / r["text_chars"] for r in rs])
                                       for times, rs in by_length.items()},
                stream_only=median([r["live_bytes"] / r["text_chars"] for r in runs]),
                method="CDP Network events from the click on Ask to the script_finished of the rerun that draws "
                       "the rating form: encodedDataLength of /api/v1/ response bodies (the ask, the …/live "
                       "stream) + websocket frame payloads, / characters of the answer's step contents")


def pause_text_after(context, server: StreamlitServer, lessons, results: Results, p: dict) -> None:
    runs = []
    for i in range(p["pause_runs"]):
        lesson = lessons[(p["first_text_runs"] + i) % len(lessons)]
        page, _, _ = _open(context, server.url)
        try:
            page.evaluate(_INSTRUMENT_PAUSE)
            page.locator(key("question") + " textarea").fill(lesson.question.text)
            page.locator(key("ask") + " button").click()
            page.locator(key("pause") + " button").wait_for()
            page.wait_for_function(f"s => (document.querySelector(s)?.innerText || '').length > {PAUSE_AFTER_CHARS}",
                                   arg=key("explanation"), polling="raf")
            page.locator(key("pause") + " button").click()
            page.locator(key("resume") + " button").wait_for()
            time.sleep(SETTLE_AFTER_PAUSE_S)
            at_click = page.evaluate("() => window.__bench.chars_at_click")
            final = page.evaluate("s => document.querySelector(s).innerText.length", key("explanation"))
            runs.append({"lesson": lesson.name, "chars_at_click": at_click, "chars_after_pause": final,
                         "chars_after_click": final - at_click})
        finally:
            page.close()
    results.put("browser_pause_text_after_chars", median([r["chars_after_click"] for r in runs]), "chars",
                n=len(runs), runs=runs, pause_after_visible_chars=PAUSE_AFTER_CHARS,
                settle_s=SETTLE_AFTER_PAUSE_S, statistic="median over runs",
                method="innerText length of .st-key-explanation 1 s after Resume appeared minus its length in the "
                       "click handler of Pause (headings and labels of a step started after the click count too)")


def launch():
    """(playwright, browser) — Debian's Chromium; the caller closes both."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}")
    playwright = sync_playwright().start()
    try:
        return playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise


def main(argv: list[str] | None = None) -> int:
    """The browser benchmarks alone, on one backend, at the browser pace of ``python -m benchmarks``."""
    import argparse
    import json
    import sys

    from .__main__ import BROWSER_PACE, _served, log
    from .common import Results, backend
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_bench", description=main.__doc__)
    parser.add_argument("--quick", action="store_true", help="one run of each")
    parser.add_argument("--backend", choices=("embedded", "servers"), default="embedded")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    playwright, browser = launch()
    try:
        with backend(args.backend) as b:
            results = Results(b)
            _served(b, results, BROWSER_PACE, lambda server, tutor: run(b, server, tutor, browser, results,
                                                                         args.quick, log))
    finally:
        browser.close()
        playwright.stop()
    for key, entry in results.keys.items():
        setup = entry["setup"]
        extra = {k: setup[k] for k in ("by_length", "stream_only", "stream_only_by_length") if k in setup}
        print(key, entry["value"], entry["unit"], json.dumps(extra) if extra else "")
        for run_ in setup.get("runs", []):
            print("   ", json.dumps({k: v for k, v in run_.items() if k not in ("needle",)}, ensure_ascii=False))
        for times, runs in setup.get("by_length_runs", {}).items():
            print("   ", times, [(r["ws_bytes"], r["stream_bytes"], r["live_bytes"], r["text_chars"],
                                  r["ws_bytes_per_text_char"]) for r in runs])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"keys": results.keys, "errors": results.errors}, out, indent=2, ensure_ascii=False)
    if results.errors:
        print("errors:", results.errors, file=sys.stderr)
    return 1 if results.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
