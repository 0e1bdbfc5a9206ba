import re
from pathlib import Path

import pytest

from core.errors import SettingsError
from core.platform.settings import SETTINGS, Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table():
    rows = set(re.findall(r"^\|\s*`([A-Z_]+)`\s*\|", README.read_text(encoding="utf-8"), re.MULTILINE))
    missing = [s.name for s in SETTINGS if s.name not in rows]
    assert not missing, f"settings missing from the README table: {missing}"
    unknown = rows - {s.name for s in SETTINGS}
    assert not unknown, f"README documents settings that do not exist: {unknown}"


def test_every_setting_has_help_and_a_unique_attribute():
    assert all(s.help.strip() for s in SETTINGS)
    attributes = [s.attribute for s in SETTINGS]
    assert len(attributes) == len(set(attributes))


def test_defaults_need_nothing_configured():
    settings = Settings.load(environ={}, env_file=None)
    assert settings.data_dir == Path("./data")
    assert settings.database_url == "" and settings.redis_url == "" and not settings.ai_configured
    assert settings.jwt_secret == ""
    assert settings.chunk_size == 12 and settings.chunk_delay_ms == 200 and settings.model == "gpt-4o-mini"


def test_precedence_overrides_env_dotenv_secrets(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("TUTOR_CHUNK_SIZE=30\nTUTOR_MODEL=from-file\nTUTOR_SESSION_TTL=99\n")
    settings = Settings.load({"TUTOR_CHUNK_SIZE": 10}, environ={"TUTOR_MODEL": "from-env", "TUTOR_CHUNK_SIZE": "20"},
                             env_file=env_file, secrets={"TUTOR_SESSION_TTL": 5, "TUTOR_CHUNK_DELAY_MS": 7})
    assert settings.chunk_size == 10
    assert settings.model == "from-env"
    assert settings.session_ttl == 99
    assert settings.chunk_delay_ms == 7


def test_bad_values_and_unknown_names_are_clear_errors():
    with pytest.raises(SettingsError) as error:
        Settings.load(environ={"TUTOR_CHUNK_SIZE": "fifty"}, env_file=None)
    assert error.value.code == "settings_invalid" and "TUTOR_CHUNK_SIZE" in str(error.value)
    with pytest.raises(SettingsError) as error:
        Settings.load({"TUTOR_NOPE": 1}, environ={}, env_file=None)
    assert error.value.code == "settings_unknown"


def test_replace_parses_values():
    settings = Settings.load(environ={}, env_file=None).replace(TUTOR_CHUNK_DELAY_MS="0")
    assert settings.chunk_delay_ms == 0


@pytest.mark.parametrize("secret", ["abc", "x" * 31, "ñ" * 15])  # "ñ" is 2 bytes: 30 bytes
def test_a_short_jwt_secret_is_refused(secret):
    with pytest.raises(SettingsError) as error:
        Settings.load({"TUTOR_JWT_SECRET": secret}, environ={}, env_file=None)
    assert error.value.code == "settings_invalid" and "TUTOR_JWT_SECRET" in str(error.value)


@pytest.mark.parametrize("secret", ["", "x" * 32, "ñ" * 16])
def test_an_empty_or_long_enough_jwt_secret_is_accepted(secret):
    assert Settings.load({"TUTOR_JWT_SECRET": secret}, environ={}, env_file=None).jwt_secret == secret


def test_the_default_token_lifetime_is_an_hour():
    assert Settings.load(environ={}, env_file=None).jwt_ttl == 3600
