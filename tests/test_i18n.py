import ast
import re
from pathlib import Path

import pytest

from core.errors import AuthError, RateLimited
from core.platform import i18n
from ui import texts


def test_every_text_and_error_exists_in_both_languages():
    for table in (i18n.ERRORS, i18n.TEXTS, texts.TEXTS):
        for key, entry in table.items():
            assert set(entry) == set(i18n.LANGUAGES), key
            forms = {lang: entry[lang].values() if isinstance(entry[lang], dict) else [entry[lang]]
                     for lang in i18n.LANGUAGES}  # a plural text has one form per CLDR category
            assert all(text.strip() for lang in i18n.LANGUAGES for text in forms[lang]), key
            placeholders = {lang: {tuple(sorted(set(re.findall(r"{(\w+)", text)))) for text in forms[lang]}
                            for lang in i18n.LANGUAGES}
            assert placeholders["es"] == placeholders["en"], key


def test_waiting_phrases_cycle_in_each_language():
    for lang in i18n.LANGUAGES:
        phrases = i18n.waiting_phrases(lang)
        first = [next(phrases) for _ in range(len(i18n.WAITING_PHRASES[lang]) + 1)]
        assert first[0] == first[-1] and len(set(first)) == len(i18n.WAITING_PHRASES[lang])


def test_errors_speak_both_languages():
    error = AuthError("auth_expired")
    assert error.message_for("es") != error.message_for("en")
    assert error.to_event("es") == {"event": "error", "data": {"code": "auth_expired",
                                                               "message": error.message_for("es")}}
    assert "7" in RateLimited(retry_after=6.6).message_for("es")


def test_unknown_codes_and_languages_fall_back():
    assert i18n.error_message("no_such_code", "es") == i18n.ERRORS["error"]["es"]
    assert i18n.error_message("forbidden", "fr") == i18n.ERRORS["forbidden"]["en"]


def test_help_reasons_have_a_singular_and_a_plural_in_both_languages():
    for sign, entry in texts.HELP_REASONS.items():
        assert set(entry) == set(i18n.LANGUAGES), sign
        for lang in i18n.LANGUAGES:
            one, many = entry[lang]
            assert "{n}" in one and "{n}" in many and one != many, (sign, lang)


def test_core_and_the_interface_do_not_share_keys():
    assert not set(i18n.TEXTS) & set(texts.TEXTS)
    assert texts.t("no_such_key", "es") == "no_such_key"
    assert texts.t("sign_out", "fr") == texts.TEXTS["sign_out"]["en"]


def test_every_text_the_pages_ask_for_exists():
    root = Path(__file__).resolve().parent.parent
    asked = set()
    for path in [root / "streamlit_app.py", *(root / "app_pages").glob("*.py"), *(root / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "t" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                asked.add(node.args[0].value)
    assert len(asked) > 100
    assert not asked - set(texts.TEXTS)


@pytest.mark.parametrize("path", ["ui/texts.py", "core/platform/i18n.py"])
def test_no_text_key_is_written_twice(path):
    """A repeated key in a dict literal silently replaces the first text (two pages would share one label)."""
    tree = ast.parse((Path(__file__).resolve().parent.parent / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
