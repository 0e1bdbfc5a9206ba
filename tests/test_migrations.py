"""Migrations give the schema of ``db.metadata``: applied one by one from m001, all at once, or on top of a database
the earlier code made — on SQLite and PostgreSQL, compared column by column, constraint by constraint."""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from conftest import _psycopg_url, unavailable

from core.errors import StoreError
from core.platform import db, migrations


def schema(engine: sa.Engine) -> dict:
    """Everything the database says about its tables, in a form two databases can be compared by."""
    found = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in sorted(inspector.get_table_names()):
            found[table] = {
                "columns": {c["name"]: (c["type"].compile(dialect=engine.dialect), c["nullable"],
                                        _plain(c["default"])) for c in inspector.get_columns(table)},
                "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
                "checks": {c["name"]: _plain(c["sqltext"]) for c in inspector.get_check_constraints(table)},
                "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                                 for u in inspector.get_unique_constraints(table)),
                "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                        tuple(f["referred_columns"]), (f.get("options") or {}).get("ondelete", ""))
                                       for f in inspector.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]),
                                   _plain(" ".join(str(v) for k, v in (i.get("dialect_options") or {}).items()
                                                   if k.endswith("_where"))))
                                  for i in inspector.get_indexes(table)),
            }
    return found


def _plain(text) -> str | None:
    """SQL text without the spelling differences of how it was written: case, spaces, brackets, casts."""
    if text is None:
        return None
    text = re.sub(r"::[a-z ]+", "", str(text).lower())
    return re.sub(r"[\s()\"]", "", text)


def migrate_one_by_one(engine: sa.Engine) -> None:
    """Apply each migration on its own, with rows in the tables that later migrations rebuild."""
    for count in range(1, len(migrations.MIGRATIONS) + 1):
        assert migrations.migrate(engine, migrations.MIGRATIONS[:count]) == [migrations.MIGRATIONS[count - 1].__name__]
        if count == 1:
            _add_rows(engine)


def _add_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into users (id, email, name, role, language, created_at) values"
                             " (:id, 'ana@example.org', 'Ana', 'teacher', 'es', :now)"),
                     {"id": USER.hex if conn.dialect.name == "sqlite" else str(USER), "now": db.utcnow()})
        conn.execute(db.classes.insert().values(id=str(CLASS), name="4ºB", teacher_id=str(USER), join_code="ABC123",
                                                created_at=db.utcnow()))


USER, CLASS = uuid.uuid4(), uuid.uuid4()


def _assert_rows_kept_and_credits_checked(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(sa.select(db.users.c.email, db.users.c.credits)).all() == [("ana@example.org", 0)]
        assert conn.execute(sa.select(db.classes.c.teacher_id)).scalar() == str(USER)
    with pytest.raises(sa.exc.IntegrityError, match="users_credits|CHECK"):
        with engine.begin() as conn:
            conn.execute(db.users.update().values(credits=-1))


def _legacy_sqlite(engine: sa.Engine) -> None:
    """A database made by the code before migrations were frozen: m001, then m002 adding ``credits`` without its
    check (SQLite cannot add one), both recorded."""
    migrations.migrate(engine, migrations.MIGRATIONS[:1])
    _add_rows(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("alter table users add column credits integer not null default 0"))
        for name in ("answer_versions", "credit_ledger"):
            db.metadata.tables[name].create(conn)
        conn.execute(db.schema_migrations.insert().values(version=2, name="m002_curation_and_credits"))
    assert "users_credits" not in str(schema(engine)["users"]["checks"])


# --- SQLite ------------------------------------------------------------------------------------------------------

def sqlite_engine(path) -> sa.Engine:
    path.mkdir()
    return db.create_engine(db.database_url("", path))


def test_sqlite_one_by_one_all_at_once_and_metadata_agree(tmp_path):
    stepped, fresh, declared = (sqlite_engine(tmp_path / name) for name in ("stepped", "fresh", "declared"))
    migrate_one_by_one(stepped)
    migrations.migrate(fresh)
    db.metadata.create_all(declared)
    assert schema(stepped) == schema(fresh) == schema(declared)
    assert schema(fresh)["users"]["checks"]["users_credits"] == "credits>=0"
    _assert_rows_kept_and_credits_checked(stepped)


def test_sqlite_database_of_the_earlier_code_gets_the_credits_check(tmp_path):
    legacy, declared = sqlite_engine(tmp_path / "legacy"), sqlite_engine(tmp_path / "declared")
    _legacy_sqlite(legacy)
    assert migrations.migrate(legacy)[0] == "m003_users_credits_check"  # then the later ones
    db.metadata.create_all(declared)
    assert schema(legacy) == schema(declared)
    _assert_rows_kept_and_credits_checked(legacy)
    with legacy.connect() as conn:
        assert conn.exec_driver_sql("pragma foreign_keys").scalar() == 1, "foreign keys are back on after migrating"
        assert conn.exec_driver_sql("pragma foreign_key_check").first() is None


def test_a_failing_migration_leaves_nothing_behind(tmp_path):
    engine = sqlite_engine(tmp_path / "db")

    def m999_broken(conn):
        conn.execute(sa.text("create table half (id integer)"))
        conn.execute(sa.text("insert into nowhere values (1)"))

    with pytest.raises(StoreError):
        migrations.migrate(engine, [*migrations.MIGRATIONS, m999_broken])
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == [], "one transaction: not even m001 stays"
    assert migrations.migrate(engine) == [m.__name__ for m in migrations.MIGRATIONS]


# --- PostgreSQL --------------------------------------------------------------------------------------------------

@pytest.fixture
def pg_engines(postgres_server):
    """A factory of engines on fresh databases of the PostgreSQL server, dropped afterwards."""
    if not postgres_server:
        unavailable("no PostgreSQL server: set DATABASE_URL or install PostgreSQL")
    admin = sa.create_engine(_psycopg_url(postgres_server), isolation_level="AUTOCOMMIT")
    names, engines = [], []

    def make() -> sa.Engine:
        name = f"tutor_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        names.append(name)
        url = sa.make_url(_psycopg_url(postgres_server)).set(database=name)
        engines.append(db.create_engine(url.render_as_string(hide_password=False)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_postgres_one_by_one_all_at_once_and_metadata_agree(pg_engines):
    stepped, fresh, declared = pg_engines(), pg_engines(), pg_engines()
    migrate_one_by_one(stepped)
    migrations.migrate(fresh)
    db.metadata.create_all(declared)
    assert schema(stepped) == schema(fresh) == schema(declared)
    assert schema(fresh)["users"]["checks"]["users_credits"] == "credits>=0"
    _assert_rows_kept_and_credits_checked(stepped)
