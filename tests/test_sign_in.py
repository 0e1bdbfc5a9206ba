"""Sign-in and registration under attack (issue 13): throttles, revocation, renewal, private data files.

Both backends: the throttles' windows live in the session store (embedded SQLite or Redis), the token versions in
the database (SQLite or PostgreSQL).
"""
import stat
import time

import jwt
import pytest
import sqlalchemy as sa

from core.errors import AuthError, RateLimited
from core.platform import db
from core.school.auth import load_or_create_secret

PASSWORD = "otter-42-moss"


def users(tutor) -> int:
    with tutor.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.users)).scalar()


def refused(action) -> RateLimited:
    with pytest.raises(RateLimited) as error:
        action()
    assert error.value.code == "rate_limited" and error.value.retry_after > 0
    return error.value


# --- throttles -----------------------------------------------------------------------------------------------------

def test_guessing_a_password_is_stopped_before_the_right_one_gets_in(make_tutor, backend):
    tutor = make_tutor(**backend)
    tutor.accounts.register("ana@example.org", PASSWORD)
    for attempt in range(10):  # TUTOR_RATE_SIGNIN 10/300 by default
        with pytest.raises(AuthError):
            tutor.sign_in("ana@example.org", f"guess-{attempt}", client=f"198.51.100.{attempt}")
    error = refused(lambda: tutor.sign_in("ANA@example.org", PASSWORD, client="203.0.113.9"))
    assert 250 < error.retry_after <= 300
    assert f"Wait {round(error.retry_after)} s." in error.message_for("en")
    tutor.accounts.register("bob@example.org", PASSWORD)  # the window is per account: others are untouched
    assert tutor.identity(tutor.sign_in("bob@example.org", PASSWORD)).email == "bob@example.org"


def test_unknown_emails_are_throttled_like_known_ones(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_SIGNIN="3/300")
    for _ in range(3):
        with pytest.raises(AuthError):
            tutor.sign_in("nobody@example.org", PASSWORD)
    refused(lambda: tutor.sign_in("nobody@example.org", PASSWORD))
    for _ in range(3):
        with pytest.raises(AuthError):
            tutor.sign_in("not an email", PASSWORD)
    refused(lambda: tutor.sign_in("NOT AN EMAIL ", PASSWORD))


def test_one_client_trying_many_accounts_is_throttled(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_SIGNIN_CLIENT="4/300")
    for number in range(4):
        tutor.accounts.register(f"s{number}@example.org", PASSWORD)
        tutor.sign_in(f"s{number}@example.org", PASSWORD, client="203.0.113.7")
    tutor.accounts.register("s9@example.org", PASSWORD)
    refused(lambda: tutor.sign_in("s9@example.org", PASSWORD, client="203.0.113.7"))
    assert tutor.sign_in("s9@example.org", PASSWORD, client="203.0.113.8")


def test_mass_registration_from_one_client_is_throttled_and_writes_nothing(make_tutor, backend):
    tutor = make_tutor(**backend, TUTOR_RATE_REGISTER="3/600", TUTOR_STARTING_CREDITS=10)
    for number in range(3):
        tutor.register(f"bot{number}@example.org", PASSWORD, client="203.0.113.7")
    refused(lambda: tutor.register("bot3@example.org", PASSWORD, client="203.0.113.7"))
    assert users(tutor) == 3
    tutor.register("someone@example.org", PASSWORD, client="198.51.100.1")
    for number in range(5):  # an operator (the CLI's `users add`) passes no client: not limited
        tutor.register(f"pupil{number}@example.org", PASSWORD)
    assert users(tutor) == 9


# --- revocation and renewal ------------------------------------------------------------------------------------------

def test_sign_out_revokes_every_token_of_the_user(make_tutor, backend):
    tutor = make_tutor(**backend)
    tutor.accounts.register("ana@example.org", PASSWORD)
    tutor.accounts.register("bob@example.org", PASSWORD)
    phone, laptop = tutor.sign_in("ana@example.org", PASSWORD), tutor.sign_in("ana@example.org", PASSWORD)
    bob = tutor.sign_in("bob@example.org", PASSWORD)
    tutor.sign_out(phone)
    for token in (phone, laptop):
        with pytest.raises(AuthError) as error:
            tutor.identity(token)
        assert error.value.code == "auth_invalid"
        with pytest.raises(AuthError):
            tutor.renew(token)
    assert tutor.identity(bob).email == "bob@example.org"
    fresh = tutor.sign_in("ana@example.org", PASSWORD)
    with pytest.raises(AuthError):
        tutor.sign_out(laptop)  # a stolen, revoked token cannot sign Ana out of her new session
    assert tutor.identity(fresh).email == "ana@example.org"


def _aged_token(tutor, email: str, *, age: int, life: int, version: int | None = None) -> str:
    user = tutor.accounts.by_email(email)
    now = int(time.time())
    claims = {"sub": user.id, "email": user.email, "role": user.role, "name": user.name, "lang": user.language,
              "iat": now - age, "exp": now - age + life, "aud": "tutor", "iss": "tutor",
              "ver": user.token_version if version is None else version}
    return jwt.encode(claims, load_or_create_secret(tutor.settings), algorithm="HS256")


def test_tokens_are_renewed_past_half_their_life_only(make_tutor, backend):
    tutor = make_tutor(**backend)
    tutor.accounts.register("ana@example.org", PASSWORD)
    assert tutor.renew(tutor.sign_in("ana@example.org", PASSWORD)) is None
    assert tutor.renew(_aged_token(tutor, "ana@example.org", age=1000, life=3600)) is None
    fresh = tutor.renew(_aged_token(tutor, "ana@example.org", age=2000, life=3600))
    claims = jwt.decode(fresh, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600 and claims["iat"] >= int(time.time()) - 5
    assert tutor.identity(fresh).email == "ana@example.org"


def test_a_token_of_an_older_version_is_refused(make_tutor, backend):
    tutor = make_tutor(**backend)
    user = tutor.accounts.register("ana@example.org", PASSWORD)
    tutor.accounts.revoke_tokens(user.id)
    for version in (0, 2):
        with pytest.raises(AuthError):
            tutor.identity(_aged_token(tutor, "ana@example.org", age=0, life=600, version=version))
    assert tutor.identity(_aged_token(tutor, "ana@example.org", age=0, life=600, version=1)).user_id == user.id


# --- the data dir ----------------------------------------------------------------------------------------------------

def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_and_its_files_are_private(make_tutor, tmp_path):
    data = tmp_path / "fresh" / "data"
    tutor = make_tutor(TUTOR_DATA_DIR=data)
    tutor.accounts.register("ana@example.org", PASSWORD)
    tutor.sign_in("ana@example.org", PASSWORD)  # writes the embedded store too
    assert mode(data) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert {"tutor.db", "sessions.db", "jwt_secret"} <= set(files) and any(f.endswith("-wal") for f in files)
    assert {name: mode(data / name) for name in files} == {name: 0o600 for name in files}


def test_existing_database_files_are_made_private(make_tutor, data_dir):
    make_tutor().close()
    for path in data_dir.iterdir():
        path.chmod(0o644)
    make_tutor()
    assert {p.name: mode(p) for p in data_dir.iterdir() if p.name.endswith((".db", "-wal", "-shm"))} == {
        p.name: 0o600 for p in data_dir.iterdir() if p.name.endswith((".db", "-wal", "-shm"))}
