"""Schema migrations, after simonw/llm's: each a small function frozen with the DDL of its day, applied once, in
order, and recorded by name in ``schema_migrations``.

A migration never uses today's tables from ``db.py``: it declares what it creates as it was on the day it was
written, so a database upgraded from the first migration ends up equal to a fresh one (``tests/test_migrations.py``
compares both, and ``db.metadata``, on SQLite and PostgreSQL). To change the schema, change ``db.py`` and append a
new ``@migration`` function below; never edit or rename one that has shipped.

``migrate`` applies the pending ones in one transaction under a lock (PostgreSQL: an advisory lock; SQLite:
``BEGIN IMMEDIATE``), so processes that start together apply each once. On SQLite foreign keys are off while
migrating (a table rebuild would otherwise cascade) and checked after each migration.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import sqlalchemy as sa

from .db import Id, Json, UTCDateTime, schema_migrations

Migration = Callable[[sa.Connection], None]
MIGRATIONS: list[Migration] = []
ADVISORY_LOCK = 7243001


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(engine: sa.Engine, migrations: list[Migration] | None = None) -> list[str]:
    """Apply, in one transaction, the migrations whose names are not recorded yet; returns the names applied."""
    applied_now = []
    with _locked(engine) as conn:
        recorded = set(conn.execute(sa.select(schema_migrations.c.name)).scalars())
        for fn in MIGRATIONS if migrations is None else migrations:
            if fn.__name__ in recorded:
                continue
            fn(conn)
            _check_foreign_keys(conn)
            version = conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema_migrations.c.version), 0) + 1))
            conn.execute(schema_migrations.insert().values(version=version.scalar(), name=fn.__name__))
            applied_now.append(fn.__name__)
    return applied_now


@contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that one process at a time holds; on SQLite with foreign keys off (a pragma that only
    takes effect outside a transaction)."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(sa.text(f"select pg_advisory_xact_lock({ADVISORY_LOCK})"))
                schema_migrations.create(conn, checkfirst=True)
                yield conn
        finally:
            if sqlite and not conn.invalidated:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken:
            raise RuntimeError(f"migration left a broken foreign key: {tuple(broken)}")


def _created() -> sa.Column:
    return sa.Column("created_at", UTCDateTime, nullable=False)


# --- the migrations ----------------------------------------------------------------------------------------------

@migration
def m001_initial(conn: sa.Connection) -> None:
    """Users, classes, the answer cache, sessions, messages, ratings and events."""
    day = sa.MetaData()
    sa.Table("users", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("email", sa.String(254), nullable=False, unique=True),
             sa.Column("name", sa.String(120), nullable=False),
             sa.Column("password_hash", sa.String(255)),
             sa.Column("role", sa.String(16), nullable=False),
             sa.Column("language", sa.String(8), nullable=False),
             _created(),
             sa.CheckConstraint("role in ('student', 'teacher', 'admin')", name="users_role"))
    sa.Table("classes", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("name", sa.String(120), nullable=False),
             sa.Column("teacher_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
             sa.Column("join_code", sa.String(16), nullable=False, unique=True),
             _created())
    sa.Table("memberships", day,
             sa.Column("class_id", Id, sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
             sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
             sa.Column("joined_at", UTCDateTime, nullable=False))
    sa.Table("ai_answers", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("question_hash", sa.String(64), nullable=False, index=True),
             sa.Column("question", sa.Text, nullable=False),
             sa.Column("canonical", sa.Text, nullable=False),
             sa.Column("language", sa.String(8), nullable=False),
             sa.Column("subject", sa.String(40), nullable=False),
             sa.Column("level", sa.String(40), nullable=False),
             sa.Column("steps", Json, nullable=False),
             sa.Column("total_duration", sa.Integer, nullable=False),
             sa.Column("model", sa.String(120), nullable=False),
             sa.Column("prompt_version", sa.String(40), nullable=False),
             sa.Column("source", sa.String(16), nullable=False),
             sa.Column("status", sa.String(16), nullable=False),
             sa.Column("hits", sa.Integer, nullable=False),
             sa.Column("version", sa.Integer, nullable=False),
             _created(),
             sa.Column("updated_at", UTCDateTime, nullable=False),
             sa.CheckConstraint("status in ('approved', 'retired')", name="ai_answers_status"),
             sa.CheckConstraint("source in ('library', 'generated', 'edited')", name="ai_answers_source"),
             sa.Index("ai_answers_one_approved", "question_hash", unique=True,
                      sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'")))
    sa.Table("tutor_sessions", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
             sa.Column("kind", sa.String(16), nullable=False),
             sa.Column("title", sa.String(200), nullable=False),
             sa.Column("question", sa.Text, nullable=False),
             sa.Column("question_hash", sa.String(64)),
             sa.Column("language", sa.String(8), nullable=False),
             sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="SET NULL")),
             sa.Column("parent_session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="SET NULL")),
             sa.Column("parent_step", sa.Integer),
             sa.Column("step", sa.Integer, nullable=False),
             sa.Column("position", sa.Integer, nullable=False),
             sa.Column("status", sa.String(16), nullable=False),
             _created(),
             sa.Column("updated_at", UTCDateTime, nullable=False),
             sa.CheckConstraint("kind in ('explanation', 'chat')", name="tutor_sessions_kind"))
    sa.Table("messages", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="CASCADE"), nullable=False,
                       index=True),
             sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
             sa.Column("role", sa.String(16), nullable=False),
             sa.Column("content", sa.Text, nullable=False),
             _created(),
             sa.CheckConstraint("role in ('user', 'assistant')", name="messages_role"))
    sa.Table("ratings", day,
             sa.Column("id", Id, primary_key=True),
             sa.Column("session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="CASCADE"), nullable=False,
                       unique=True),
             sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
             sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="SET NULL")),
             sa.Column("helpful", sa.Boolean, nullable=False),
             sa.Column("comment", sa.Text, nullable=False),
             _created())
    sa.Table("events", day,
             sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                       autoincrement=True),
             sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True),
             sa.Column("session_id", Id),
             sa.Column("kind", sa.String(40), nullable=False),
             sa.Column("question_hash", sa.String(64)),
             sa.Column("step", sa.Integer),
             sa.Column("value", sa.Float),
             sa.Column("data", Json, nullable=False),
             sa.Column("created_at", UTCDateTime, nullable=False, index=True))
    day.create_all(conn, checkfirst=True)  # checkfirst: the Supabase SQL migrations may have made them already


@migration
def m002_curation_and_credits(conn: sa.Connection) -> None:
    """Answer versions (who changed what, when) and credit balances with their ledger."""
    if "credits" not in {c["name"] for c in sa.inspect(conn).get_columns("users")}:
        # SQLite cannot add a CHECK constraint to an existing table: m003_users_credits_check adds it there.
        conn.execute(sa.text("alter table users add column credits integer not null default 0"))
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("alter table users add constraint users_credits check (credits >= 0)"))
    day = sa.MetaData()
    sa.Table("users", day, sa.Column("id", Id, primary_key=True))
    sa.Table("ai_answers", day, sa.Column("id", Id, primary_key=True))
    versions = sa.Table(
        "answer_versions", day,
        sa.Column("id", Id, primary_key=True),
        sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("editor_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("steps", Json, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _created(),
        sa.UniqueConstraint("answer_id", "version", name="answer_versions_answer_version"),
        sa.CheckConstraint("action in ('created', 'edited', 'approved', 'retired')", name="answer_versions_action"))
    ledger = sa.Table(
        "credit_ledger", day,
        sa.Column("id", Id, primary_key=True),
        sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("granted_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("question_hash", sa.String(64)),
        _created())
    day.create_all(conn, tables=[versions, ledger], checkfirst=True)


@migration
def m003_users_credits_check(conn: sa.Connection) -> None:
    """The ``credits >= 0`` check that SQLite databases upgraded through m002 lack."""
    checks = {c["name"] for c in sa.inspect(conn).get_check_constraints("users")}
    if "users_credits" in checks:
        return
    if conn.dialect.name == "sqlite":
        rebuild_sqlite_table(conn, "users", add_constraint="CONSTRAINT users_credits CHECK (credits >= 0)")
    else:
        conn.execute(sa.text("alter table users add constraint users_credits check (credits >= 0)"))


@migration
def m004_answer_checks(conn: sa.Connection) -> None:
    """The maths check of each answer: verified (true, false or null), the failed claims, awaiting review."""
    failures = "jsonb" if conn.dialect.name == "postgresql" else "json"
    conn.execute(sa.text("alter table ai_answers add column verified boolean"))
    conn.execute(sa.text(f"alter table ai_answers add column check_failures {failures}"))
    conn.execute(sa.text("alter table ai_answers add column needs_review boolean not null default false"))


@migration
def m005_token_version(conn: sa.Connection) -> None:
    """``users.token_version``: bumped to revoke every token of a user (sign-out, ``users revoke``)."""
    conn.execute(sa.text("alter table users add column token_version integer not null default 0"))


# --- helpers for migrations --------------------------------------------------------------------------------------

def rebuild_sqlite_table(conn: sa.Connection, table: str, *, add_constraint: str) -> None:
    """Add a table constraint on SQLite, which has no ``ALTER TABLE … ADD CONSTRAINT``: create the table again
    from its own ``CREATE TABLE`` text plus the constraint, copy the rows, swap, and recreate its indexes (the
    procedure of https://www.sqlite.org/lang_altertable.html; ``migrate`` has turned foreign keys off)."""
    create, = conn.exec_driver_sql("select sql from sqlite_master where type = 'table' and name = ?",
                                   (table,)).one()
    indexes = conn.exec_driver_sql("select sql from sqlite_master where type = 'index' and tbl_name = ?"
                                   " and sql is not null", (table,)).scalars().all()
    body = create.split("(", 1)[1]
    new = f"_new_{table}"
    body = body.rstrip().removesuffix(")")
    conn.exec_driver_sql(f'CREATE TABLE "{new}" ({body}, {add_constraint})')
    columns = ", ".join(f'"{c["name"]}"' for c in sa.inspect(conn).get_columns(table))
    conn.exec_driver_sql(f'INSERT INTO "{new}" ({columns}) SELECT {columns} FROM "{table}"')
    conn.exec_driver_sql(f'DROP TABLE "{table}"')
    conn.exec_driver_sql(f'ALTER TABLE "{new}" RENAME TO "{table}"')
    for sql in indexes:
        conn.exec_driver_sql(sql)
