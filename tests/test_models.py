import pytest

from core.content.answers import AnswerSchema
from core.errors import AIError
from core.explaining.models import OpenAIModel, load_prompt, model_from_settings
from core.platform.settings import Settings
from core.testing.fakeai import build_answer, default_reply


def model(server, **kwargs):
    return OpenAIModel("fake", api_key="k", base_url=server.base_url, timeout=kwargs.get("timeout", 5),
                       max_retries=kwargs.get("max_retries", 0))


def test_structured_stream_yields_partials_then_the_final_answer(fake_ai):
    chunks = list(model(fake_ai).stream([{"role": "user", "content": "¿Qué es un vector?"}], schema=AnswerSchema))
    assert chunks[-1].done and chunks[-1].parsed == AnswerSchema.model_validate(
        build_answer("¿Qué es un vector?")).model_dump()
    assert chunks[-1].usage["completion_tokens"] > 0
    partial_sizes = [len(c.parsed.get("steps") or []) for c in chunks[:-1]]
    assert partial_sizes[0] < 3 and partial_sizes == sorted(partial_sizes)


def test_text_stream(fake_ai):
    messages = [{"role": "user", "content": "Hola"}]
    chunks = list(model(fake_ai).stream(messages))
    assert "".join(c.text for c in chunks) == default_reply(messages) and chunks[-1].done


@pytest.mark.parametrize("failure, code", [("429", "ai_rate_limited"), ("500", "ai_failed"), ("drop", "ai_failed"),
                                           ("timeout", "ai_timeout"), ("malformed", "ai_invalid_output"),
                                           ("length", "ai_invalid_output")])
def test_provider_failures_become_ai_errors(fake_ai, failure, code):
    fake_ai.hang_seconds = 2
    fake_ai.fail_next(failure)
    with pytest.raises(AIError) as error:
        list(model(fake_ai, timeout=0.5).stream([{"role": "user", "content": "x"}], schema=AnswerSchema))
    assert error.value.code == code


def test_prompts_are_versioned_files():
    text = load_prompt("explain-v1", language_name="Spanish")
    assert "Spanish" in text and "{language_name}" not in text


def test_no_provider_without_settings():
    assert model_from_settings(Settings.load(environ={}, env_file=None)) is None
    configured = model_from_settings(Settings.load({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, environ={},
                                                   env_file=None))
    assert configured.name == "gpt-4o-mini"
