"""Every failure the tutor reports carries a stable ``code`` and a message in Spanish and English.

    TutorError
     ├── SettingsError        settings_invalid, settings_unknown
     ├── InvalidInput         question_empty, question_too_long, question_not_text, invalid_email, weak_password,
     │                        invalid_role, invalid_language, invalid_name, invalid_text, invalid_rating,
     │                        formula_macro, formula_size, formula_color, formula_too_long, link_not_allowed,
     │                        invalid_event_id, invalid_position, search_too_long, fresh_stored_only, ...
     ├── AuthError            auth_invalid, auth_expired, auth_failed
     ├── Forbidden            forbidden
     ├── NotFound             not_found, unknown_user, unknown_class, session_not_found, chat_not_found,
     │                        step_not_found
     ├── Conflict             registration_failed, not_stored
     ├── AIError              ai_unavailable, ai_failed, ai_timeout, ai_rate_limited, ai_invalid_output
     ├── RateLimited          rate_limited  (has ``retry_after`` seconds)
     ├── InsufficientCredits  insufficient_credits
     └── StoreError           store_unavailable (the database or the session store is down or failing)
    (plain TutorError: error, payload_too_large, method_not_allowed — the HTTP API's own refusals)

Callers catch the branch they can handle; the pages and the CLI show ``error.message_for(language)``.
"""
from __future__ import annotations

from typing import Any


class TutorError(Exception):
    default_code = "error"

    def __init__(self, code: str | None = None, /, **params: Any):
        self.code = code or self.default_code
        self.params = params
        super().__init__(self.message_for("en"))

    def message_for(self, language: str) -> str:
        from .platform.i18n import error_message
        return error_message(self.code, language, **self.params)

    def to_event(self, language: str = "en") -> dict:
        return {"event": "error", "data": {"code": self.code, "message": self.message_for(language)}}


class SettingsError(TutorError):
    default_code = "settings_invalid"


class InvalidInput(TutorError):
    default_code = "invalid_input"


class AuthError(TutorError):
    default_code = "auth_invalid"


class Forbidden(TutorError):
    default_code = "forbidden"


class NotFound(TutorError):
    default_code = "not_found"


class Conflict(TutorError):
    default_code = "conflict"


class AIError(TutorError):
    default_code = "ai_failed"


class RateLimited(TutorError):
    default_code = "rate_limited"

    def __init__(self, code: str | None = None, /, *, retry_after: float = 1.0, **params: Any):
        self.retry_after = retry_after
        super().__init__(code, retry_after=max(1, round(retry_after)), **params)


class InsufficientCredits(TutorError):
    default_code = "insufficient_credits"


class StoreError(TutorError):
    default_code = "store_unavailable"
