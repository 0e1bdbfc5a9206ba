"""Settings as data: every setting has a name, a default and a help line.

Values come, highest first, from explicit overrides, the process environment, a ``.env`` file, Streamlit secrets
(passed in as a plain mapping by the pages; ``core`` never imports Streamlit) and finally the defaults below.
The README's settings table is checked against this list by the tests.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from dotenv import dotenv_values

from ..errors import SettingsError
from .limits import Rate


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parser: Callable[[Any], Any] | None = None  # for values that need more than str/int/float/bool; raises ValueError

    @property
    def attribute(self) -> str:
        """The Python name: ``TUTOR_CHUNK_SIZE`` -> ``chunk_size``, ``DATABASE_URL`` -> ``database_url``."""
        return self.name.lower().removeprefix("tutor_")

    def parse(self, raw: Any) -> Any:
        if self.parser is not None:
            try:
                return self.parser(raw)
            except ValueError:
                raise SettingsError("settings_invalid", setting=self.name, value=str(raw).strip()) from None
        kind = type(self.default)
        if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
            return raw
        text = str(raw).strip()
        try:
            if kind is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(text)
            return kind(text)
        except ValueError:
            raise SettingsError("settings_invalid", setting=self.name, value=text) from None


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(raw)
        value = int(str(raw).strip())
        if not low <= value <= high:
            raise ValueError(raw)
        return value
    return parse


MIN_SECRET_BYTES = 32


def _secret(raw: Any) -> str:
    """Empty (generate one) or at least ``MIN_SECRET_BYTES`` bytes: a short HMAC secret can be brute-forced."""
    text = str(raw).strip()
    if text and len(text.encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES:
        raise ValueError(f"shorter than {MIN_SECRET_BYTES} bytes")
    return text


def _rate(name: str, default: str, who: str) -> Setting:
    action = "questions asked" if "_ASK_" in name else "chat messages sent"
    return Setting(name, default, f"Most {action} by one {who} in a sliding window: `N/S` is N per S seconds "
                                  f"(`20/60`); `0` is unlimited.", Rate.parse)


SETTINGS: tuple[Setting, ...] = (
    Setting("TUTOR_DATA_DIR", "./data",
            "Folder for the SQLite database, the embedded session store and the generated JWT secret."),
    Setting("DATABASE_URL", "",
            "SQLAlchemy URL of the database. Empty: SQLite file `tutor.db` in the data dir. "
            "`postgres://…`/`postgresql://…` (Supabase included) use psycopg 3."),
    Setting("REDIS_URL", "",
            "Redis for sessions, event logs, locks and rate limits. Empty: embedded SQLite store in the data dir."),
    Setting("TUTOR_REDIS_PREFIX", "tutor:", "Prefix of every Redis key, so several apps or test runs can share one Redis."),
    Setting("OPENAI_API_KEY", "", "API key of the OpenAI-compatible provider. Empty: no provider (cache and library only)."),
    Setting("OPENAI_BASE_URL", "", "Base URL of an OpenAI-compatible server (e.g. `http://127.0.0.1:8000/v1`). Empty: OpenAI."),
    Setting("TUTOR_MODEL", "gpt-4o-mini", "Model name sent to the provider."),
    Setting("TUTOR_AI_TIMEOUT", 60.0, "Seconds before one provider request times out."),
    Setting("TUTOR_AI_MAX_RETRIES", 2, "Retries of a provider request on 429, 5xx, timeouts and dropped connections (the SDK's own retry)."),
    Setting("TUTOR_JWT_SECRET", "",
            "Secret that signs the app's HS256 tokens, at least 32 bytes. Empty: a random one is generated into the "
            "data dir on first run.", _secret),
    Setting("TUTOR_JWT_TTL", 3600, "Lifetime of an issued token, in seconds. The app renews the token of an active "
                                   "user once it is past half its life."),
    Setting("TUTOR_CHUNK_SIZE", 12, "Characters per streamed content chunk (a word or a formula is never split). "
                                    "With the delay, the reading pace: 12 every 200 ms is ≈ 60 characters/s, "
                                    "about twice a fast reader, so the text stays ahead of the student while "
                                    "each drawing still appears with the sentence it belongs to."),
    Setting("TUTOR_CHUNK_DELAY_MS", 200, "Milliseconds between chunks; 0 streams without pacing."),
    Setting("TUTOR_SESSION_TTL", 1800, "Seconds a tutor session stays live in the session store; renewed on activity."),
    Setting("TUTOR_MAX_QUESTION_CHARS", 1000, "Longest question accepted, in characters."),
    Setting("TUTOR_MATCH_SERVE_SCORE", 85.0, "Similarity (0–100, shared content words, typos forgiven) at which a reworded question is served a stored answer, once every guard (numbers, expressions, variables, units, names, negation, task, topic) agrees. 101 turns similar matching off."),
    Setting("TUTOR_MATCH_SUGGEST_SCORE", 40.0, "Similarity (0–100) from which a stored answer is offered as \"did you mean…?\" on a miss."),
    Setting("TUTOR_DEFAULT_LANGUAGE", "es", "Language of new users and of the interface when none is chosen (`es` or `en`)."),
    Setting("SUPABASE_URL", "", "Supabase project URL. With a key set, sign-in goes through Supabase Auth."),
    Setting("SUPABASE_KEY", "", "Supabase anon (publishable) key used for Supabase Auth."),
    Setting("SUPABASE_JWT_SECRET", "",
            "Supabase's legacy HS256 JWT secret. Empty: Supabase tokens are verified with the project's JWKS keys."),
    Setting("TUTOR_LOG_LEVEL", "WARNING", "Logging level of the `core` package."),
    _rate("TUTOR_RATE_ASK_STUDENT", "20/60", "student"),
    _rate("TUTOR_RATE_ASK_TEACHER", "60/60", "teacher"),
    _rate("TUTOR_RATE_ASK_ADMIN", "0", "admin"),
    _rate("TUTOR_RATE_CHAT_STUDENT", "30/60", "student"),
    _rate("TUTOR_RATE_CHAT_TEACHER", "60/60", "teacher"),
    _rate("TUTOR_RATE_CHAT_ADMIN", "0", "admin"),
    Setting("TUTOR_RATE_SIGNIN", "10/300",
            "Most sign-in attempts (right or wrong) for one account in a sliding window, from any client: `N/S` "
            "is N per S seconds; `0` is unlimited.", Rate.parse),
    Setting("TUTOR_RATE_SIGNIN_CLIENT", "60/300",
            "Most sign-in attempts from one client (IP address; `cli` for the command line) in a sliding window.",
            Rate.parse),
    Setting("TUTOR_RATE_REGISTER", "10/600",
            "Most registration attempts from one client (IP address) in a sliding window; the command line's "
            "`users add` is an operator tool and is not limited.", Rate.parse),
    Setting("TUTOR_RATE_PAUSE", "60/60",
            "Most pauses plus resumes of explanations by one user, any role, in a sliding window.", Rate.parse),
    Setting("TUTOR_RATE_NEW_CHAT", "20/60", "Most new chats opened by one user, any role, in a sliding window.",
            Rate.parse),
    Setting("TUTOR_CHAT_MESSAGES_PER_CREDIT", 5,
            "Chat messages one credit pays for, taken with the first message of each group (refused at zero "
            "credits); `0` makes chat free.", _int_between(0, 1000)),
    Setting("TUTOR_STARTING_CREDITS", 10, "Credits a new user starts with; each newly generated answer costs its asker "
                                          "one (cached answers and library lessons are free).",
            _int_between(0, 1000)),
    Setting("TUTOR_GENERATION_LOCK_MS", 30000,
            "Milliseconds the single-flight generation lock lives without a heartbeat: after a crashed process, "
            "the next asker regenerates and the dead generation's readers get an error after this long.",
            _int_between(1000, 600_000)),
    Setting("TUTOR_MATH_CHECK_TIMEOUT_MS", 10000,
            "Most milliseconds the maths check (SymPy, in a worker process, beside the stream) may take per step "
            "and for the whole answer; a check over time is killed and counts as not checkable. 0 turns it off.",
            _int_between(0, 600_000)),
    Setting("TUTOR_METRICS_PORT", 0, "Port of the Prometheus metrics endpoint on 127.0.0.1 (`/metrics`); 0 is off.",
            _int_between(0, 65535)),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_BY_ATTRIBUTE = {s.attribute: s for s in SETTINGS}


class Settings:
    """Resolved settings. Read as ``settings.chunk_size`` or ``settings["TUTOR_CHUNK_SIZE"]``."""

    def __init__(self, values: Mapping[str, Any]):
        self._values = dict(values)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
             env_file: str | Path | None = ".env", secrets: Mapping[str, Any] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
        layers = [overrides or {}, environ, file_values, secrets or {}]
        unknown = set(overrides or {}) - set(_BY_NAME)
        if unknown:
            raise SettingsError("settings_unknown", setting=", ".join(sorted(unknown)))
        values = {}
        for setting in SETTINGS:
            raw = next((layer[setting.name] for layer in layers
                        if setting.name in layer and layer[setting.name] is not None), setting.default)
            values[setting.name] = setting.parse(raw)
        return cls(values)

    def replace(self, **overrides: Any) -> "Settings":
        values = dict(self._values)
        values.update({name: _BY_NAME[name].parse(v) for name, v in overrides.items()})
        return Settings(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, attribute: str) -> Any:
        try:
            return self._values[_BY_ATTRIBUTE[attribute].name]
        except KeyError:
            raise AttributeError(attribute) from None

    @property
    def data_dir(self) -> Path:
        return Path(self._values["TUTOR_DATA_DIR"]).expanduser()

    @property
    def ai_configured(self) -> bool:
        return bool(self._values["OPENAI_API_KEY"] or self._values["OPENAI_BASE_URL"])

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)
