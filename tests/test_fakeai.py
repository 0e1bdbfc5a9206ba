"""FakeAI driven by the real openai SDK over HTTP on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Literal, Optional

import httpx2
import openai
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ParsedChatCompletion
from pydantic import BaseModel

from core.testing.fakeai import FakeAI, build_answer, default_reply

pytestmark = pytest.mark.timeout(30)

QUESTION = "What is the derivative of x^2 at x = 1?"
MESSAGES = [{"role": "system", "content": "You are a tutor."}, {"role": "user", "content": QUESTION}]


class CanvasCommand(BaseModel):
    op: str
    x_min: Optional[float] = None
    x_max: Optional[float] = None
    y_min: Optional[float] = None
    y_max: Optional[float] = None
    grid: Optional[bool] = None
    x: Optional[float] = None
    y: Optional[float] = None
    x1: Optional[float] = None
    y1: Optional[float] = None
    x2: Optional[float] = None
    y2: Optional[float] = None
    r: Optional[float] = None
    w: Optional[float] = None
    h: Optional[float] = None
    points: Optional[list[list[float]]] = None
    text: Optional[str] = None
    expr: Optional[str] = None
    label: Optional[str] = None
    color: Optional[str] = None
    at_char: Optional[int] = None


class Step(BaseModel):
    title: str
    type: Literal["text", "math"]
    content: str
    canvas_commands: list[CanvasCommand]


class Answer(BaseModel):
    steps: list[Step]
    total_duration: int


@pytest.fixture
def fake():
    with FakeAI() as server:
        yield server


def client_for(fake: FakeAI, *, max_retries: int = 0, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=max_retries, timeout=timeout)


def stream_answer(client: openai.OpenAI, question: str = QUESTION) -> tuple[list, ParsedChatCompletion]:
    messages = [{"role": "user", "content": question}]
    with client.chat.completions.stream(model="tutor-model", messages=messages, response_format=Answer) as stream:
        events = list(stream)
        return events, stream.get_final_completion()


def chat_deltas(client: openai.OpenAI, messages=MESSAGES, **kwargs) -> tuple[list[str], list]:
    chunks = list(client.chat.completions.create(model="chat-model", messages=messages, stream=True, **kwargs))
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    return deltas, chunks


# --- happy paths ---------------------------------------------------------------------------------------------

def test_structured_stream_parses_partially_then_fully(fake):
    events, completion = stream_answer(client_for(fake))
    deltas = [event for event in events if event.type == "content.delta"]
    expected = build_answer(QUESTION)
    assert len(deltas) > 10
    assert any(event.parsed and 0 < len(event.parsed.get("steps", [])) < len(expected["steps"]) for event in deltas)
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Answer)
    assert parsed.model_dump(exclude_none=True) == expected
    assert completion.model == "tutor-model"
    assert completion.choices[0].finish_reason == "stop"
    assert fake.calls[0]["response_format"]["type"] == "json_schema"


def test_structured_non_stream_parse(fake):
    completion = client_for(fake).chat.completions.parse(model="m", messages=MESSAGES, response_format=Answer)
    assert completion.choices[0].message.parsed.model_dump(exclude_none=True) == build_answer(QUESTION)
    assert completion.usage.completion_tokens == math.ceil(len(completion.choices[0].message.content) / 4)


def test_question_is_the_text_of_the_last_user_message():
    questions = []

    def answer_for(question):
        questions.append(question)
        return build_answer(question, steps=1)

    messages = [{"role": "user", "content": "an older question"},
                {"role": "user", "content": [{"type": "text", "text": "Solve x + 1 = 3"},
                                             {"type": "image_url", "image_url": {"url": "data:,"}},
                                             {"type": "text", "text": "for x"}]}]
    with FakeAI(answer_for=answer_for) as fake:
        completion = client_for(fake).chat.completions.parse(model="m", messages=messages, response_format=Answer)
    assert questions == ["Solve x + 1 = 3\nfor x"]
    assert len(completion.choices[0].message.parsed.steps) == 1


def test_chat_stream_joins_to_the_reply_and_reports_usage(fake):
    deltas, chunks = chat_deltas(client_for(fake), stream_options={"include_usage": True})
    reply = default_reply(MESSAGES)
    assert len(deltas) > 5
    assert "".join(deltas) == reply
    assert QUESTION in reply
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert usage.completion_tokens == math.ceil(len(reply) / 4)
    assert usage.prompt_tokens == math.ceil((len("You are a tutor.") + len(QUESTION)) / 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_stream_without_include_usage_has_no_usage_chunk(fake):
    _, chunks = chat_deltas(client_for(fake))
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_custom_reply_and_chars_per_token():
    with FakeAI(reply_for=lambda messages: "abcdefghij" * 3, chars_per_token=10) as fake:
        deltas, _ = chat_deltas(client_for(fake))
    assert deltas == ["abcdefghij"] * 3


def test_default_reply_follows_the_language():
    spanish = default_reply([{"role": "user", "content": "¿Cómo se calcula la derivada de x^2?"}])
    english = default_reply([{"role": "user", "content": "How do I compute the derivative of x^2?"}])
    assert spanish.startswith("Has preguntado") and "derivada" in spanish
    assert english.startswith("You asked") and "derivative" in english
    assert spanish.count(". ") >= 3 and english.count(". ") >= 3


def test_non_stream_chat_and_models(fake):
    client = client_for(fake)
    completion = client.chat.completions.create(model="chat-model", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == default_reply(MESSAGES)
    assert completion.system_fingerprint
    assert [model.id for model in client.models.list()] == ["fakeai-tutor"]


# --- failures ------------------------------------------------------------------------------------------------

def test_rate_limit_is_retried(fake):
    fake.fail_next("429")
    _, completion = stream_answer(client_for(fake, max_retries=2))
    assert completion.choices[0].message.parsed is not None
    assert len(fake.calls) == 2


def test_rate_limit_without_retries_raises(fake):
    fake.fail_next("429")
    with pytest.raises(openai.RateLimitError) as raised:
        stream_answer(client_for(fake))
    assert raised.value.response.headers["retry-after"] == "0"
    assert raised.value.code == "rate_limit_exceeded"


def test_server_error_raises(fake):
    fake.fail_next("500")
    with pytest.raises(openai.InternalServerError):
        stream_answer(client_for(fake))


def test_failures_are_used_once_each_in_order(fake):
    fake.fail_next("500", "429")
    client = client_for(fake)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
    assert len(fake.calls) == 3


def test_unknown_failure_kind_is_rejected(fake):
    with pytest.raises(ValueError):
        fake.fail_next("teapot")


def test_timeout_fires_and_stop_is_prompt():
    fake = FakeAI(hang_seconds=30).start()
    try:
        fake.fail_next("timeout")
        with pytest.raises(openai.APITimeoutError):
            stream_answer(client_for(fake, timeout=0.5))
    finally:
        started = time.monotonic()
        fake.stop()
    assert time.monotonic() - started < 2


def test_drop_raises_connection_error_mid_stream(fake):
    fake.fail_next("drop")
    seen = []
    with pytest.raises(openai.APIConnectionError) as raised:
        with client_for(fake).chat.completions.stream(model="m", messages=MESSAGES, response_format=Answer) as stream:
            seen.extend(event for event in stream if event.type == "content.delta")
    assert type(raised.value) is openai.APIConnectionError
    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    assert len([event for event in seen if event.delta]) == 3


def test_drop_without_stream_raises_connection_error(fake):
    fake.fail_next("drop")
    with pytest.raises(openai.APIConnectionError) as raised:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert type(raised.value) is openai.APIConnectionError


def test_malformed_content_fails_the_final_parse(fake):
    fake.fail_next("malformed")
    with pytest.raises(pydantic.ValidationError) as raised:
        stream_answer(client_for(fake))
    assert raised.value.errors()[0]["type"] == "json_invalid"


def test_invalid_answer_is_valid_json_that_breaks_the_rules(fake):
    fake.fail_next("invalid_answer")
    _, completion = stream_answer(client_for(fake))
    assert json.loads(completion.choices[0].message.content) == {"steps": [], "total_duration": 10}


def test_length_raises_length_finish_reason(fake):
    fake.fail_next("length")
    with pytest.raises(openai.LengthFinishReasonError):
        stream_answer(client_for(fake))


# --- pacing, concurrency, command line -----------------------------------------------------------------------

def test_tokens_per_second_paces_the_deltas():
    tps = 200
    with FakeAI(tokens_per_second=tps) as fake:
        started = time.monotonic()
        deltas, _ = chat_deltas(client_for(fake))
        elapsed = time.monotonic() - started
    assert len(deltas) > 20
    assert elapsed >= 0.8 * (len(deltas) - 1) / tps


def test_stop_interrupts_a_paced_stream():
    fake = FakeAI(tokens_per_second=5).start()
    threading.Timer(0.3, fake.stop).start()
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        chat_deltas(client_for(fake))
    assert time.monotonic() - started < 3


def test_async_client_streams_too(fake):
    async def run():
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=5) as client:
            messages = [{"role": "user", "content": QUESTION}]
            async with client.chat.completions.stream(model="m", messages=messages, response_format=Answer) as stream:
                return await stream.get_final_completion()

    completion = asyncio.run(run())
    assert completion.choices[0].message.parsed.model_dump(exclude_none=True) == build_answer(QUESTION)


def test_concurrent_requests_all_succeed(fake):
    client = client_for(fake)
    results, errors = [], []

    def worker(index):
        try:
            for _ in range(2):
                if index % 2:
                    results.append(stream_answer(client)[1].choices[0].message.parsed)
                else:
                    results.append("".join(chat_deltas(client)[0]))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 12 and len(fake.calls) == 12
    assert results.count(default_reply(MESSAGES)) == 6


def test_command_line_serves_until_interrupted():
    command = [sys.executable, "-m", "core.testing.fakeai", "--port", "0", "--tps", "1000"]
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            base_url = process.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with urllib.request.urlopen(base_url + "/models", timeout=5) as response:
                assert json.load(response)["data"][0]["id"] == "fakeai-tutor"
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0


# --- build_answer --------------------------------------------------------------------------------------------

def assert_valid_answer(answer: dict) -> None:
    assert set(answer) == {"steps", "total_duration"}
    assert isinstance(answer["total_duration"], int) and answer["total_duration"] > 0
    assert 1 <= len(answer["steps"]) <= 8
    for step in answer["steps"]:
        assert set(step) == {"title", "type", "content", "canvas_commands"}
        assert 0 < len(step["title"]) <= 120
        assert step["type"] in ("text", "math")
        assert 1 <= len(step["content"]) <= 4000
        assert len(step["canvas_commands"]) <= 20
        for command in step["canvas_commands"]:
            assert 0 <= command.get("at_char", 0) <= len(step["content"])
    Answer.model_validate(answer)


def test_build_answer_default_shape():
    answer = build_answer(QUESTION)
    assert [step["type"] for step in answer["steps"]] == ["text", "math", "text"]
    assert all(QUESTION in step["title"] and QUESTION in step["content"] for step in answer["steps"])
    assert re.search(r"\$[^$]+\$", answer["steps"][0]["content"])
    assert answer["steps"][0]["canvas_commands"][:2] == [
        {"op": "axes", "x_min": -5, "x_max": 5, "y_min": -5, "y_max": 5, "at_char": 0},
        {"op": "point", "x": 1, "y": 2, "label": "P", "at_char": 10},
    ]
    assert build_answer(QUESTION) == answer
    with pytest.raises(ValueError):
        build_answer(QUESTION, steps=9)


@settings(max_examples=60, deadline=None)
@given(question=st.text(max_size=500), steps=st.integers(1, 8))
def test_build_answer_is_always_valid(question, steps):
    answer = build_answer(question, steps)
    assert len(answer["steps"]) == steps
    assert_valid_answer(answer)
    assert json.loads(json.dumps(answer)) == answer
