import pytest
import sqlalchemy as sa

from core.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from core.platform import db, migrations
from core.school.accounts import Accounts


@pytest.fixture
def accounts(tmp_path, backend, request):
    url = backend.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'tutor.db'}"
    engine = db.create_engine(db.database_url(url, tmp_path))
    migrations.migrate(engine)
    yield Accounts(engine)
    engine.dispose()


def count(accounts, table):
    with accounts.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_register_and_authenticate(accounts):
    user = accounts.register("Ana@Example.org", "correct horse 1", role="student", name="Ana", language="es")
    assert user.email == "ana@example.org" and user.role == "student"
    assert accounts.authenticate("ana@example.org", "correct horse 1") == user
    with accounts.engine.connect() as conn:
        stored = conn.execute(sa.select(db.users.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_production_passwords_cost_what_argon2_recommends(accounts, cheap_password_hashes, monkeypatch):
    """The suite hashes cheaply (tests/conftest.py); the app uses argon2id's RFC 9106 low-memory profile."""
    from core.school import accounts as module
    monkeypatch.setattr(module, "_hasher", cheap_password_hashes)
    accounts.register("ana@example.org", "correct horse 1", role="student", name="Ana", language="es")
    with accounts.engine.connect() as conn:
        stored = conn.execute(sa.select(db.users.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert accounts.authenticate("ana@example.org", "correct horse 1").email == "ana@example.org"


@pytest.mark.parametrize("email, password, fields, code", [
    ("not-an-email", "otter-42-moss", {}, "invalid_email"),
    ("a@b", "otter-42-moss", {}, "invalid_email"),
    ("ok@example.org", "short1", {}, "weak_password"),
    ("ok@example.org", "onlyletters", {}, "weak_password"),
    ("ok@example.org", "12345678", {}, "weak_password"),
    ("ok@example.org", "aaaaaaa1", {}, "weak_password"),
    # common or too short, though each mixes letters and digits (issue 13, item 5)
    ("ok@example.org", "password1", {}, "weak_password"),
    ("ok@example.org", "abcd1234", {}, "weak_password"),
    ("ok@example.org", "Passw0rd", {}, "weak_password"),
    ("ok@example.org", "Password123!", {}, "weak_password"),
    ("ok@example.org", "q7#Zp2!x", {}, "weak_password"),  # random but under 10 characters
    ("lucia.fernandez@example.org", "luciafernandez2", {}, "weak_password"),  # made of the email
    # bytes that were not UTF-8 on stdin arrive as lone surrogates (issue 13, item 3)
    ("ok@example.org", "abc\udcff\udcfedef1-otter-42", {}, "weak_password"),
    ("ok@example.org", "otter-42-moss\ud800", {}, "weak_password"),
    ("ok@example.org", 1234567890123, {}, "weak_password"),
    ("ok@example.org", "otter-42-moss", {"role": "root"}, "invalid_role"),
    ("ok@example.org", "otter-42-moss", {"language": "fr"}, "invalid_language"),
    ("ok@example.org", "otter-42-moss", {"class_code": "NOPE42"}, "unknown_class"),
])
def test_bad_registrations_leave_no_row(accounts, email, password, fields, code):
    with pytest.raises((InvalidInput, NotFound)) as error:
        accounts.register(email, password, **fields)
    assert error.value.code == code
    assert count(accounts, db.users) == 0 and count(accounts, db.memberships) == 0


def test_duplicate_email_is_a_neutral_conflict(accounts):
    accounts.register("dup@example.org", "otter-42-moss")
    with pytest.raises(Conflict) as error:
        accounts.register("DUP@example.org", "other-pass-9876")
    assert error.value.code == "registration_failed"
    for language in ("es", "en"):  # never confirms that this email has an account
        assert "dup@" not in error.value.message_for(language).lower()
    assert count(accounts, db.users) == 1


def test_an_unknown_class_code_is_reported_before_a_taken_email(accounts):
    accounts.register("dup@example.org", "otter-42-moss")
    with pytest.raises(NotFound) as error:
        accounts.register("dup@example.org", "other-pass-9876", class_code="NOPE42")
    assert error.value.code == "unknown_class"


@pytest.mark.parametrize("password", ["abc\udcff\udcfedef1", "\ud800", "correct horse 1\udcff", None, 12345])
def test_undecodable_or_non_text_passwords_fail_sign_in_cleanly(accounts, password):
    accounts.register("ana@example.org", "correct horse 1")
    with pytest.raises(AuthError) as error:
        accounts.authenticate("ana@example.org", password)
    assert error.value.code == "auth_failed"


def test_revoking_tokens_bumps_the_token_version(accounts):
    user = accounts.register("ana@example.org", "correct horse 1")
    assert user.token_version == 0
    accounts.revoke_tokens(user.id)
    accounts.revoke_tokens(user.id)
    assert accounts.get(user.id).token_version == 2
    with pytest.raises(NotFound):
        accounts.revoke_tokens(db.new_id())


@pytest.mark.parametrize("email, password", [("ana@example.org", "wrong pass 1"), ("nobody@example.org", "x"),
                                             ("garbage", "x")])
def test_wrong_credentials(accounts, email, password):
    accounts.register("ana@example.org", "correct horse 1")
    with pytest.raises(AuthError) as error:
        accounts.authenticate(email, password)
    assert error.value.code == "auth_failed"


def test_classes_join_codes_and_ownership(accounts):
    teacher = accounts.register("t@example.org", "otter-42-moss", role="teacher")
    other = accounts.register("t2@example.org", "otter-42-moss", role="teacher")
    student = accounts.register("s@example.org", "otter-42-moss")
    klass = accounts.create_class(teacher, "3º ESO B")
    assert len(klass.join_code) == 6 and klass.join_code.isupper()
    joined = accounts.register("s2@example.org", "otter-42-moss", class_code=klass.join_code.lower())
    accounts.join_class(student, klass.join_code)
    accounts.join_class(student, klass.join_code)
    assert [u.email for u in accounts.students_of(teacher, klass.id)] == ["s2@example.org", "s@example.org"][::-1] \
        or sorted(u.email for u in accounts.students_of(teacher, klass.id)) == ["s2@example.org", "s@example.org"]
    assert accounts.classes_of(joined) == [klass]
    assert accounts.classes_of(other) == []
    with pytest.raises(Forbidden):
        accounts.students_of(other, klass.id)
    with pytest.raises(Forbidden):
        accounts.create_class(student, "mine")
    with pytest.raises(NotFound) as error:
        accounts.join_class(student, "ZZZZZZ")
    assert error.value.code == "unknown_class"


def test_names_drop_control_characters(accounts):
    user = accounts.register("n@example.org", "otter-42-moss", name="Ana\x00 María\u200b")
    assert user.name == "Ana María"


def test_class_names_keep_ordinals(accounts):
    teacher = accounts.register("o@example.org", "otter-42-moss", role="teacher")
    assert accounts.create_class(teacher, "3º ESO B").name == "3º ESO B"
