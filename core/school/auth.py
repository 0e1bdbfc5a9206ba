"""Tokens and identities.

Two kinds of bearer token are accepted (docs/architecture.md, "Tokens"):

* app tokens: HS256 only, signed with the app's secret (``TUTOR_JWT_SECRET``, else a random one generated into
  the data dir on first run), ``aud`` and ``iss`` both ``"tutor"``, ``ver`` the user's token version (the facade
  refuses a token whose ``ver`` is not the user's current one: that is how sign-out revokes);
* Supabase tokens, only when ``SUPABASE_URL`` is set: ``iss`` ``<SUPABASE_URL>/auth/v1``, ``aud`` and ``role``
  ``"authenticated"``, verified with ``SUPABASE_JWT_SECRET`` (legacy HS256) or else with the project's JWKS keys,
  the algorithm pinned to the key's own. The tutor role comes from ``app_metadata.role`` (default ``"student"``).

Which kind a token is comes from its unverified ``iss``; every real check happens in the verified decode.
``TokenService.verify`` refuses with ``AuthError`` only: ``auth_expired`` for an expired token, ``auth_invalid``
for anything else.

``SupabaseAuth`` signs users in and up through Supabase Auth when ``SUPABASE_URL`` and ``SUPABASE_KEY`` are set.
"""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import httpx
import jwt

from ..errors import AuthError, Conflict, InvalidInput, SettingsError
from ..platform.authorization import ROLES
from ..platform.i18n import LANGUAGES

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 8 * 1024
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "role"]
APP_REQUIRED_CLAIMS = REQUIRED_CLAIMS + ["ver"]
SECRET_FILE = "jwt_secret"
SUPABASE_AUDIENCE = "authenticated"
SUPABASE_ROLE = "authenticated"
JWKS_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                             "EdDSA"})
JWKS_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Identity:
    """A verified caller. ``role`` is one of ``ROLES``."""

    user_id: str
    email: str
    role: str
    name: str = ""
    language: str = "es"

    @classmethod
    def from_claims(cls, claims: dict) -> "Identity":
        """The identity in claims as returned by ``TokenService.verify``."""
        return cls(claims["sub"], claims["email"], claims["role"], claims["name"], claims["lang"])


# --- the app's secret ------------------------------------------------------------------------------------------

def load_or_create_secret(settings) -> str:
    """The secret that signs app tokens: ``TUTOR_JWT_SECRET``, else ``<data dir>/jwt_secret``, else a new one.

    A new secret is written to a private (0600) temporary file and hard-linked into place, so a reader never sees
    a half-written file and processes racing on first run all end up with the secret that was linked first.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _publish_secret(path, secrets.token_urlsafe(48))
    return _read_secret(path)


def _publish_secret(path: Path, secret: str) -> None:
    """Create ``path`` holding ``secret`` unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secret)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise SettingsError("settings_invalid", setting="TUTOR_JWT_SECRET", value=f"{path} is empty")
    return secret


# --- issuing and verifying ---------------------------------------------------------------------------------------

class TokenService:
    """Issues the app's tokens and verifies app and Supabase tokens."""

    AUDIENCE = "tutor"
    ISSUER = "tutor"

    def __init__(self, settings, *, jwks_client: jwt.PyJWKClient | None = None):
        self.settings = settings
        self.supabase_issuer = f"{settings.supabase_url.rstrip('/')}/auth/v1" if settings.supabase_url else ""
        self._injected_jwks_client = jwks_client

    @cached_property
    def _secret(self) -> str:
        return load_or_create_secret(self.settings)

    @cached_property
    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._injected_jwks_client is not None:
            return self._injected_jwks_client
        return jwt.PyJWKClient(f"{self.supabase_issuer}/.well-known/jwks.json", cache_keys=True, lifespan=300,
                               timeout=JWKS_TIMEOUT_SECONDS)

    def issue(self, identity: Identity, *, ttl: int | None = None, version: int = 0) -> str:
        """An app token for ``identity`` at token version ``version``, valid for ``ttl`` seconds (default
        ``TUTOR_JWT_TTL``)."""
        if identity.role not in ROLES:
            raise InvalidInput("invalid_role", role=identity.role)
        now = int(time.time())
        claims = {
            "sub": identity.user_id, "email": identity.email, "role": identity.role, "name": identity.name,
            "lang": identity.language, "iat": now, "exp": now + (self.settings.jwt_ttl if ttl is None else ttl),
            "aud": self.AUDIENCE, "iss": self.ISSUER, "jti": secrets.token_urlsafe(16), "ver": version,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: object) -> dict:
        """The claims of a valid token, normalised to ``sub, email, role, name, lang, provider, iat, exp, ver``.

        ``provider`` is ``"tutor"`` or ``"supabase"``, ``role`` is always a tutor role, ``ver`` is ``None`` for
        Supabase tokens. Raises ``AuthError``
        (``auth_expired`` or ``auth_invalid``) and nothing else.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise AuthError("auth_invalid")
        try:
            if self._is_supabase(token):
                return self._verify_supabase(token)
            return self._verify_app(token)
        except AuthError:
            raise
        except jwt.ExpiredSignatureError:
            raise AuthError("auth_expired") from None
        except jwt.PyJWKClientConnectionError as error:
            log.warning("Supabase JWKS endpoint unreachable: %s", error)
            raise AuthError("auth_invalid") from None
        except (jwt.PyJWTError, ValueError) as error:
            log.debug("token refused: %s", error)
            raise AuthError("auth_invalid") from None
        except Exception:
            log.exception("unexpected failure verifying a token")
            raise AuthError("auth_invalid") from None

    def identify(self, token: object) -> Identity:
        """The ``Identity`` behind a valid token; ``AuthError`` otherwise."""
        return Identity.from_claims(self.verify(token))

    def _is_supabase(self, token: str) -> bool:
        """Whether the token claims to come from the configured Supabase project (unverified peek)."""
        if not self.supabase_issuer:
            return False
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == self.supabase_issuer

    def _verify_app(self, token: str) -> dict:
        claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=self.AUDIENCE, issuer=self.ISSUER,
                            leeway=LEEWAY_SECONDS, options={"require": APP_REQUIRED_CLAIMS})
        if claims["role"] not in ROLES or not _is_int(claims["ver"]):
            raise AuthError("auth_invalid")
        return self._normalised(claims, role=claims["role"], name=claims.get("name"), language=claims.get("lang"),
                                provider="tutor")

    def _verify_supabase(self, token: str) -> dict:
        key, algorithm = self._supabase_key(token)
        claims = jwt.decode(token, key, algorithms=[algorithm], audience=SUPABASE_AUDIENCE,
                            issuer=self.supabase_issuer, leeway=LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS})
        if claims["role"] != SUPABASE_ROLE:
            raise AuthError("auth_invalid")
        app_metadata = _mapping(claims.get("app_metadata"))
        user_metadata = _mapping(claims.get("user_metadata"))
        role = app_metadata.get("role") if app_metadata.get("role") in ROLES else "student"
        name = user_metadata.get("name") or user_metadata.get("full_name")
        return self._normalised(claims, role=role, name=name, language=user_metadata.get("language"),
                                provider="supabase")

    def _supabase_key(self, token: str) -> tuple[Any, str]:
        """The key a Supabase token must be signed with and the one algorithm allowed with it."""
        if self.settings.supabase_jwt_secret:
            return self.settings.supabase_jwt_secret, "HS256"
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise AuthError("auth_invalid")
        key = self._jwks_client.get_signing_key(kid)
        if key.algorithm_name not in JWKS_ALGORITHMS:
            raise AuthError("auth_invalid")
        return key, key.algorithm_name

    def _normalised(self, claims: dict, *, role: str, name: Any, language: Any, provider: str) -> dict:
        if not claims["sub"]:
            raise AuthError("auth_invalid")
        return {
            "sub": claims["sub"], "email": _text(claims.get("email")), "role": role, "name": _text(name),
            "lang": language if language in LANGUAGES else self.settings.default_language, "provider": provider,
            "iat": claims["iat"], "exp": claims["exp"], "ver": claims["ver"] if provider == "tutor" else None,
        }


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- Supabase Auth -----------------------------------------------------------------------------------------------

class SupabaseAuth:
    """Email-and-password sign-in and sign-up through Supabase Auth (``SUPABASE_URL`` + ``SUPABASE_KEY``).

    Each call builds its own supabase-py client: the client keeps the signed-in session inside itself, and one
    user's session must never sit in an object shared by every request.
    """

    TIMEOUT_SECONDS = 10.0

    def __init__(self, settings):
        url = urlparse(settings.supabase_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise SettingsError("settings_invalid", setting="SUPABASE_URL", value=settings.supabase_url)
        if not settings.supabase_key:
            raise SettingsError("settings_invalid", setting="SUPABASE_KEY", value="")
        self.url = settings.supabase_url
        self.key = settings.supabase_key

    def sign_in(self, email: str, password: str) -> str:
        """The access token of a password sign-in; ``AuthError("auth_failed")`` on wrong credentials."""
        response = self._call(lambda auth: auth.sign_in_with_password({"email": email, "password": password}),
                              on_refusal=lambda error: AuthError("auth_failed"))
        if response.session is None:
            raise AuthError("auth_failed")
        return response.session.access_token

    def sign_up(self, email: str, password: str, *, name: str = "") -> str | None:
        """The access token of the new account, or ``None`` when Supabase first asks to confirm the email."""
        credentials = {"email": email, "password": password, "options": {"data": {"name": name} if name else {}}}
        response = self._call(lambda auth: auth.sign_up(credentials),
                              on_refusal=lambda error: _sign_up_refusal(error, email))
        return response.session.access_token if response.session else None

    def _call(self, action: Callable[[Any], Any], *, on_refusal: Callable[[Exception], Exception]) -> Any:
        """Run ``action(client.auth)``; a refusal goes through ``on_refusal``, an outage is ``auth_unavailable``."""
        from supabase import AuthError as SupabaseAuthError
        from supabase import ClientOptions, create_client

        with httpx.Client(timeout=self.TIMEOUT_SECONDS) as http:
            options = ClientOptions(httpx_client=http, auto_refresh_token=False, persist_session=False)
            try:
                return action(create_client(self.url, self.key, options).auth)
            except SupabaseAuthError as error:
                status = getattr(error, "status", 0)
                if _is_outage(status):
                    log.warning("Supabase Auth unavailable (%s): %s", status, error.message)
                    raise AuthError("auth_unavailable") from None
                raise on_refusal(error) from None
            except (httpx.HTTPError, ValueError) as error:
                log.warning("unexpected answer from Supabase Auth: %s", error)
                raise AuthError("auth_unavailable") from None


def _is_outage(status: int) -> bool:
    """Whether a Supabase Auth failure is the service's (network, overload, 5xx) rather than the caller's."""
    return status == 0 or status == 429 or status >= 500


def _sign_up_refusal(error: Exception, email: str) -> Exception:
    """The tutor error for a sign-up that Supabase Auth refused."""
    if error.code == "weak_password":
        return InvalidInput("weak_password")
    if error.code in ("user_already_exists", "email_exists") or "already registered" in error.message.lower():
        return Conflict("registration_failed")
    if error.code in ("email_address_invalid", "validation_failed"):
        return InvalidInput("invalid_email", email=email)
    return InvalidInput("invalid_input")
