"""Real servers for the API tests: ``streamlit run streamlit_app.py`` processes on loopback, on either backend,
with a tutor in the test process on the same database for setting up users (the API has no admin routes)."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from httpx_sse import connect_sse

from benchmarks.common import StreamlitServer
from core import SETTINGS, create_tutor
from core.content.library import load_lessons
from core.testing.fakeai import FakeAI, build_answer

PASSWORD = "correct-horse-9"
LESSON = next(lesson for lesson in load_lessons() if lesson.question.language == "en")
QUESTION = LESSON.question.text
FULL_TEXT = "".join(step.content for step in LESSON.answer.steps)
SERVER_SETTINGS = dict(TUTOR_CHUNK_DELAY_MS="60", TUTOR_CHUNK_SIZE="12", TUTOR_RATE_ASK_STUDENT="8/60",
                       TUTOR_RATE_CHAT_STUDENT="4/60", TUTOR_DEFAULT_LANGUAGE="en", TUTOR_AI_MAX_RETRIES="0")


@dataclass
class Deployment:
    """One set of settings (data dir, database, Redis prefix, fake AI) shared by the servers and the test."""

    settings: dict
    tutor: object
    servers: list = field(default_factory=list)

    def start(self, data_dir, count: int = 1) -> list:
        env = {k: v for k, v in os.environ.items() if k not in self.settings}
        env.update(self.settings)
        for _ in range(count):
            self.servers.append(StreamlitServer(data_dir, env).start(timeout=90))
        return self.servers

    @property
    def url(self) -> str:
        return self.servers[0].url

    def user(self, role: str = "student", *, language: str = "en", credits: int | None = None):
        """A new account; returns ``(identity, bearer headers)``."""
        user = self.tutor.accounts.register(f"{role}-{uuid.uuid4().hex[:8]}@example.org", PASSWORD, role=role,
                                            language=language)
        if credits is not None:
            from core.platform import db
            with self.tutor.engine.begin() as conn:  # test setup: set the balance directly
                conn.execute(db.users.update().where(db.users.c.id == user.id).values(credits=credits))
        return self.tutor.identity_of(user), {"Authorization": f"Bearer {self.tutor.token_for(user)}"}

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.tutor.close()


@contextmanager
def deployment(kind: str, data_dir, postgres_server, redis_server, **extra):
    """Settings for ``embedded`` (SQLite + embedded store) or ``servers`` (PostgreSQL + Redis)."""
    settings = {s.name: str(s.default) for s in SETTINGS}
    settings.update(TUTOR_DATA_DIR=str(data_dir), **SERVER_SETTINGS, **extra)
    database = None
    if kind == "servers":
        from tests.conftest import _psycopg_url, unavailable
        if not postgres_server or not redis_server:
            unavailable("the servers backend needs PostgreSQL and Redis")
        admin = sa.create_engine(_psycopg_url(postgres_server), isolation_level="AUTOCOMMIT")
        database = f"tutor_api_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        url = sa.make_url(_psycopg_url(postgres_server)).set(database=database)
        settings.update(DATABASE_URL=url.render_as_string(hide_password=False), REDIS_URL=redis_server,
                        TUTOR_REDIS_PREFIX=f"tutortest:{uuid.uuid4().hex[:10]}:")
    fake = FakeAI(tokens_per_second=400, answer_for=lambda question: build_answer(question, steps=2)).start()
    settings.update(OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="test")
    made = Deployment(settings, create_tutor(settings, environ={}, env_file=None))
    made.fake = fake
    try:
        yield made
    finally:
        made.stop()
        fake.stop()
        if database:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.dispose()


def read_events(client: httpx.Client, url: str, headers: dict, *, until=None, **kwargs) -> list:
    """Read an SSE stream with httpx-sse: ``[(event, data, id)]``; stop early (closing it) when ``until`` says."""
    got = []
    with connect_sse(client, "GET", url, headers=headers, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for sse in source.iter_sse():
            got.append((sse.event, sse.json(), sse.id or None))
            if until is not None and until(got):
                break
    return got


def text_of(events: list) -> str:
    return "".join(data["chunk"] for name, data, _ in events if name == "content_chunk")
