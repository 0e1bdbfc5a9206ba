"""Benchmarks of the tutor: ``python -m benchmarks --json PATH`` (add ``--quick`` for a short run).

Everything runs on this machine's loopback: the lesson library (cached answers), ``core.testing.fakeai`` as the provider,
a real ``streamlit run`` server, Debian's Chromium driven by Playwright, and HTTP clients of the API's SSE
streams. Each key is measured for the embedded default (SQLite + embedded session store) and,
when ``REDIS_URL`` and ``DATABASE_URL`` are set, again for Redis + PostgreSQL (in a database and key prefix
created for the run and removed after it).

The JSON written (schema ``tutor-benchmarks/1``)::

    {"schema": "tutor-benchmarks/1", "quick": false, "command": "...", "started_at": "...", "duration_s": 343.1,
     "load_average": {"at_start": [...], "at_end": [...]},
     "parameters": {...},                      # the fixed parameters of the run (seeds, N, rates, pacing)
     "machine": {...},                         # CPUs, RAM, Python, Streamlit, Chromium, OS, date
     "embedded": {"<key>": {"value": 3.1, "unit": "ms", "setup": {...}}, ...},
     "servers": {...} | null,                  # same keys; null when REDIS_URL / DATABASE_URL are not both set
     "servers_skipped": "reason" | null,
     "skipped": {"<key>": "reason", ...},      # keys not measured in this run (50–400 sessions with --quick)
     "errors": {...}}                          # benchmarks that failed (then the command exits with status 1)

Every ``value`` is a finite number; ``setup`` records what it was measured on (backend, N, parameters, method)
plus the raw samples where they are few.
"""

SCHEMA = "tutor-benchmarks/1"

# Every key a full run produces, per backend. ``--quick`` leaves out QUICK_SKIPPED.
KEYS = (
    "cached_first_chunk_ms_p50",
    "cached_first_chunk_ms_p99",
    "uncached_first_chunk_ratio",
    "pause_chunks_after",
    "singleflight_provider_calls",
    "singleflight_provider_calls_threads",
    "singleflight_provider_calls_processes",
    "browser_first_text_ms",
    "browser_pause_text_after_chars",
    "ws_bytes_per_text_char",
    "paraphrase_hit_rate",
    "paraphrase_wrong_rate",
    *(f"sessions_{n}_{what}" for n in (10, 50, 100, 200, 400)
      for what in ("gap_ms_p50", "gap_ms_p99", "first_text_ms_p50", "first_text_ms_p99", "server_cpu_percent",
                   "server_rss_mb")),
    "server_cpu_ms_per_update",
    "rss_mb_per_session",
    "api_sse_first_chunk_ms_p50",
    "api_sse_first_chunk_ms_p99",
    "api_sse_bytes_per_text_char",
    *(f"api_sse_{n}_gap_ms_p99" for n in (100, 300, 500)),
    "api_sse_streams_at_p99_100ms",
)
QUICK_SKIPPED = tuple(k for k in KEYS if k.startswith(("sessions_50_", "sessions_100_", "sessions_200_",
                                                         "sessions_400_", "api_sse_300_", "api_sse_500_")))
