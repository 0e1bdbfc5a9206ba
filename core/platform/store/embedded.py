"""The embedded session store: the store protocol on a SQLite file (WAL), shared safely between processes."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ...errors import StoreError
from ..db import private_dir, private_file
from .base import INT_FIELDS, SESSION_FIELDS, SessionStatus, now

SCHEMA = """
create table if not exists sessions (
  id text primary key, owner text not null, status text not null, reader text not null default '',
  step integer not null default 0, position integer not null default 0, data text not null, expires_at real not null);
create table if not exists log_entries (
  log_id text not null, seq integer not null, entry text not null, expires_at real not null,
  primary key (log_id, seq));
create table if not exists locks (name text primary key, token text not null, expires_at real not null);
create table if not exists hits (key text not null, at real not null);
create index if not exists hits_key on hits (key, at);
"""
_COLUMNS = ("id", "owner", "status", "reader", "step", "position")


@contextmanager
def map_sqlite_errors():
    """Any ``sqlite3`` failure (locked, read-only, corrupt, missing file) leaves as ``StoreError``; usable as a
    ``with`` block or as a method decorator."""
    try:
        yield
    except sqlite3.Error as error:
        raise StoreError() from error


class EmbeddedStore:
    @map_sqlite_errors()
    def __init__(self, path: Path):
        self.path = Path(path)
        private_dir(self.path.parent)
        private_file(self.path)
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("pragma journal_mode=wal")
            conn.execute("pragma synchronous=normal")
            conn.execute("pragma busy_timeout=10000")
            self._local.conn = conn
        return conn

    def _tx(self):
        return _Transaction(self._conn())

    # --- sessions ----------------------------------------------------------------------------------------------

    @map_sqlite_errors()
    def put_session(self, state: dict, ttl: int) -> None:
        row = {k: state.get(k) for k in SESSION_FIELDS}
        with self._tx() as conn:
            conn.execute("insert or replace into sessions (id, owner, status, reader, step, position, data, expires_at)"
                         " values (?, ?, ?, ?, ?, ?, ?, ?)",
                         (row["id"], row["owner"], row["status"], row["reader"] or "", int(row["step"] or 0),
                          int(row["position"] or 0), json.dumps(_extra(row)), now() + ttl))

    @map_sqlite_errors()
    def get_session(self, session_id: str, ttl: int) -> dict | None:
        with self._tx() as conn:
            conn.execute("update sessions set expires_at = ? where id = ? and expires_at > ?",
                         (now() + ttl, session_id, now()))
            return self._load(conn, session_id)

    @map_sqlite_errors()
    def advance(self, session_id, reader, step, position, new_step, new_position, ttl) -> bool:
        return self.advance_many([(session_id, reader, step, position, new_step, new_position, ttl)])[0]

    @map_sqlite_errors()
    def advance_many(self, moves: list[tuple]) -> list[bool]:
        with self._tx() as conn:  # one transaction, one commit
            return [conn.execute(
                "update sessions set step = ?, position = ?, expires_at = ?,"
                " data = json_set(data, '$.last_activity', ?)"
                " where id = ? and status = ? and reader = ? and step = ? and position = ? and expires_at > ?",
                (new_step, new_position, now() + ttl, now(), session_id, SessionStatus.STREAMING, reader, step,
                 position, now())).rowcount == 1
                for session_id, reader, step, position, new_step, new_position, ttl in moves]

    @map_sqlite_errors()
    def set_status(self, session_id, status, *, expect, ttl, reader=None):
        with self._tx() as conn:
            current = self._load(conn, session_id)
            if current is None or (expect is not None and current["status"] not in expect):
                return None
            conn.execute("update sessions set status = ?, reader = ?, expires_at = ?,"
                         " data = json_set(data, '$.last_activity', ?) where id = ?",
                         (status, current["reader"] if reader is None else reader, now() + ttl, now(), session_id))
            return self._load(conn, session_id)

    @map_sqlite_errors()
    def rewind(self, session_id, step, position, *, ttl):
        with self._tx() as conn:
            changed = conn.execute(
                "update sessions set step = ?, position = ?, expires_at = ?,"
                " data = json_set(data, '$.last_activity', ?)"
                " where id = ? and status = ? and expires_at > ? and (position > ? or (position = ? and step >= ?))",
                (step, position, now() + ttl, now(), session_id, SessionStatus.PAUSED, now(), position, position,
                 step)).rowcount
            return self._load(conn, session_id) if changed == 1 else None

    @map_sqlite_errors()
    def delete_session(self, session_id: str) -> None:
        with self._tx() as conn:
            conn.execute("delete from sessions where id = ?", (session_id,))

    @staticmethod
    def _load(conn, session_id) -> dict | None:
        row = conn.execute("select id, owner, status, reader, step, position, data from sessions"
                           " where id = ? and expires_at > ?", (session_id, now())).fetchone()
        if row is None:
            return None
        state = json.loads(row[6])
        state.update(dict(zip(_COLUMNS, row[:6])))
        return state

    # --- event logs --------------------------------------------------------------------------------------------

    @map_sqlite_errors()
    def append(self, log_id: str, entry: dict, ttl: int) -> int:
        with self._tx() as conn:
            seq = conn.execute("select coalesce(max(seq), 0) + 1 from log_entries where log_id = ?",
                               (log_id,)).fetchone()[0]
            conn.execute("insert into log_entries values (?, ?, ?, ?)", (log_id, seq, json.dumps(entry), now() + ttl))
            conn.execute("update log_entries set expires_at = ? where log_id = ?", (now() + ttl, log_id))
            if seq == 1:
                conn.execute("delete from log_entries where expires_at < ?", (now(),))
        return seq

    @map_sqlite_errors()
    def read(self, log_id: str, after: int = 0, block_ms: int = 0) -> list[tuple[int, dict]]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            rows = self._conn().execute("select seq, entry from log_entries where log_id = ? and seq > ?"
                                        " order by seq", (log_id, after)).fetchall()
            if rows or time.monotonic() >= deadline:
                return [(seq, json.loads(entry)) for seq, entry in rows]
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    # --- locks -------------------------------------------------------------------------------------------------

    @map_sqlite_errors()
    def acquire(self, name: str, token: str, ttl_ms: int) -> bool:
        with self._tx() as conn:
            conn.execute("insert into locks values (?, ?, ?) on conflict (name) do update set"
                         " token = excluded.token, expires_at = excluded.expires_at where locks.expires_at < ?",
                         (name, token, now() + ttl_ms / 1000, now()))
            return conn.execute("select token from locks where name = ?", (name,)).fetchone()[0] == token

    @map_sqlite_errors()
    def refresh(self, name: str, token: str, ttl_ms: int) -> bool:
        with self._tx() as conn:
            return conn.execute("update locks set expires_at = ? where name = ? and token = ? and expires_at >= ?",
                                (now() + ttl_ms / 1000, name, token, now())).rowcount == 1

    @map_sqlite_errors()
    def release(self, name: str, token: str) -> bool:
        with self._tx() as conn:
            return conn.execute("delete from locks where name = ? and token = ?", (name, token)).rowcount == 1

    @map_sqlite_errors()
    def holder(self, name: str) -> str | None:
        row = self._conn().execute("select token from locks where name = ? and expires_at >= ?",
                                   (name, now())).fetchone()
        return row[0] if row else None

    @map_sqlite_errors()
    def held(self, names: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(names), 500):  # SQLite's limit on bound parameters
            part = names[i:i + 500]
            found.update(self._conn().execute(
                f"select name, token from locks where name in ({','.join('?' * len(part))}) and expires_at >= ?",
                (*part, now())).fetchall())
        return found

    # --- sliding windows ---------------------------------------------------------------------------------------

    @map_sqlite_errors()
    def hit_window(self, key: str, limit: int, window_s: float) -> float:
        with self._tx() as conn:
            t = now()
            conn.execute("delete from hits where key = ? and at <= ?", (key, t - window_s))
            times = [r[0] for r in conn.execute("select at from hits where key = ? order by at", (key,))]
            if len(times) >= limit:
                return max(0.001, times[len(times) - limit] + window_s - t)
            conn.execute("insert into hits values (?, ?)", (key, t))
            return 0.0

    @map_sqlite_errors()
    def ping(self) -> None:
        self._conn().execute("select 1")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _extra(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _COLUMNS}


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: every read-modify-write holds the write lock from its first read."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("begin immediate")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        try:
            self.conn.execute("rollback" if exc_type else "commit")
        except sqlite3.Error:
            if self.conn.in_transaction:  # a failed COMMIT leaves the transaction open: never reuse it half-done
                self.conn.execute("rollback")
            raise
        return False


__all__ = ["EmbeddedStore", "INT_FIELDS"]
