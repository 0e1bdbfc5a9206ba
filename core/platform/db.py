"""One schema for SQLite (default) and PostgreSQL/Supabase, with SQLAlchemy Core.

The tables here are today's schema; ``migrations.py`` brings a database to it. Datetimes are stored as UTC. An
engine from ``create_engine`` raises ``StoreError("store_unavailable")`` for a database that is down, unreachable
or failing (see ``_map_database_errors``), so no driver exception reaches a caller.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from ..errors import NotFound, StoreError

log = logging.getLogger(__name__)
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


def checked_id(value: object, not_found: str = "not_found") -> str:
    """``value`` if it is an id as this app writes them (a lowercase, hyphenated UUID); anything else cannot name
    a row, so it is ``NotFound(not_found)`` before any query (PostgreSQL would refuse the cast with ``DataError``)."""
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise NotFound(not_found)


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
    sa.Column("credits", sa.Integer, nullable=False, default=0, server_default=sa.text("0")),
    sa.Column("token_version", sa.Integer, nullable=False, default=0, server_default=sa.text("0")),
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
    # The maths check (m004): its verdict, the claims that failed, and whether a teacher should look at it.
    sa.Column("verified", sa.Boolean),
    sa.Column("check_failures", Json),
    sa.Column("needs_review", sa.Boolean, nullable=False, default=False, server_default=sa.text("false")),
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
    later the database file's own permissions. An existing file is never opened here: closing any descriptor of a
    file drops every POSIX lock this process holds on it, including those of SQLite connections already open.
    """
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
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


def _map_database_errors(context: sa.engine.ExceptionContext) -> None:
    """The engine's ``handle_error`` hook, so it covers every query and connect of every module: a database that
    is down, unreachable or failing becomes ``StoreError`` (the cause goes to the log). Integrity errors pass
    through (callers turn a lost insert race into its answer); so do errors raised before the driver (bad Python
    values, which are bugs)."""
    if context.is_pre_ping:
        return  # the pool replaces a dead pooled connection itself; a failed reconnect comes back here
    error = context.sqlalchemy_exception
    driver_failure = isinstance(error, sa.exc.DBAPIError) and not isinstance(error, sa.exc.IntegrityError)
    if context.is_disconnect or driver_failure:
        log.warning("database error: %s", context.original_exception)
        raise StoreError() from context.original_exception


def create_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_connect)
        # Writers take the lock when the transaction starts, so read-then-write never fails half-way with BUSY.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        # prepare_threshold=None: Supabase's transaction pooler (port 6543) cannot keep prepared statements.
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None,
                                                                        "connect_timeout": 10})
    sa.event.listen(engine, "handle_error", _map_database_errors)
    return engine
