"""The benchmarks: ``python -m benchmarks --quick --json PATH`` in a subprocess writes every key as a finite number
with the setup it was measured on. Speed is reported, never asserted here; only the results that are not timings
are: one provider call for N concurrent asks of a new question, and no chunk after a pause.

The environment is passed through on purpose: with ``REDIS_URL`` and ``DATABASE_URL`` set (CI sets both) the
``servers`` block (Redis + PostgreSQL, in a database and key prefix made for the run) must be there too.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import KEYS, QUICK_SKIPPED, SCHEMA  # noqa: E402
from benchmarks.browser_bench import first_words  # noqa: E402
from benchmarks.common import percentile, servers_configured  # noqa: E402
from benchmarks.load_bench import _figures  # noqa: E402
from browser_support import require_browser

EXACT = {"singleflight_provider_calls": 1, "singleflight_provider_calls_threads": 1,
         "singleflight_provider_calls_processes": 1, "pause_chunks_after": 0}


def test_percentile_interpolates_between_ranks():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == 99
    with pytest.raises(ValueError):
        percentile([], 50)


def test_load_figures_count_gaps_inside_the_window_and_cpu_per_update():
    settings = SimpleNamespace(settings=SimpleNamespace(chunk_delay_ms=200, chunk_size=12))
    runs = [{"sent": 0.5, "chunks": [1.0, 1.2, 1.4, 1.9, 2.1, 9.0], "error": None},  # 1.0 s: before the window
            {"sent": 2.0, "chunks": [2.1, 2.3, 2.5, 2.7, 2.9, 3.1, 3.3, 3.5, 3.7, 3.9, 4.1, 4.3], "error": None},
            {"sent": 3.0, "chunks": [], "error": "HTTP 500"}]
    outcome = {"runs": [runs], "cpu_s": 0.1}
    level = _figures(1, {"ramp_s_per_client": 0.0, "settle_s": 0.0}, (1.1, 5.1), [outcome], 0.5, 1.0,
                     2**20, [3 * 2**20], settings)
    assert level["setup"]["gaps"] == 3 + 11 and level["setup"]["text_updates"] == 4 + 12
    assert round(level["gap_ms_p50"]) == 200 and level["setup"]["gap_ms_max"] == 500
    assert round(level["server_cpu_ms_per_update"], 3) == round(500 / 16, 3)
    assert level["first_text_ms_p50"] == pytest.approx(100)  # the run opened in the window, not the one before
    assert level["rss_mb_per_session"] == 2 and level["setup"]["runs_with_errors"] == 1


def test_first_words_skip_maths_and_markup():
    assert first_words("Una **ecuación** de $x^2$ grado es sencilla", 50) == "grado es sencilla"
    assert first_words("Sea $f(x) = 2x$ la función que estudiamos hoy con calma", 50, words=2) == "la función"


@pytest.mark.timeout(900)  # both backends, a browser, 10 live sessions and the API: minutes
def test_quick_run_writes_every_key_with_its_setup(tmp_path):
    require_browser()
    skip_servers = servers_configured(os.environ)
    if IN_CI and skip_servers:
        pytest.fail(f"CI=true but {skip_servers}", pytrace=False)

    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)], cwd=ROOT,
                         env=dict(os.environ), capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-5000:]}"
    doc = json.loads(out.read_text(encoding="utf-8"))

    assert doc["schema"] == SCHEMA and doc["quick"] is True and doc["errors"] == {}
    assert {"cpus", "ram_gb", "python", "streamlit", "date"} <= set(doc["machine"])
    assert set(doc["skipped"]) == set(QUICK_SKIPPED)
    blocks = ["embedded"] + ([] if skip_servers else ["servers"])
    if skip_servers:
        assert doc["servers"] is None and doc["servers_skipped"] == skip_servers
    else:
        assert doc["servers_skipped"] is None
    for block in blocks:
        results = doc[block]
        for key in KEYS:
            if key in QUICK_SKIPPED:
                assert key not in results
                continue
            entry = results[key]
            value = entry["value"]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (block, key)
            assert math.isfinite(value), (block, key)
            assert entry["unit"] and entry["setup"]["backend"] == block, (block, key)
        for key, expected in EXACT.items():
            assert results[key]["value"] == expected, (block, key, results[key])
        store = results["cached_first_chunk_ms_p50"]["setup"]["session_store"]
        assert ("embedded" if block == "embedded" else "redis") in store
    assert "cached_first_chunk_ms_p50" in run.stdout  # the table
