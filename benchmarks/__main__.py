"""``python -m benchmarks [--quick] [--json PATH]``: run every benchmark, print a table, write one JSON object."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import KEYS, QUICK_SKIPPED, SCHEMA, api_bench, browser_bench, core_bench, load_bench
from .common import SEED, Results, StreamlitServer, backend, machine, servers_configured

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def parameters(quick: bool) -> dict:
    from core import SETTINGS
    defaults = {s.name: s.default for s in SETTINGS}
    return {
        "seed": SEED,
        "app_settings": "defaults (TUTOR_CHUNK_SIZE=%s, TUTOR_CHUNK_DELAY_MS=%s, TUTOR_RATE_ASK_STUDENT=%s), "
                        "except TUTOR_AI_TIMEOUT=%s for the core benchmarks' provider" % (
                            defaults["TUTOR_CHUNK_SIZE"], defaults["TUTOR_CHUNK_DELAY_MS"],
                            defaults["TUTOR_RATE_ASK_STUDENT"], core_bench.AI_TIMEOUT_S),
        "provider": {"server": "core.testing.fakeai.FakeAI on 127.0.0.1 via the openai SDK",
                     "uncached_tokens_per_second": core_bench.UNCACHED_TPS, "chars_per_token": 4,
                     "answer_steps": core_bench.UNCACHED_STEPS, "singleflight_reply_held_until_all_asked": True,
                     "uncached_questions": list(core_bench.UNCACHED_QUESTIONS),
                     "singleflight_questions": [core_bench.SINGLEFLIGHT_THREADS_QUESTION,
                                                core_bench.SINGLEFLIGHT_PROCESSES_QUESTION]},
        "core": core_bench.parameters(quick),
        "browser": browser_bench.parameters(quick),
        "sessions": load_bench.parameters(quick),
        "api": api_bench.parameters(quick),
    }


# The browser figures (bytes per character, first text, pause) do not depend on the pace, but each run reads a whole
# explanation (16x long ones too): at the default reading pace that takes minutes, so the browser runs on a server
# with a fast pace; the load and API figures, which are about the pace, run on a server with the default one.
BROWSER_PACE = {"TUTOR_CHUNK_DELAY_MS": "20"}


def run_backend(name: str, quick: bool, browser) -> Results:
    with backend(name) as b:
        results = Results(b)
        core_bench.run(b, results, quick, log)
        if browser is not None:
            _served(b, results, BROWSER_PACE,
                    lambda server, tutor: browser_bench.run(b, server, tutor, browser, results, quick, log))
        _served(b, results, {}, lambda server, tutor: (load_bench.run(b, server, tutor, results, quick, log),
                                                       api_bench.run(b, server, tutor, results, quick, log)))
        return results


def _served(b, results: Results, settings: dict, measure) -> None:
    """``measure(server, tutor)`` against a Streamlit server with the app's settings (plus ``settings``); the tutor
    has the same settings (no provider, the lesson library only)."""
    tutor = b.tutor(**settings)
    try:
        server = StreamlitServer(b.data_dir, b.environ(**settings))
        try:
            log(f"  streamlit: starting on {server.url}" + (f" with {settings}" if settings else ""))
            server.start()
        except Exception as error:
            results.failed("streamlit", error)
            log(f"    failed: {error!r}")
            return
        try:
            measure(server, tutor)
        finally:
            server.stop()
    finally:
        tutor.close()


def table(doc: dict) -> str:
    blocks = [name for name in ("embedded", "servers") if doc.get(name)]
    header = ["key", "unit"] + blocks
    rows = []
    for key in KEYS:
        cells = [doc[name].get(key) for name in blocks]
        if not any(cells):
            continue
        unit = next(c["unit"] for c in cells if c)
        rows.append([key, unit] + [_fmt(c["value"]) if c else "—" for c in cells])
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
             for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", metavar="PATH", help="write the results as one JSON object to PATH")
    parser.add_argument("--quick", action="store_true", help="small N and 10 sessions only (< 90 s)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    load_at_start = _load_average()
    skip_servers = servers_configured()
    doc: dict = {"schema": SCHEMA, "quick": args.quick, "command": " ".join(["python -m benchmarks", *argv]),
                 "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "parameters": parameters(args.quick), "machine": machine(),
                 "embedded": None, "servers": None, "servers_skipped": skip_servers,
                 "skipped": {k: "--quick measures 10 sessions only" for k in QUICK_SKIPPED} if args.quick else {},
                 "errors": {}}
    log(f"benchmarks ({'quick' if args.quick else 'full'}); servers: {skip_servers or 'yes'}")
    playwright = browser = None
    try:
        try:
            playwright, browser = browser_bench.launch()
        except Exception as error:
            doc["errors"]["browser"] = f"{type(error).__name__}: {error}"
            log(f"no browser benchmarks: {error!r}")
        for name in ("embedded",) + (() if skip_servers else ("servers",)):
            log(f"[{name}]")
            try:
                results = run_backend(name, args.quick, browser)
            except Exception as error:  # e.g. the database could not be created: report it, go on
                doc["errors"][name] = f"{type(error).__name__}: {error}"
                log(f"  failed: {error!r}")
                continue
            doc[name] = results.keys
            if results.errors:
                doc["errors"][name] = results.errors
    finally:
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()
    doc["duration_s"] = round(time.monotonic() - started, 1)
    doc["load_average"] = {"at_start": load_at_start, "at_end": _load_average()}

    expected = [k for k in KEYS if not (args.quick and k in QUICK_SKIPPED)]
    for name in ("embedded", "servers"):
        if doc[name] is not None:
            missing = [k for k in expected if k not in doc[name]]
            if missing:
                doc["errors"].setdefault(f"{name}_missing", missing)
    _check_finite(doc)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(doc))
    print(f"\n{doc['machine']['cpus']} CPUs, {doc['machine']['ram_gb']} GB, Python {doc['machine']['python']}, "
          f"Streamlit {doc['machine']['streamlit']}; {doc['duration_s']} s; load average at start/end "
          f"{(doc['load_average']['at_start'] or ['?'])[0]}/{(doc['load_average']['at_end'] or ['?'])[0]}"
          + (f"; servers skipped: {skip_servers}" if skip_servers else ""))
    if doc["errors"]:
        print("errors: " + json.dumps(doc["errors"], ensure_ascii=False), file=sys.stderr)
        return 1
    return 0


def _load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine shows here (2.0 = both cores busy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _check_finite(doc: dict) -> None:
    for name in ("embedded", "servers"):
        for key, entry in (doc[name] or {}).items():
            if not math.isfinite(entry["value"]):
                raise ValueError(f"{name}.{key} is not finite")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
