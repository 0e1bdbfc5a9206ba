import pytest

from core.errors import AuthError


def test_sign_in_and_identity(make_tutor):
    tutor = make_tutor()
    user = tutor.register("Ana@Example.org", "otter-42-moss", role="teacher", name="Ana", language="en")
    token = tutor.sign_in("ana@example.org", "otter-42-moss")
    me = tutor.identity(token)
    assert (me.user_id, me.email, me.role, me.language) == (user.id, "ana@example.org", "teacher", "en")


def test_identity_reflects_the_stored_user_not_the_token(make_tutor):
    tutor = make_tutor()
    user = tutor.register("ana@example.org", "otter-42-moss")
    token = tutor.sign_in("ana@example.org", "otter-42-moss")
    tutor.accounts.set_language(user.id, "en")
    assert tutor.identity(token).language == "en"


def test_a_token_for_a_deleted_user_is_refused(make_tutor):
    import sqlalchemy as sa

    from core.platform import db
    tutor = make_tutor()
    user = tutor.register("ana@example.org", "otter-42-moss")
    token = tutor.sign_in("ana@example.org", "otter-42-moss")
    with tutor.engine.begin() as conn:
        conn.execute(db.users.delete().where(db.users.c.id == user.id))
    with pytest.raises(AuthError) as error:
        tutor.identity(token)
    assert error.value.code == "auth_invalid"


def test_tokens_from_another_install_are_refused(make_tutor, tmp_path):
    tutor = make_tutor()
    tutor.register("ana@example.org", "otter-42-moss")
    token = tutor.sign_in("ana@example.org", "otter-42-moss")
    other = make_tutor(TUTOR_DATA_DIR=tmp_path / "elsewhere")
    with pytest.raises(AuthError):
        other.identity(token)


def test_embedded_defaults_create_everything_in_the_data_dir(make_tutor, data_dir):
    make_tutor()
    assert {p.name for p in data_dir.iterdir()} >= {"tutor.db", "sessions.db", "jwt_secret"}
