"""AI models: one base class with one generator method, and the OpenAI-compatible implementation.

A model turns a list of chat messages into a stream of ``Chunk``s. With a ``schema`` (a pydantic model) every
chunk carries the partial parse of the structured answer so far, unfinished strings included (so the text being
written can be shown as it grows); the last chunk (``done``) carries the validated final object. Without one,
chunks carry text deltas. Provider failures become ``AIError`` with a code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Iterator

import jiter
import openai
from pydantic import BaseModel

from ..errors import AIError

LANGUAGE_NAMES = {"es": "Spanish (español de España, claro y cercano)", "en": "English"}


@dataclass
class Chunk:
    text: str = ""
    parsed: dict | None = None
    done: bool = False
    usage: dict = field(default_factory=dict)


class Model:
    name = "model"

    def stream(self, messages: list[dict], *, schema: type[BaseModel] | None = None) -> Iterator[Chunk]:
        raise NotImplementedError


def load_prompt(name: str, **params: str) -> str:
    """A prompt file from ``core/prompts`` (their names carry the version: ``explain-v1``)."""
    text = resources.files("core.explaining.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    return text.format(**params) if params else text


def _usage(usage) -> dict:
    if usage is None:
        return {}
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}


def _ai_error(error: Exception) -> AIError:
    if isinstance(error, openai.APITimeoutError):
        return AIError("ai_timeout")
    if isinstance(error, openai.RateLimitError):
        return AIError("ai_rate_limited")
    if isinstance(error, openai.LengthFinishReasonError):
        return AIError("ai_invalid_output", reason="the answer was cut off")
    if isinstance(error, openai.ContentFilterFinishReasonError):
        return AIError("ai_invalid_output", reason="the provider filtered the answer")
    if isinstance(error, ValueError):
        return AIError("ai_invalid_output", reason="malformed JSON")
    return AIError("ai_failed")


class OpenAIModel(Model):
    """Any server that speaks the Chat Completions API, through the official SDK (its retries and timeout)."""

    def __init__(self, name: str, *, api_key: str, base_url: str | None, timeout: float, max_retries: int):
        self.name = name
        self.client = openai.OpenAI(api_key=api_key or "not-needed", base_url=base_url or None,
                                    timeout=timeout, max_retries=max_retries)

    def stream(self, messages, *, schema=None):
        try:
            if schema is None:
                yield from self._stream_text(messages)
            else:
                yield from self._stream_parsed(messages, schema)
        except (openai.OpenAIError, ValueError) as error:
            raise _ai_error(error) from error

    def _stream_parsed(self, messages, schema):
        with self.client.chat.completions.stream(model=self.name, messages=messages, response_format=schema,
                                                 stream_options={"include_usage": True}) as stream:
            for event in stream:
                if event.type == "content.delta" and event.snapshot.strip():
                    partial = jiter.from_json(event.snapshot.encode(), partial_mode="trailing-strings")
                    if isinstance(partial, dict):
                        yield Chunk(parsed=partial)
            completion = stream.get_final_completion()
        parsed = completion.choices[0].message.parsed
        if parsed is None:
            raise AIError("ai_invalid_output", reason="empty answer")
        yield Chunk(parsed=parsed.model_dump(), done=True, usage=_usage(completion.usage))

    def _stream_text(self, messages):
        stream = self.client.chat.completions.create(model=self.name, messages=messages, stream=True,
                                                     stream_options={"include_usage": True})
        usage = {}
        with stream:
            for chunk in stream:
                if chunk.usage:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield Chunk(text=choice.delta.content)
                    if choice.finish_reason == "length":
                        raise AIError("ai_invalid_output", reason="the answer was cut off")
        yield Chunk(done=True, usage=usage)


def model_from_settings(settings) -> Model | None:
    if not settings.ai_configured:
        return None
    return OpenAIModel(settings.model, api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                       timeout=settings.ai_timeout, max_retries=settings.ai_max_retries)
