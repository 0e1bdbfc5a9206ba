"""Fixtures that give tests real servers.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when set (CI), else from the machine's default ports, else
from throwaway servers started here when the binaries exist. Without any of these the tests that need them skip
with the reason — except under CI=true, where a missing server is a failure.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


# --- PostgreSQL --------------------------------------------------------------------------------------------------

def _pg_binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _throwaway_postgres(tmp: Path) -> str | None:
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl) or os.geteuid() == 0:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([initdb, "-D", str(tmp / "pg"), "-A", "trust", "-U", "postgres"], check=True, capture_output=True)
    subprocess.run([pg_ctl, "-D", str(tmp / "pg"), "-o", f"-p {port} -k {tmp} -h 127.0.0.1", "-w", "start"],
                   check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL server whose databases the tests may create and drop."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        yield url
        return
    if _port_open("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/test"
        return
    tmp = Path(tempfile.mkdtemp(prefix="tutor-pg-"))
    started = _throwaway_postgres(tmp)
    if not started:
        yield None
        return
    yield started
    subprocess.run([_pg_binary("pg_ctl"), "-D", str(tmp / "pg"), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)


def _psycopg_url(url: str) -> str:
    from core.platform.db import database_url
    return database_url(url, Path("."))


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the PostgreSQL server for one test; dropped afterwards."""
    if not postgres_server:
        unavailable("no PostgreSQL server: set DATABASE_URL or install PostgreSQL")
    admin = sa.create_engine(_psycopg_url(postgres_server), isolation_level="AUTOCOMMIT")
    name = f"tutor_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        unavailable(f"PostgreSQL at {postgres_server} is not reachable: {error}")
    url = sa.make_url(_psycopg_url(postgres_server)).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# --- Redis -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_server():
    url = os.environ.get("REDIS_URL", "")
    if url:
        yield url
        return
    if _port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server")
    if not binary:
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="tutor-redis-"))
    sock = tmp / "redis.sock"
    subprocess.run([binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--pidfile", str(tmp / "redis.pid"), "--dir", str(tmp)], check=True)
    for _ in range(50):
        if sock.exists():
            break
        time.sleep(0.05)
    yield f"unix://{sock}"
    pid = (tmp / "redis.pid").read_text().strip() if (tmp / "redis.pid").exists() else None
    if pid:
        subprocess.run(["kill", pid])
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server):
    """A Redis URL plus a key prefix unique to this test (pass it as TUTOR_REDIS_PREFIX)."""
    if not redis_server:
        unavailable("no Redis server: set REDIS_URL or install redis-server")
    import redis
    client = redis.Redis.from_url(redis_server)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {redis_server} is not reachable: {error}")
    prefix = f"tutortest:{uuid.uuid4().hex[:10]}:"
    yield redis_server, prefix
    for key in client.scan_iter(match=prefix + "*", count=500):
        client.delete(key)
    client.close()


# --- the tutor itself --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Passwords registered and checked in this process are hashed with argon2id at its cheapest cost (argon2-cffi's
    ``profiles.CHEAPEST``, meant for tests): still real hashes and real checks, but each costs well under a
    millisecond instead of ~0.3 s, and the suite registers and signs in hundreds of users. Yields the production
    hasher (tests/test_accounts.py checks its cost). Subprocesses (the CLI, ``streamlit run``) keep the real cost."""
    from argon2 import PasswordHasher, profiles

    from core.school import accounts
    production = accounts._hasher
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", cheap)
        patch.setattr(accounts, "_dummy_hash", lambda: cheap.hash("not a password"))
        yield production


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def fake_ai():
    from core.testing.fakeai import FakeAI
    with FakeAI() as server:
        yield server


@pytest.fixture
def make_tutor(data_dir):
    """Build tutors from settings the way the app does, isolated from the machine's environment and .env."""
    from core import create_tutor
    made = []

    def make(**overrides):
        settings = {"TUTOR_DATA_DIR": str(data_dir), "TUTOR_CHUNK_DELAY_MS": "0"}
        settings.update({k: str(v) for k, v in overrides.items()})
        tutor = create_tutor(settings, environ={}, env_file=None)
        made.append(tutor)
        return tutor

    yield make
    for tutor in made:
        tutor.close()


@pytest.fixture(params=["embedded", "servers"])
def backend(request):
    """Settings for both kinds of deployment: SQLite + embedded store, and PostgreSQL + Redis."""
    if request.param == "embedded":
        return {}
    url, prefix = request.getfixturevalue("redis_url")
    return {"DATABASE_URL": request.getfixturevalue("postgres_url"), "REDIS_URL": url, "TUTOR_REDIS_PREFIX": prefix}


@pytest.fixture
def ai(fake_ai):
    """Settings that point the tutor at the loopback OpenAI-compatible server."""
    return {"OPENAI_BASE_URL": fake_ai.base_url, "OPENAI_API_KEY": "test", "TUTOR_AI_MAX_RETRIES": "0",
            "TUTOR_AI_TIMEOUT": "5"}


@pytest.fixture
def app_settings(data_dir, monkeypatch):
    """Every setting pinned in the environment the Streamlit app reads (so the machine's env and .env never leak
    in), with the data in this test's folder, embedded backends and no pacing."""
    from core import SETTINGS
    values = {s.name: str(s.default) for s in SETTINGS}
    values.update(TUTOR_DATA_DIR=str(data_dir), TUTOR_CHUNK_DELAY_MS="0", TUTOR_CHUNK_SIZE="80")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    yield values
    from ui import app
    app.get_tutor().close()
    app._build_tutor.clear()


def play_until_paused(tutor, me, session_id, max_chunks):
    """Stream a session, pausing as a student would right after ``max_chunks`` chunks; returns every event."""
    got, chunks = [], 0
    for item in tutor.stream(me, session_id):
        got.append(item)
        if item["event"] == "content_chunk":
            chunks += 1
            if chunks == max_chunks:
                tutor.pause(me, session_id)
    return got
