"""One schema for SQLite (default) and PostgreSQL/Supabase, with SQLAlchemy Core.

Migrations are small functions applied in order, each once, recorded in ``schema_migrations``; ``migrate`` is
idempotent and safe when several processes start together. Datetimes are stored as UTC.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store UTC-aware values only")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


Id = sa.Uuid(as_uuid=False)
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def _created():
    return sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow)


users = sa.Table(
    "users", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False, default=""),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("credits", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("token_version", sa.Integer, nullable=False, default=0, server_default="0"),
    _created(),
    sa.CheckConstraint("role in ('student', 'teacher', 'admin')", name="users_role"),
    sa.CheckConstraint("credits >= 0", name="users_credits"),
)

classes = sa.Table(
    "classes", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("teacher_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("join_code", sa.String(16), nullable=False, unique=True),
    _created(),
)

memberships = sa.Table(
    "memberships", metadata,
    sa.Column("class_id", Id, sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    sa.Column("joined_at", UTCDateTime, nullable=False, default=utcnow),
)

ai_answers = sa.Table(
    "ai_answers", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("question_hash", sa.String(64), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("canonical", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("subject", sa.String(40), nullable=False, default=""),
    sa.Column("level", sa.String(40), nullable=False, default=""),
    sa.Column("steps", Json, nullable=False),
    sa.Column("total_duration", sa.Integer, nullable=False),
    sa.Column("model", sa.String(120), nullable=False),
    sa.Column("prompt_version", sa.String(40), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="approved"),
    sa.Column("hits", sa.Integer, nullable=False, default=0),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    _created(),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow),
    sa.CheckConstraint("status in ('approved', 'retired')", name="ai_answers_status"),
    sa.CheckConstraint("source in ('library', 'generated', 'edited')", name="ai_answers_source"),
    sa.Index("ai_answers_one_approved", "question_hash", unique=True,
             sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'")),
)

tutor_sessions = sa.Table(
    "tutor_sessions", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False, default=""),
    sa.Column("question", sa.Text, nullable=False, default=""),
    sa.Column("question_hash", sa.String(64)),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="SET NULL")),
    sa.Column("parent_session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="SET NULL")),
    sa.Column("parent_step", sa.Integer),
    sa.Column("step", sa.Integer, nullable=False, default=0),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    sa.CheckConstraint("kind in ('explanation', 'chat')", name="tutor_sessions_kind"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    _created(),
    sa.CheckConstraint("role in ('user', 'assistant')", name="messages_role"),
)

ratings = sa.Table(
    "ratings", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("session_id", Id, sa.ForeignKey("tutor_sessions.id", ondelete="CASCADE"), nullable=False, unique=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="SET NULL")),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    _created(),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True),
    sa.Column("session_id", Id),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("question_hash", sa.String(64)),
    sa.Column("step", sa.Integer),
    sa.Column("value", sa.Float),
    sa.Column("data", Json, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow, index=True),
)

answer_versions = sa.Table(
    "answer_versions", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("answer_id", Id, sa.ForeignKey("ai_answers.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("editor_id", Id, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("steps", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _created(),
    sa.UniqueConstraint("answer_id", "version", name="answer_versions_answer_version"),
    sa.CheckConstraint("action in ('created', 'edited', 'approved', 'retired')", name="answer_versions_action"),
)

credit_ledger = sa.Table(
    "credit_ledger", metadata,
    sa.Column("id", Id, primary_key=True, default=new_id),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("delta", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("granted_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("question_hash", sa.String(64)),
    _created(),
)

schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False, default=utcnow),
)


# --- migrations -------------------------------------------------------------------------------------------------

def _has_column(conn: sa.Connection, table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(conn).get_columns(table)}


def m001_initial(conn: sa.Connection) -> None:
    for table in (users, classes, memberships, ai_answers, tutor_sessions, messages, ratings, events):
        table.create(conn, checkfirst=True)


def m002_curation_and_credits(conn: sa.Connection) -> None:
    """Answer versions (who changed what, when) and credit balances with their ledger."""
    if not _has_column(conn, "users", "credits"):
        # SQLite cannot add a CHECK constraint to an existing table; PostgreSQL gets it.
        conn.execute(sa.text("alter table users add column credits integer not null default 0"))
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("alter table users add constraint users_credits check (credits >= 0)"))
    answer_versions.create(conn, checkfirst=True)
    credit_ledger.create(conn, checkfirst=True)


def m003_token_version(conn: sa.Connection) -> None:
    """``users.token_version``: bumped to revoke every token of a user (sign-out, ``users revoke``)."""
    if not _has_column(conn, "users", "token_version"):
        conn.execute(sa.text("alter table users add column token_version integer not null default 0"))


MIGRATIONS: list[Callable[[sa.Connection], None]] = [m001_initial, m002_curation_and_credits, m003_token_version]


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; returns the names applied now."""
    applied_now = []
    for version, migration in enumerate(MIGRATIONS, start=1):
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("select pg_advisory_xact_lock(7243001)"))
            schema_migrations.create(conn, checkfirst=True)
            done = conn.execute(sa.select(schema_migrations.c.version)
                                .where(schema_migrations.c.version == version)).first()
            if not done:
                migration(conn)
                conn.execute(schema_migrations.insert().values(version=version, name=migration.__name__))
                applied_now.append(migration.__name__)
    return applied_now


# --- engines ----------------------------------------------------------------------------------------------------

def database_url(configured: str, data_dir: Path) -> str:
    """The SQLAlchemy URL for a setting value: empty → SQLite in the data dir; postgres:// → psycopg 3."""
    if not configured:
        return f"sqlite:///{(data_dir / 'tutor.db').resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if configured.startswith(prefix):
            return "postgresql+psycopg://" + configured[len(prefix):]
    return configured


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this user only; an existing folder is left as it is."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` (created empty if missing) and its SQLite ``-wal``/``-shm`` files readable by this user only.

    Creating the file 0600 before SQLite opens it matters: SQLite gives the ``-wal`` and ``-shm`` files it creates
    later the database file's own permissions.
    """
    path = Path(path)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            each.chmod(0o600)
    return path


def _sqlite_connect(dbapi_connection, _record):
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_connect)
        # Writers take the lock when the transaction starts, so read-then-write never fails half-way with BUSY.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # prepare_threshold=None: Supabase's transaction pooler (port 6543) cannot keep prepared statements.
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})
