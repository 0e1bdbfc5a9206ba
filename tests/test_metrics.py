"""Prometheus metrics: scraped from the real HTTP endpoint after real asks, streams, pauses and errors."""
import json
import math
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.content.library import load_lessons
from core.errors import RateLimited
from core.platform.metrics import Metrics
from core.testing.fakeai import build_answer, last_user_text

LESSON = load_lessons()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict:
    """``{(sample name, labels as a sorted tuple): value}`` from ``/metrics``."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def served(make_tutor, backend, ai):
    port = free_port()
    tutor = make_tutor(**backend, **ai, TUTOR_METRICS_PORT=port)
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    return tutor, me, port


def test_ask_stream_pause_resume_are_counted(served):
    tutor, me, port = served
    state = tutor.ask(me, LESSON.question.text)
    chunks = 0
    for item in tutor.stream(me, state["id"]):
        if item["event"] == "content_chunk":
            chunks += 1
            if chunks == 3:
                tutor.pause(me, state["id"])
    tutor.resume(me, state["id"])
    assert list(tutor.stream(me, state["id"]))[-1]["event"] == "explanation_complete"
    samples = scrape(port)
    assert value(samples, "tutor_asks_total") == 1
    assert value(samples, "tutor_cache_hits_total") == 1 and value(samples, "tutor_cache_misses_total") == 0
    assert value(samples, "tutor_pauses_total") == 1 and value(samples, "tutor_resumes_total") == 1
    assert value(samples, "tutor_completions_total") == 1
    assert value(samples, "tutor_stream_seconds_count") == 2 and value(samples, "tutor_stream_seconds_sum") > 0
    assert value(samples, "tutor_active_streams") == 0
    assert value(samples, "tutor_generation_seconds_count") == 0


def test_generations_record_latency_and_tokens(served, fake_ai):
    tutor, me, port = served
    state = tutor.ask(me, "¿Qué es un número primo?")
    list(tutor.stream(me, state["id"]))
    samples = scrape(port)
    assert value(samples, "tutor_cache_misses_total") == 1
    assert value(samples, "tutor_generation_seconds_count") == 1
    assert 0 < value(samples, "tutor_generation_seconds_sum") < 30
    assert value(samples, "tutor_generation_seconds_bucket", le="+Inf") == 1
    messages = fake_ai.calls[0]["messages"]
    reply = json.dumps(build_answer(last_user_text(messages)), ensure_ascii=False)
    assert value(samples, "tutor_tokens_total", kind="prompt") == math.ceil(
        sum(len(m["content"]) for m in messages) / fake_ai.chars_per_token)
    assert value(samples, "tutor_tokens_total", kind="completion") == math.ceil(len(reply) / fake_ai.chars_per_token)


def test_errors_are_counted_by_code(make_tutor, ai, fake_ai):
    port = free_port()
    tutor = make_tutor(**ai, TUTOR_METRICS_PORT=port, TUTOR_RATE_ASK_STUDENT="1/60")
    me = tutor.identity_of(tutor.accounts.register("ana@example.org", "otter-42-moss"))
    fake_ai.fail_next("500")
    assert list(tutor.stream(me, tutor.ask(me, "¿Por qué el cielo es azul?")["id"]))[-1]["event"] == "error"
    with pytest.raises(RateLimited):
        tutor.ask(me, LESSON.question.text)
    samples = scrape(port)
    # the generation thread and the reader each record the failure in the analytics log: two ai_failed
    assert value(samples, "tutor_errors_total", code="ai_failed") == 2
    assert value(samples, "tutor_errors_total", code="rate_limited") == 1


def test_the_active_streams_gauge_drops_when_a_stream_is_closed_early(served):
    tutor, me, port = served
    state = tutor.ask(me, LESSON.question.text)
    events = tutor.stream(me, state["id"])
    next(events)
    assert value(scrape(port), "tutor_active_streams") == 1
    events.close()
    samples = scrape(port)
    assert value(samples, "tutor_active_streams") == 0 and value(samples, "tutor_stream_seconds_count") == 1


def test_each_tutor_has_its_own_registry_and_a_port_is_served_once(make_tutor):
    port = free_port()
    first = make_tutor(TUTOR_METRICS_PORT=port)
    second = make_tutor(TUTOR_METRICS_PORT=port)  # same process, same port: skipped, not a crash
    assert first.metrics.registry is not second.metrics.registry
    me = second.identity_of(second.accounts.register("ana@example.org", "otter-42-moss"))
    second.ask(me, LESSON.question.text)
    assert value(scrape(port), "tutor_asks_total") == 0, "the port serves the first tutor's registry"
    first.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    again = Metrics()
    assert again.serve(port) is True  # the port is free again once its tutor closed
    again.stop()


def test_metrics_are_off_by_default(make_tutor):
    tutor = make_tutor()
    assert tutor.settings.metrics_port == 0 and tutor.metrics._server is None
