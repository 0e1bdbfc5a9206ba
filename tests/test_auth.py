"""Tokens, identities and Supabase sign-in (core/school/auth.py).

Supabase's side is played by ``GoTrueStub``, a small http.server on 127.0.0.1: no GoTrue (Supabase Auth) binary is
available from any package registry reachable here, so the stub implements only what the tutor calls, with the
shapes GoTrue uses — ``POST /auth/v1/token?grant_type=password``, ``POST /auth/v1/signup`` and
``GET /auth/v1/.well-known/jwks.json`` (one EC P-256 key "ec1"/ES256 and one RSA key "rsa1"/RS256). The real
``jwt.PyJWKClient`` fetches that JWKS over HTTP and the real supabase-py client talks to the token endpoints.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import socket
import stat
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.errors import AuthError, Conflict, InvalidInput, SettingsError
from core.platform.i18n import ERRORS
from core.platform.settings import Settings
from core.school.auth import Identity, SupabaseAuth, TokenService, load_or_create_secret

APP_SECRET = "test-app-secret-" + "x" * 56
LEGACY_SECRET = "test-supabase-legacy-secret-" + "y" * 48
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
EC_PUBLIC_PEM = EC_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
DROP = object()


def make_settings(tmp_path, **values) -> Settings:
    return Settings.load({"TUTOR_DATA_DIR": str(tmp_path), **values}, environ={}, env_file=None)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


def hs256_forged(payload: dict, key: bytes, **header) -> str:
    """An HS256 token signed by hand (PyJWT itself refuses a PEM as an HMAC key — the attacker does not)."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def claims(base: dict, **overrides) -> dict:
    merged = {**base, **overrides}
    return {name: value for name, value in merged.items() if value is not DROP}


def app_claims(**overrides) -> dict:
    now = int(time.time())
    return claims({"sub": "user-1", "email": "ana@example.com", "role": "student", "name": "Ana", "lang": "es",
                   "iat": now, "exp": now + 600, "aud": "tutor", "iss": "tutor", "ver": 0}, **overrides)


def supabase_claims(issuer: str, **overrides) -> dict:
    now = int(time.time())
    return claims({"sub": "9f1c2d3e-0000-4000-8000-000000000001", "email": "bea@example.com",
                   "role": "authenticated", "aud": "authenticated", "iss": issuer, "iat": now, "exp": now + 600,
                   "app_metadata": {"provider": "email", "role": "teacher"},
                   "user_metadata": {"name": "Bea", "language": "en"}, "session_id": str(uuid.uuid4())},
                  **overrides)


def app_token(**overrides) -> str:
    return jwt.encode(app_claims(**overrides), APP_SECRET, algorithm="HS256")


def es256(payload: dict, kid: str | None = "ec1", key=EC_KEY) -> str:
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid} if kid else None)


def rs256(payload: dict, kid: str | None = "rsa1") -> str:
    return jwt.encode(payload, RSA_KEY, algorithm="RS256", headers={"kid": kid} if kid else None)


def tampered_signature(token: str) -> str:
    head, body, signature = token.split(".")
    replacement = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBA"
    return f"{head}.{body}.{signature[:-6]}{replacement}"


def public_jwk(key, kid: str, alg: str) -> dict:
    algorithm = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
    return {**algorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": alg, "use": "sig"}


# --- the GoTrue stub ---------------------------------------------------------------------------------------------

class GoTrueStub:
    """Just enough of Supabase Auth (GoTrue) for the tutor: password grant, sign-up and the JWKS.

    Paths under ``/broken/`` answer the JWKS with a non-JSON page and under ``/failing/`` with a 500, so a
    ``SUPABASE_URL`` of ``<url>/broken`` or ``<url>/failing`` gives a project whose key endpoint misbehaves.
    """

    def __init__(self):
        self.users = {"bea@example.com": ("correct horse battery", {"role": "teacher"})}
        self.jwks_requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.url}/auth/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def session(self, email: str, app_metadata: dict, user_metadata: dict) -> dict:
        user = self.user(email, app_metadata, user_metadata)
        now = int(time.time())
        token = es256(supabase_claims(self.issuer, sub=user["id"], email=email, app_metadata=user["app_metadata"],
                                      user_metadata=user_metadata, iat=now, exp=now + 3600))
        return {"access_token": token, "token_type": "bearer", "expires_in": 3600, "expires_at": now + 3600,
                "refresh_token": "stub-refresh-token", "user": user}

    @staticmethod
    def user(email: str, app_metadata: dict, user_metadata: dict) -> dict:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, email)), "aud": "authenticated", "role": "authenticated",
                "email": email, "app_metadata": {"provider": "email", "providers": ["email"], **app_metadata},
                "user_metadata": user_metadata, "created_at": now, "updated_at": now}

    def answer(self, method: str, path: str, query: str, body: dict) -> tuple[int, object]:
        if method == "GET" and path.endswith("/auth/v1/.well-known/jwks.json"):
            self.jwks_requests += 1
            if path.startswith("/broken/"):
                return 200, "<html>maintenance</html>"
            if path.startswith("/failing/"):
                return 500, {"message": "internal error"}
            return 200, {"keys": [public_jwk(EC_KEY, "ec1", "ES256"), public_jwk(RSA_KEY, "rsa1", "RS256")]}
        if method == "POST" and path == "/auth/v1/token" and query == "grant_type=password":
            known = self.users.get(body.get("email"))
            if not known or known[0] != body.get("password"):
                return 400, {"error": "invalid_grant", "error_description": "Invalid login credentials"}
            return 200, self.session(body["email"], known[1], {"name": "Bea"})
        if method == "POST" and path == "/auth/v1/signup":
            email, password = body.get("email"), body.get("password", "")
            if email in self.users:
                return 422, {"code": "user_already_exists", "msg": "User already registered"}
            if len(password) < 8:
                return 422, {"code": "weak_password", "msg": "Password should be at least 8 characters.",
                             "weak_password": {"reasons": ["length"]}}
            self.users[email] = (password, {})
            if email.endswith("@confirm.example"):
                return 200, self.user(email, {}, body.get("data") or {})
            return 200, self.session(email, {}, body.get("data") or {})
        return 404, {"code": "not_found", "msg": "not found"}

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, method: str):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if method == "POST" else {}
                status, payload = stub.answer(method, url.path, url.query, body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._reply("GET")

            def do_POST(self):
                self._reply("POST")

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="module")
def gotrue():
    stub = GoTrueStub()
    yield stub
    stub.close()


@pytest.fixture
def service(tmp_path, gotrue):
    """App tokens with APP_SECRET, Supabase tokens from the stub's project verified through its JWKS."""
    return TokenService(make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET, SUPABASE_URL=gotrue.url))


def refuse(service: TokenService, token: object) -> str:
    with pytest.raises(AuthError) as caught:
        service.verify(token)
    assert type(caught.value) is AuthError
    return caught.value.code


# --- issuing and the secret --------------------------------------------------------------------------------------

def test_issue_verify_round_trip(tmp_path):
    service = TokenService(make_settings(tmp_path))
    ana = Identity("user-1", "ana@example.com", "teacher", name="Ana", language="en")
    verified = service.verify(service.issue(ana, version=3))
    assert verified.pop("exp") - verified.pop("iat") == 3600
    assert verified == {"sub": "user-1", "email": "ana@example.com", "role": "teacher", "name": "Ana",
                        "lang": "en", "provider": "tutor", "ver": 3}
    assert Identity.from_claims(verified) == ana
    assert service.identify(service.issue(ana)) == ana


def test_issued_claims_and_default_ttl(tmp_path):
    settings = make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET, TUTOR_JWT_TTL=1234)
    token = TokenService(settings).issue(Identity("u", "u@example.com", "student"))
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, APP_SECRET, algorithms=["HS256"], audience="tutor", issuer="tutor")
    assert header["alg"] == "HS256"
    assert payload["exp"] - payload["iat"] == 1234
    assert {"sub", "email", "role", "name", "lang", "iat", "exp", "aud", "iss", "jti", "ver"} <= set(payload)
    assert payload["ver"] == 0
    other = TokenService(settings).issue(Identity("u", "u@example.com", "student"))
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != payload["jti"]


def test_issue_refuses_an_unknown_role(tmp_path):
    with pytest.raises(InvalidInput) as caught:
        TokenService(make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET)).issue(Identity("u", "u@x.io", "root"))
    assert caught.value.code == "invalid_role"


def test_secret_is_generated_once_private_and_reused(tmp_path):
    data_dir = tmp_path / "not" / "yet"
    settings = make_settings(data_dir)
    token = TokenService(settings).issue(Identity("u", "u@example.com", "student"))
    path = data_dir / "jwt_secret"
    secret = path.read_text()
    assert len(secret) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(settings) == secret
    assert TokenService(settings).verify(token)["sub"] == "u"
    assert sorted(p.name for p in data_dir.iterdir()) == ["jwt_secret"]


def test_each_data_dir_gets_its_own_secret(tmp_path):
    assert load_or_create_secret(make_settings(tmp_path / "a")) != load_or_create_secret(make_settings(tmp_path / "b"))


def test_racing_threads_end_up_with_one_secret(tmp_path):
    settings = make_settings(tmp_path / "race")
    barrier = threading.Barrier(16)
    results = []

    def load():
        barrier.wait()
        results.append(load_or_create_secret(settings))

    threads = [threading.Thread(target=load) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and len(set(results)) == 1
    assert (tmp_path / "race" / "jwt_secret").read_text() == results[0]
    assert os.listdir(tmp_path / "race") == ["jwt_secret"]


def test_explicit_secret_is_used_and_nothing_written(tmp_path):
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, TUTOR_JWT_SECRET=APP_SECRET)
    token = TokenService(settings).issue(Identity("u", "u@example.com", "admin"))
    assert jwt.decode(token, APP_SECRET, algorithms=["HS256"], audience="tutor")["role"] == "admin"
    assert load_or_create_secret(settings) == APP_SECRET
    assert not data_dir.exists()


# --- refusals ----------------------------------------------------------------------------------------------------

def _supabase(gotrue, **overrides) -> dict:
    return supabase_claims(gotrue.issuer, **overrides)


REFUSALS = {
    # app tokens
    "app alg none": lambda g: raw_token({"alg": "none", "typ": "JWT"}, app_claims()),
    "app alg None capitalised": lambda g: raw_token({"alg": "None", "typ": "JWT"}, app_claims()),
    "app alg missing": lambda g: raw_token({"typ": "JWT"}, app_claims(), b"x" * 32),
    "app alg HS512 not allowed": lambda g: jwt.encode(app_claims(), APP_SECRET, algorithm="HS512"),
    "app alg RS256 not allowed": lambda g: jwt.encode(app_claims(), RSA_KEY, algorithm="RS256"),
    "app alg ES256 not allowed": lambda g: es256(app_claims()),
    "app HS/RS confusion (RSA public PEM)": lambda g: hs256_forged(app_claims(), RSA_PUBLIC_PEM),
    "app wrong aud": lambda g: app_token(aud="authenticated"),
    "app aud list without tutor": lambda g: app_token(aud=["other", "more"]),
    "app wrong iss": lambda g: app_token(iss="someone-else"),
    "app missing iss": lambda g: app_token(iss=DROP),
    "app missing sub": lambda g: app_token(sub=DROP),
    "app missing role": lambda g: app_token(role=DROP),
    "app missing exp": lambda g: app_token(exp=DROP),
    "app missing iat": lambda g: app_token(iat=DROP),
    "app missing aud": lambda g: app_token(aud=DROP),
    "app missing token version": lambda g: app_token(ver=DROP),
    "app token version not a number": lambda g: app_token(ver="0"),
    "app token version a boolean": lambda g: app_token(ver=False),
    "app null sub": lambda g: app_token(sub=None),
    "app sub not a string": lambda g: app_token(sub=42),
    "app empty sub": lambda g: app_token(sub=""),
    "app role not a tutor role": lambda g: app_token(role="superuser"),
    "app role not a string": lambda g: app_token(role=["admin"]),
    "app iat in the future": lambda g: app_token(iat=int(time.time()) + 300),
    "app iat not a number": lambda g: app_token(iat="yesterday"),
    "app exp not a number": lambda g: app_token(exp="tomorrow"),
    "app nbf in the future": lambda g: app_token(nbf=int(time.time()) + 300),
    "app forged signature (tampered)": lambda g: tampered_signature(app_token()),
    "app forged signature (other secret)": lambda g: jwt.encode(app_claims(), "another-secret-" + "z" * 56,
                                                                algorithm="HS256"),
    "app tampered payload": lambda g: ".".join([app_token().split(".")[0],
                                                b64(json.dumps(app_claims(role="admin")).encode()),
                                                app_token().split(".")[2]]),
    "app signature stripped": lambda g: app_token().rsplit(".", 1)[0] + ".",
    "app too long": lambda g: app_token(name="n" * 9000),
    # Supabase tokens through the JWKS
    "supabase alg none": lambda g: raw_token({"alg": "none", "typ": "JWT", "kid": "ec1"}, _supabase(g)),
    "supabase HS/RS confusion (RSA public PEM, kid rsa1)": lambda g: hs256_forged(_supabase(g), RSA_PUBLIC_PEM,
                                                                                   kid="rsa1"),
    "supabase HS/EC confusion (EC public PEM, kid ec1)": lambda g: hs256_forged(_supabase(g), EC_PUBLIC_PEM,
                                                                                 kid="ec1"),
    "supabase HS256 with the app secret": lambda g: jwt.encode(_supabase(g), APP_SECRET, algorithm="HS256"),
    "supabase kid rsa1 but header ES256": lambda g: es256(_supabase(g), kid="rsa1"),
    "supabase kid ec1 but header RS256": lambda g: rs256(_supabase(g), kid="ec1"),
    "supabase unknown kid": lambda g: es256(_supabase(g), kid="no-such-key"),
    "supabase no kid": lambda g: es256(_supabase(g), kid=None),
    "supabase kid not a string": lambda g: raw_token({"alg": "ES256", "kid": 7}, _supabase(g), b"s" * 64),
    "supabase forged signature (tampered)": lambda g: tampered_signature(es256(_supabase(g))),
    "supabase forged signature (other EC key)": lambda g: es256(_supabase(g), key=OTHER_EC_KEY),
    "supabase wrong aud": lambda g: es256(_supabase(g, aud="tutor")),
    "supabase anon role": lambda g: es256(_supabase(g, role="anon", aud="anon")),
    "supabase anon role, authenticated aud": lambda g: es256(_supabase(g, role="anon")),
    "supabase service_role": lambda g: es256(_supabase(g, role="service_role")),
    "supabase missing sub": lambda g: es256(_supabase(g, sub=DROP)),
    "supabase missing role": lambda g: es256(_supabase(g, role=DROP)),
    "supabase missing exp": lambda g: es256(_supabase(g, exp=DROP)),
    "supabase missing iat": lambda g: rs256(_supabase(g, iat=DROP)),
    "supabase missing aud": lambda g: rs256(_supabase(g, aud=DROP)),
    "supabase iat in the future": lambda g: es256(_supabase(g, iat=int(time.time()) + 300)),
    "other project's issuer": lambda g: es256(supabase_claims("https://other.supabase.co/auth/v1")),
    "issuer with a trailing slash": lambda g: es256(_supabase(g, iss=g.issuer + "/")),
    # not tokens at all
    "empty": lambda g: "",
    "spaces": lambda g: "   ",
    "one word": lambda g: "garbage",
    "two segments": lambda g: "abc.def",
    "three garbage segments": lambda g: "abc.def.ghi",
    "dots only": lambda g: "..",
    "bearer prefix": lambda g: "Bearer " + app_token(),
    "bad base64": lambda g: "!!!.@@@.###",
    "non-canonical base64 padding": lambda g: "e30===.e30.",
    "header not JSON": lambda g: f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'sig')}",
    "header JSON list": lambda g: f"{b64(b'[1, 2]')}.{b64(b'{}')}.{b64(b'sig')}",
    "header deeply nested": lambda g: f"{b64(b'[' * 3000 + b']' * 3000)}.{b64(b'{}')}.{b64(b'sig')}",
    "payload not JSON": lambda g: hs256_forged({}, APP_SECRET.encode()).split(".")[0] + "."
                                  + b64(b"\xff\xfe") + "." + b64(b"sig"),
    "payload JSON list": lambda g: raw_token({"alg": "HS256"}, [1, 2], b"sig"),
    "crit header unknown": lambda g: jwt.encode(app_claims(), APP_SECRET, algorithm="HS256",
                                                headers={"crit": ["exp"], "exp": 1}),
    "non-ASCII": lambda g: "ñandú.ñandú.ñandú",
    "NUL bytes": lambda g: "\x00.\x00.\x00",
    "lone surrogate": lambda g: "\ud800.\ud800.\ud800",
    "too long garbage": lambda g: "a" * 9000,
    "valid token with trailing junk": lambda g: app_token() + "." + "x",
    # not strings
    "None": lambda g: None,
    "int": lambda g: 12345,
    "float": lambda g: 1.5,
    "bool": lambda g: True,
    "bytes": lambda g: app_token().encode(),
    "list": lambda g: [app_token()],
    "dict": lambda g: {"token": app_token()},
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_as_invalid(service, gotrue, case):
    assert refuse(service, REFUSALS[case](gotrue)) == "auth_invalid"


@pytest.mark.parametrize("make", [
    pytest.param(lambda g: app_token(exp=int(time.time()) - 120), id="app"),
    pytest.param(lambda g: es256(_supabase(g, exp=int(time.time()) - 120)), id="supabase ES256"),
    pytest.param(lambda g: rs256(_supabase(g, exp=int(time.time()) - 120)), id="supabase RS256"),
])
def test_expired_is_refused_as_expired(service, gotrue, make):
    assert refuse(service, make(gotrue)) == "auth_expired"


def test_issued_token_past_its_ttl_is_expired(tmp_path):
    service = TokenService(make_settings(tmp_path))
    assert refuse(service, service.issue(Identity("u", "u@example.com", "student"), ttl=-60)) == "auth_expired"


def test_clock_skew_within_leeway_is_accepted(service):
    assert service.verify(app_token(iat=int(time.time()) + 20))["sub"] == "user-1"


@pytest.mark.parametrize("suffix", ["", "/broken", "/failing"])
def test_jwks_endpoint_down_or_broken(tmp_path, gotrue, suffix):
    url = closed_port_url() if not suffix else gotrue.url + suffix
    service = TokenService(make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET, SUPABASE_URL=url))
    assert refuse(service, es256(supabase_claims(f"{url}/auth/v1"))) == "auth_invalid"


def test_jwks_client_failures_never_escape(tmp_path):
    class Exploding(jwt.PyJWKClient):
        def get_signing_key(self, kid):
            raise RuntimeError("boom")

    url = "https://project.supabase.co"
    service = TokenService(make_settings(tmp_path, SUPABASE_URL=url),
                           jwks_client=Exploding(f"{url}/auth/v1/.well-known/jwks.json"))
    assert refuse(service, es256(supabase_claims(f"{url}/auth/v1"))) == "auth_invalid"


def test_symmetric_key_from_a_jwks_is_refused(tmp_path):
    secret = b"a-symmetric-key-nobody-should-publish-" + b"k" * 32

    class Symmetric(jwt.PyJWKClient):
        def get_signing_key(self, kid):
            return jwt.PyJWK({"kty": "oct", "k": b64(secret), "kid": kid, "alg": "HS256"})

    url = "https://project.supabase.co"
    service = TokenService(make_settings(tmp_path, SUPABASE_URL=url),
                           jwks_client=Symmetric(f"{url}/auth/v1/.well-known/jwks.json"))
    assert refuse(service, hs256_forged(supabase_claims(f"{url}/auth/v1"), secret, kid="oct1")) == "auth_invalid"


def test_mutated_tokens_only_ever_raise_auth_errors(service, gotrue):
    rng = random.Random(1234)
    originals = [app_token(), es256(_supabase(gotrue)), rs256(_supabase(gotrue))]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"\x00é"
    for _ in range(600):
        token = list(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(token))
            operation = rng.random()
            if operation < 0.5:
                token[position] = rng.choice(alphabet)
            elif operation < 0.75:
                del token[position]
            else:
                token.insert(position, rng.choice(alphabet))
        mutated = "".join(token)
        if mutated in originals:
            continue
        try:
            service.verify(mutated)
        except AuthError as error:
            assert error.code in ("auth_invalid", "auth_expired")


# --- Supabase tokens accepted ------------------------------------------------------------------------------------

def test_supabase_es256_and_rs256_via_jwks(service, gotrue):
    before = gotrue.jwks_requests
    teacher = service.verify(es256(_supabase(gotrue)))
    admin = service.verify(rs256(_supabase(gotrue, app_metadata={"provider": "email", "role": "admin"})))
    assert teacher.pop("exp") - teacher.pop("iat") == 600
    assert teacher == {"sub": "9f1c2d3e-0000-4000-8000-000000000001", "email": "bea@example.com",
                       "role": "teacher", "name": "Bea", "lang": "en", "provider": "supabase", "ver": None}
    assert admin["role"] == "admin" and admin["provider"] == "supabase"
    for _ in range(5):
        service.verify(es256(_supabase(gotrue)))
    assert gotrue.jwks_requests - before == 1


@pytest.mark.parametrize("app_metadata", [DROP, {}, {"role": "root"}, {"role": ["admin"]}, "admin"],
                         ids=["absent", "empty", "unknown role", "role not a string", "not an object"])
def test_supabase_role_defaults_to_student(service, gotrue, app_metadata):
    assert service.verify(es256(_supabase(gotrue, app_metadata=app_metadata)))["role"] == "student"


def test_supabase_accepts_an_audience_list(service, gotrue):
    assert service.verify(es256(_supabase(gotrue, aud=["authenticated"])))["role"] == "teacher"


def test_injected_jwks_client_is_used(tmp_path, gotrue):
    url = "https://project.supabase.co"
    client = jwt.PyJWKClient(f"{gotrue.issuer}/.well-known/jwks.json")
    service = TokenService(make_settings(tmp_path, SUPABASE_URL=url + "/"), jwks_client=client)
    assert service.verify(rs256(supabase_claims(f"{url}/auth/v1")))["provider"] == "supabase"


@pytest.fixture
def legacy(tmp_path):
    url = "https://project.supabase.co"
    settings = make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET, SUPABASE_URL=url,
                             SUPABASE_JWT_SECRET=LEGACY_SECRET)
    return TokenService(settings), f"{url}/auth/v1"


def test_supabase_legacy_hs256_secret_accepted(legacy):
    service, issuer = legacy
    verified = service.verify(jwt.encode(supabase_claims(issuer), LEGACY_SECRET, algorithm="HS256"))
    assert verified["role"] == "teacher" and verified["provider"] == "supabase"
    assert service.verify(app_token())["provider"] == "tutor"


@pytest.mark.parametrize("make", [
    pytest.param(lambda issuer: jwt.encode(supabase_claims(issuer), APP_SECRET, algorithm="HS256"), id="app secret"),
    pytest.param(lambda issuer: es256(supabase_claims(issuer)), id="ES256"),
    pytest.param(lambda issuer: jwt.encode(supabase_claims(issuer), LEGACY_SECRET, algorithm="HS512"), id="HS512"),
    pytest.param(lambda issuer: raw_token({"alg": "none"}, supabase_claims(issuer)), id="alg none"),
    pytest.param(lambda issuer: jwt.encode(supabase_claims(issuer, aud="tutor"), LEGACY_SECRET, algorithm="HS256"),
                 id="wrong aud"),
    pytest.param(lambda issuer: tampered_signature(jwt.encode(supabase_claims(issuer), LEGACY_SECRET,
                                                              algorithm="HS256")), id="forged signature"),
])
def test_supabase_legacy_refusals(legacy, make):
    service, issuer = legacy
    assert refuse(service, make(issuer)) == "auth_invalid"


def test_supabase_tokens_refused_without_supabase_url(tmp_path, gotrue):
    service = TokenService(make_settings(tmp_path, TUTOR_JWT_SECRET=APP_SECRET))
    assert refuse(service, es256(_supabase(gotrue))) == "auth_invalid"


# --- Supabase Auth sign-in against the stub ----------------------------------------------------------------------

@pytest.fixture
def supabase_auth(tmp_path, gotrue):
    settings = make_settings(tmp_path, SUPABASE_URL=gotrue.url, SUPABASE_KEY="stub-anon-key")
    return SupabaseAuth(settings), TokenService(settings)


def test_sign_in_returns_a_verifiable_token(supabase_auth):
    auth, tokens = supabase_auth
    identity = tokens.identify(auth.sign_in("bea@example.com", "correct horse battery"))
    assert identity.email == "bea@example.com" and identity.role == "teacher" and identity.name == "Bea"


@pytest.mark.parametrize("email, password", [("bea@example.com", "wrong password"),
                                             ("nobody@example.com", "correct horse battery"),
                                             ("bea@example.com", ""), ("", "")])
def test_sign_in_wrong_credentials(supabase_auth, email, password):
    with pytest.raises(AuthError) as caught:
        supabase_auth[0].sign_in(email, password)
    assert caught.value.code == "auth_failed"


def test_sign_in_with_supabase_down(tmp_path):
    auth = SupabaseAuth(make_settings(tmp_path, SUPABASE_URL=closed_port_url(), SUPABASE_KEY="k"))
    with pytest.raises(AuthError) as caught:
        auth.sign_in("bea@example.com", "correct horse battery")
    assert caught.value.code == "auth_unavailable"
    assert set(ERRORS["auth_unavailable"]) == {"es", "en"}


def test_sign_up_returns_a_token_for_a_new_account(supabase_auth):
    auth, tokens = supabase_auth
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    verified = tokens.verify(auth.sign_up(email, "a long enough password", name="Nuevo"))
    assert verified["email"] == email and verified["role"] == "student" and verified["name"] == "Nuevo"
    assert tokens.verify(auth.sign_in(email, "a long enough password"))["email"] == email


def test_sign_up_awaiting_email_confirmation_returns_none(supabase_auth):
    assert supabase_auth[0].sign_up(f"{uuid.uuid4().hex[:8]}@confirm.example", "a long enough password") is None


def test_sign_up_refusals(supabase_auth):
    auth = supabase_auth[0]
    with pytest.raises(Conflict) as taken:
        auth.sign_up("bea@example.com", "another long password")
    assert taken.value.code == "registration_failed"
    with pytest.raises(InvalidInput) as weak:
        auth.sign_up(f"{uuid.uuid4().hex[:8]}@example.com", "short")
    assert weak.value.code == "weak_password"


def test_supabase_auth_needs_url_and_key(tmp_path):
    for values in ({}, {"SUPABASE_URL": "https://p.supabase.co"}, {"SUPABASE_URL": "nope", "SUPABASE_KEY": "k"}):
        with pytest.raises(SettingsError):
            SupabaseAuth(make_settings(tmp_path, **values))
