"""The Supabase migrations (supabase/migrations/*.sql) and their row-level security, on a real PostgreSQL.

Plain PostgreSQL is turned into a Supabase look-alike first (supabase/emulation.sql: roles anon / authenticated /
service_role, auth.users, auth.uid() / auth.jwt() reading `request.jwt.claims`), then every migration is applied in
order. Each "request" below is what PostgREST does for one API call: ONE transaction with `set local role` and
`set_config('request.jwt.claims', …, true)` — transaction-local, so nothing leaks to the next request on a pooled
connection. PostgREST and GoTrue themselves do not run here (no binaries available); only the database side of
Supabase is exercised.
"""
from __future__ import annotations

import json
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors, sql
from psycopg.types.string import TextLoader

from core.platform import db, migrations

SUPABASE = Path(__file__).resolve().parents[1] / "supabase"
EMULATION = SUPABASE / "emulation.sql"
MIGRATIONS = sorted((SUPABASE / "migrations").glob("*.sql"))
TABLES = sorted(db.metadata.tables)
USER_TABLES = ["tutor_sessions", "messages", "ratings", "events"]  # rows owned through user_id
# What a user may change or remove in their own rows (supabase/migrations/*_rls_write_rules.sql); events: nothing.
UPDATABLE = {"tutor_sessions": "title = title", "ratings": "comment = comment"}
DELETABLE = ["tutor_sessions", "messages", "ratings"]

pytestmark = pytest.mark.timeout(120)


# --- plumbing ----------------------------------------------------------------------------------------------------

def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(url), autocommit=autocommit)
    conn.adapters.register_loader("uuid", TextLoader)  # uuids as str, like core.platform.db's Uuid(as_uuid=False)
    return conn


def apply_sql(url: str, paths) -> None:
    """Each file as a whole (they hold $$-quoted function bodies), in its own transaction, as the owner."""
    with psycopg.connect(libpq_url(url)) as conn:
        for path in paths:
            conn.execute(path.read_text(encoding="utf-8"))  # no parameters: sent as one multi-statement query
            conn.commit()


@contextmanager
def request(conn: psycopg.Connection, user: str | None = None, role: str = "authenticated", commit: bool = False):
    """One API request as Supabase runs it: a transaction, the role and the JWT claims local to it.

    Rolled back at the end unless ``commit``; an exception inside rolls back and propagates.
    """
    claims = {"role": role} if user is None else {"sub": user, "role": role, "aud": "authenticated"}
    with conn.transaction(force_rollback=not commit):
        with conn.cursor() as cur:
            cur.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            cur.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])
            yield cur


def column(cur, query: str, params=()) -> set:
    cur.execute(query, params)
    return {row[0] for row in cur.fetchall()}


def as_owner(conn: psycopg.Connection, query: str, params=()) -> list[tuple]:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


@dataclass
class World:
    url: str
    conn: psycopg.Connection
    ids: dict[str, str] = field(default_factory=dict)
    # rows[table][user name] = ids of that user's rows in table
    rows: dict[str, dict[str, set]] = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None

    def owned(self, table: str, *users: str) -> set:
        return set().union(*(self.rows[table].get(user, set()) for user in users))


def seed(conn: psycopg.Connection) -> World:
    """As the owner: teachers T1, T2; students A, B in T1's class, C in T2's, D in none; their rows; answers."""
    world = World(url="", conn=conn)
    ids = world.ids
    for name in ("T1", "T2", "A", "B", "C", "D", "c1", "c2", "approved", "retired"):
        ids[name] = str(uuid.uuid4())
    world.rows = {table: {} for table in USER_TABLES}
    with conn.transaction(), conn.cursor() as cur:
        for name, role in (("T1", "teacher"), ("T2", "teacher"), ("A", "student"), ("B", "student"),
                           ("C", "student"), ("D", "student")):
            email = f"{name.lower()}@example.org"
            cur.execute("insert into auth.users (id, email) values (%s, %s)", [ids[name], email])
            cur.execute("insert into public.users (id, email, name, role, language) values (%s, %s, %s, %s, 'es')",
                        [ids[name], email, name, role])
        cur.execute("insert into public.classes (id, name, teacher_id, join_code) values "
                    "(%s, 'Class 1', %s, 'ABC123'), (%s, 'Class 2', %s, 'XYZ789')",
                    [ids["c1"], ids["T1"], ids["c2"], ids["T2"]])
        cur.execute("insert into public.memberships (class_id, user_id) values (%s, %s), (%s, %s), (%s, %s)",
                    [ids["c1"], ids["A"], ids["c1"], ids["B"], ids["c2"], ids["C"]])
        for key, status in (("approved", "approved"), ("retired", "retired")):
            cur.execute("insert into public.ai_answers (id, question_hash, question, canonical, language, steps, "
                        "total_duration, model, prompt_version, source, status) values "
                        "(%s, 'h1', '2+2?', '2+2', 'es', '[]', 30, 'fake', 'v1', 'generated', %s)",
                        [ids[key], status])
        for student, sessions in (("A", 2), ("B", 1), ("C", 1)):
            for number in range(sessions):
                session = str(uuid.uuid4())
                ids[f"s{student}{number}"] = session
                cur.execute("insert into public.tutor_sessions (id, user_id, kind, language, status, answer_id) "
                            "values (%s, %s, 'explanation', 'es', 'active', %s)",
                            [session, ids[student], ids["approved"]])
                world.rows["tutor_sessions"].setdefault(student, set()).add(session)
                for role in ("user", "assistant"):
                    cur.execute("insert into public.messages (session_id, user_id, role, content) "
                                "values (%s, %s, %s, 'hi') returning id", [session, ids[student], role])
                    world.rows["messages"].setdefault(student, set()).add(cur.fetchone()[0])
                cur.execute("insert into public.events (user_id, session_id, kind, data) "
                            "values (%s, %s, 'step_viewed', '{\"n\": 1}') returning id", [ids[student], session])
                world.rows["events"].setdefault(student, set()).add(cur.fetchone()[0])
                if number == 0:
                    cur.execute("insert into public.ratings (session_id, user_id, answer_id, helpful) "
                                "values (%s, %s, %s, true) returning id", [session, ids[student], ids["approved"]])
                    world.rows["ratings"].setdefault(student, set()).add(cur.fetchone()[0])
    return world


@pytest.fixture
def supabase_db(postgres_url):
    """A fresh database with the emulation and every migration applied: the URL."""
    apply_sql(postgres_url, [EMULATION, *MIGRATIONS])
    return postgres_url


@pytest.fixture
def world(supabase_db):
    with connect(supabase_db, autocommit=True) as conn:
        w = seed(conn)
        w.url = supabase_db
        yield w


# --- the schema ----------------------------------------------------------------------------------------------------

def _schema_shape(conn: psycopg.Connection, schema: str) -> dict:
    """Columns, constraints and indexes of the tutor's tables in one schema, with the schema name taken out."""
    def strip(text: str) -> str:
        return re.sub(rf"\b{schema}\.", "", text)

    cur = conn.cursor()
    cur.execute("select table_name, column_name, data_type, character_maximum_length, is_nullable "
                "from information_schema.columns where table_schema = %s", [schema])
    columns = {row for row in cur.fetchall() if row[0] in TABLES}
    cur.execute("select cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid) "
                "from pg_constraint co join pg_class cl on cl.oid = co.conrelid "
                "join pg_namespace n on n.oid = cl.relnamespace where n.nspname = %s", [schema])
    constraints = {(t, name, kind, strip(d)) for t, name, kind, d in cur.fetchall()
                   if t in TABLES and "REFERENCES auth." not in d}
    cur.execute("select tablename, indexname, indexdef from pg_indexes where schemaname = %s", [schema])
    indexes = {(t, name, strip(d)) for t, name, d in cur.fetchall() if t in TABLES}
    return {"columns": columns, "constraints": constraints, "indexes": indexes}


def test_sql_schema_has_the_tables_and_columns_of_core_db(supabase_db):
    with connect(supabase_db) as conn:
        rows = conn.execute("select table_name, column_name from information_schema.columns "
                            "where table_schema = 'public'").fetchall()
    created: dict[str, set[str]] = {}
    for table, name in rows:
        created.setdefault(table, set()).add(name)
    expected = {name: {c.name for c in table.columns} for name, table in db.metadata.tables.items()}
    assert created == expected


def test_sql_schema_matches_what_sqlalchemy_would_create(supabase_db):
    """Types, lengths, nullability, check/unique/foreign-key constraints (with ON DELETE) and indexes are the same
    as core/platform/db.py creates them in a scratch schema; only server-side defaults and the link to auth.users differ."""
    engine = sa.create_engine(supabase_db)
    with engine.begin() as conn:
        conn.exec_driver_sql("create schema sa_check")
        db.metadata.create_all(conn.execution_options(schema_translate_map={None: "sa_check"}))
    engine.dispose()
    with connect(supabase_db) as conn:
        ours, theirs = _schema_shape(conn, "public"), _schema_shape(conn, "sa_check")
    assert ours["columns"] == theirs["columns"]
    assert ours["constraints"] == theirs["constraints"]
    assert ours["indexes"] == theirs["indexes"]
    assert {row[0] for row in ours["columns"]} == set(TABLES)
    partial = [d for t, name, d in ours["indexes"] if name == "ai_answers_one_approved"]
    assert partial and "UNIQUE" in partial[0] and "WHERE ((status)::text = 'approved'::text)" in partial[0]


def test_users_are_profiles_of_auth_users_and_rls_is_forced_everywhere(supabase_db):
    with connect(supabase_db) as conn:
        fk = conn.execute("select pg_get_constraintdef(oid) from pg_constraint where conname = 'users_id_fkey' "
                          "and conrelid = 'public.users'::regclass").fetchone()
        flags = conn.execute("select relname, relrowsecurity, relforcerowsecurity from pg_class "
                             "where relnamespace = 'public'::regnamespace and relkind = 'r'").fetchall()
        functions = conn.execute(
            "select proname, prosecdef, proconfig from pg_proc where pronamespace = 'public'::regnamespace "
            "and proname in ('my_role', 'is_teacher_of', 'is_class_teacher', 'is_class_member', 'owns_session', "
            "'join_class', 'is_own_session_answer', 'own_session_question')").fetchall()
    assert fk == ("FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE",)
    assert {name: (enabled, forced) for name, enabled, forced in flags} == {t: (True, True) for t in TABLES}
    assert len(functions) == 8
    for name, security_definer, config in functions:
        assert security_definer, name
        assert config == ['search_path=""'], name


def test_migrations_can_be_applied_again(world):
    apply_sql(world.url, MIGRATIONS)
    assert as_owner(world.conn, "select version, name from public.schema_migrations order by version") == [
        (version, migration.__name__) for version, migration in enumerate(migrations.MIGRATIONS, start=1)]
    assert as_owner(world.conn, "select count(*) from public.tutor_sessions") == [(4,)]
    with request(world.conn, world.A) as cur:
        assert column(cur, "select id from public.tutor_sessions") == world.owned("tutor_sessions", "A")


def test_app_migrator_applies_nothing_and_the_app_writes_through_core_tables(world):
    engine = db.create_engine(world.url)
    try:
        assert migrations.migrate(engine) == []
        assert migrations.migrate(engine) == []
        user_id = db.new_id()
        with engine.begin() as conn:
            # The profile of a Supabase Auth user: the auth row exists first (GoTrue's job).
            conn.execute(sa.text("insert into auth.users (id, email) values (:id, 'e@example.org')"), {"id": user_id})
            conn.execute(db.users.insert().values(id=user_id, email="e@example.org", name="E", role="student",
                                                  language="en", created_at=db.utcnow()))
            session_id = db.new_id()
            conn.execute(db.tutor_sessions.insert().values(
                id=session_id, user_id=user_id, kind="chat", language="en", status="active",
                created_at=db.utcnow(), updated_at=db.utcnow()))
            conn.execute(db.events.insert().values(user_id=user_id, session_id=session_id, kind="opened",
                                                   data={}, created_at=db.utcnow()))
        with engine.connect() as conn:
            # The owner (superuser here, BYPASSRLS `postgres` on Supabase) sees every row despite FORCE RLS.
            assert conn.execute(sa.select(sa.func.count()).select_from(db.tutor_sessions)).scalar() == 5
            row = conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == session_id)).one()
            assert (row.user_id, row.kind) == (user_id, "chat")
        # A users row without its auth.users row is refused: register Supabase users with their auth id.
        with pytest.raises(sa.exc.IntegrityError, match="users_id_fkey"):
            with engine.begin() as conn:
                conn.execute(db.users.insert().values(id=db.new_id(), email="x@example.org", name="", role="student",
                                                      language="en", created_at=db.utcnow()))
    finally:
        engine.dispose()
    with request(world.conn, user_id) as cur:
        assert column(cur, "select id from public.tutor_sessions") == {session_id}


def test_sql_migrations_after_the_app_migrator_give_the_same_database(postgres_url):
    """If the app created the tables first, the SQL still adds RLS, the auth link and the server defaults."""
    apply_sql(postgres_url, [EMULATION])
    engine = db.create_engine(postgres_url)
    try:
        assert migrations.migrate(engine) == [migration.__name__ for migration in migrations.MIGRATIONS]
        apply_sql(postgres_url, MIGRATIONS)
        assert migrations.migrate(engine) == []
    finally:
        engine.dispose()
    with connect(postgres_url, autocommit=True) as conn:
        assert as_owner(conn, "select count(*) from pg_constraint where conname = 'users_id_fkey'") == [(1,)]
        assert as_owner(conn, "select count(*) from pg_class where relnamespace = 'public'::regnamespace "
                              "and relkind = 'r' and relforcerowsecurity") == [(len(TABLES),)]
        user = str(uuid.uuid4())
        as_owner(conn, "insert into auth.users (id) values (%s)", [user])
        as_owner(conn, "insert into public.users (id, email, role, language) values (%s, 'u@example.org', "
                       "'student', 'es')", [user])  # id given, name and created_at from server defaults
        with request(conn, user, commit=True) as cur:
            cur.execute("insert into public.tutor_sessions (user_id, kind, language) "
                        "values (%s, 'chat', 'es') returning id", [user])
            session = cur.fetchone()[0]
            cur.execute("insert into public.events (user_id, kind) values (%s, 'abandon')", [user])
        assert as_owner(conn, "select count(*) from public.tutor_sessions where id = %s", [session]) == [(1,)]


# --- students ------------------------------------------------------------------------------------------------------

def test_student_reads_only_own_rows(world):
    with request(world.conn, world.A) as cur:
        for table in USER_TABLES:
            assert column(cur, f"select id from public.{table}") == world.owned(table, "A"), table
        assert column(cur, "select id from public.users") == {world.A}
        assert column(cur, "select class_id from public.memberships") == {world.c1}
        assert column(cur, "select user_id from public.memberships") == {world.A}
        assert column(cur, "select id from public.classes") == {world.c1}
        # The rows of B are not there even when asked for by id.
        assert column(cur, "select id from public.tutor_sessions where id = %s", [world.sB0]) == set()


def test_student_cannot_update_or_delete_another_students_rows(world):
    with request(world.conn, world.A) as cur:
        for table, change in UPDATABLE.items():
            cur.execute(f"update public.{table} set {change} where user_id = %s", [world.B])
            assert cur.rowcount == 0, table
        for table in DELETABLE:
            cur.execute(f"delete from public.{table} where user_id = %s", [world.B])
            assert cur.rowcount == 0, table
        cur.execute("update public.users set name = 'hacked' where id = %s", [world.B])
        assert cur.rowcount == 0
    for table in USER_TABLES:
        assert as_owner(world.conn, f"select count(*) from public.{table} where user_id = %s",
                        [world.B]) == [(len(world.owned(table, "B")),)], table
    assert as_owner(world.conn, "select name from public.users where id = %s", [world.B]) == [("B",)]


@pytest.mark.parametrize("statement", [
    "insert into public.tutor_sessions (user_id, kind, language) values (%(B)s, 'chat', 'es')",
    "insert into public.events (user_id, kind) values (%(B)s, 'pause')",
    "insert into public.messages (session_id, user_id, role, content) values (%(sB0)s, %(B)s, 'user', 'x')",
    "insert into public.ratings (session_id, user_id, helpful) values (%(sB0)s, %(B)s, false)",
    # not into B's session under A's own name either
    "insert into public.messages (session_id, user_id, role, content) values (%(sB0)s, %(A)s, 'user', 'x')",
    "insert into public.ratings (session_id, user_id, helpful) values (%(sB0)s, %(A)s, false)",
    "insert into public.tutor_sessions (user_id, kind, language, parent_session_id) "
    "values (%(A)s, 'chat', 'es', %(sB0)s)",
    "insert into public.events (user_id, session_id, kind) values (%(A)s, %(sB0)s, 'pause')",
])
def test_student_cannot_write_rows_for_another_student(world, statement):
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.A) as cur:
            cur.execute(statement, world.ids)


@pytest.mark.parametrize("statement", [
    # nor move an own row over to B, or an own message into B's session: owners and sessions are not updatable
    "update public.tutor_sessions set user_id = %(B)s where id = %(sA0)s",
    "update public.events set user_id = %(B)s where user_id = %(A)s",
    "update public.messages set session_id = %(sB0)s where session_id = %(sA0)s",
    "update public.ratings set session_id = %(sB0)s where session_id = %(sA0)s",
])
def test_student_cannot_move_own_rows_to_another_student(world, statement):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, world.A) as cur:
            cur.execute(statement, world.ids)


def test_student_writes_own_rows(world):
    with request(world.conn, world.A, commit=True) as cur:
        cur.execute("insert into public.tutor_sessions (user_id, kind, language, parent_session_id, parent_step) "
                    "values (%s, 'chat', 'es', %s, 2) returning id, status, answer_id", [world.A, world.sA0])
        session, status, answer = cur.fetchone()
        assert (status, answer) == ("open", None)  # server-set columns get the server's values
        cur.execute("insert into public.messages (session_id, user_id, role, content) values (%s, %s, 'user', 'q')",
                    [session, world.A])
        # the unrated explanation, for its own answer
        cur.execute("insert into public.ratings (session_id, user_id, answer_id, helpful) values (%s, %s, %s, true)",
                    [world.sA1, world.A, world.approved])
        cur.execute("insert into public.events (user_id, session_id, kind, step) values (%s, %s, 'pause', 2)",
                    [world.A, world.sA0])
        cur.execute("insert into public.events (user_id, kind) values (%s, 'abandon')", [world.A])
        cur.execute("update public.tutor_sessions set title = 'Mi chat' where id = %s", [session])
        assert cur.rowcount == 1
        cur.execute("update public.ratings set comment = 'ok', helpful = false where session_id = %s", [world.sA1])
        assert cur.rowcount == 1
        cur.execute("delete from public.messages where session_id = %s", [world.sA0])
        assert cur.rowcount == 2
    assert as_owner(world.conn, "select count(*) from public.events where user_id = %s",
                    [world.A]) == [(len(world.owned("events", "A")) + 2,)]
    with request(world.conn, world.A, commit=True) as cur:
        cur.execute("delete from public.tutor_sessions where id = %s", [session])  # cascades to its rows
        assert cur.rowcount == 1
    assert as_owner(world.conn, "select count(*) from public.messages where session_id = %s", [session]) == [(0,)]


def test_student_cannot_change_own_role_or_email_or_read_password_hashes(world):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, world.A) as cur:
            cur.execute("update public.users set role = 'teacher' where id = %s", [world.A])
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, world.A) as cur:
            cur.execute("update public.users set email = 'b@example.org' where id = %s", [world.A])
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, world.A) as cur:
            cur.execute("select password_hash from public.users where id = %s", [world.A])
    with request(world.conn, world.A, commit=True) as cur:
        cur.execute("update public.users set name = 'Ana', language = 'en' where id = %s", [world.A])
        assert cur.rowcount == 1
        cur.execute("select id, email, name, role, language from public.users where id = %s", [world.A])
        assert cur.fetchone() == (world.A, "a@example.org", "Ana", "student", "en")
    # Second line of defence, should `role` ever be granted: the policy keeps the stored role.
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with world.conn.transaction(force_rollback=True), world.conn.cursor() as cur:
            cur.execute("grant update (role) on public.users to authenticated")  # rolled back with the test
            cur.execute("set local role authenticated")
            cur.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": world.A})])
            cur.execute("update public.users set role = 'teacher' where id = %s", [world.A])
    assert as_owner(world.conn, "select role from public.users where id = %s", [world.A]) == [("student",)]


def test_join_class_by_code_adds_exactly_the_caller(world):
    before = as_owner(world.conn, "select class_id, user_id from public.memberships order by 1, 2")
    with request(world.conn, world.D, commit=True) as cur:
        assert column(cur, "select id from public.classes") == set()
        cur.execute("select public.join_class(' abc123 ')")  # trimmed and upper-cased like the app does
        assert cur.fetchone() == (world.c1,)
        cur.execute("select public.join_class('ABC123')")  # joining twice is harmless
        assert cur.fetchone() == (world.c1,)
        assert column(cur, "select id from public.classes") == {world.c1}
        assert column(cur, "select user_id from public.memberships") == {world.D}
    after = as_owner(world.conn, "select class_id, user_id from public.memberships order by 1, 2")
    assert set(after) - set(before) == {(world.c1, world.D)} and set(before) <= set(after)
    with request(world.conn, world.T1) as cur:
        assert world.D in column(cur, "select id from public.users")
    with pytest.raises(errors.NoDataFound, match="unknown_class"):
        with request(world.conn, world.D) as cur:
            cur.execute("select public.join_class('NOPE99')")
    with pytest.raises(errors.InsufficientPrivilege, match="not_authenticated"):
        with request(world.conn, None) as cur:  # authenticated role but no sub
            cur.execute("select public.join_class('ABC123')")
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for table memberships"):
        with request(world.conn, world.D) as cur:  # no direct way in
            cur.execute("insert into public.memberships (class_id, user_id) values (%s, %s)", [world.c2, world.D])


# --- teachers ------------------------------------------------------------------------------------------------------

def test_teacher_reads_the_students_of_own_classes_only(world):
    with request(world.conn, world.T1) as cur:
        for table in USER_TABLES:
            assert column(cur, f"select id from public.{table}") == world.owned(table, "A", "B"), table
        assert column(cur, "select id from public.users") == {world.T1, world.A, world.B}
        assert column(cur, "select id from public.classes") == {world.c1}
        assert column(cur, "select user_id from public.memberships") == {world.A, world.B}
        # T2's class and its student do not exist for T1, even by id or by code.
        assert column(cur, "select id from public.classes where id = %s or join_code = 'XYZ789'", [world.c2]) == set()
        assert column(cur, "select user_id from public.memberships where class_id = %s", [world.c2]) == set()
        assert column(cur, "select id from public.users where id in (%s, %s)", [world.C, world.T2]) == set()
        assert column(cur, "select public.is_teacher_of(%s)", [world.C]) == {False}
    with request(world.conn, world.T2) as cur:
        assert column(cur, "select id from public.tutor_sessions") == world.owned("tutor_sessions", "C")


def test_teacher_cannot_write_students_rows(world):
    with request(world.conn, world.T1) as cur:
        for table, change in UPDATABLE.items():
            cur.execute(f"update public.{table} set {change} where user_id = %s", [world.A])
            assert cur.rowcount == 0, table
        for table in DELETABLE:
            cur.execute(f"delete from public.{table} where user_id = %s", [world.A])
            assert cur.rowcount == 0, table
        cur.execute("update public.users set name = 'x' where id = %s", [world.A])
        assert cur.rowcount == 0
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.T1) as cur:
            cur.execute("insert into public.messages (session_id, user_id, role, content) "
                        "values (%s, %s, 'assistant', 'x')", [world.sA0, world.A])


def test_teacher_manages_own_classes_and_their_memberships(world):
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.T1) as cur:
            cur.execute("update public.classes set teacher_id = %s where id = %s", [world.T2, world.c1])
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.T1) as cur:
            cur.execute("insert into public.classes (name, teacher_id, join_code) values ('X', %s, 'X1')",
                        [world.T2])
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.A) as cur:  # students do not create classes
            cur.execute("insert into public.classes (name, teacher_id, join_code) values ('X', %s, 'X1')",
                        [world.A])
    with request(world.conn, world.T1, commit=True) as cur:
        cur.execute("insert into public.classes (name, teacher_id, join_code) values ('New', %s, 'NEW111') "
                    "returning id", [world.T1])
        new_class = cur.fetchone()[0]
        cur.execute("update public.classes set name = 'Renamed' where id in (%s, %s)", [world.c1, world.c2])
        assert cur.rowcount == 1
        cur.execute("delete from public.classes where id in (%s, %s)", [new_class, world.c2])
        assert cur.rowcount == 1
        cur.execute("delete from public.memberships where user_id in (%s, %s)", [world.B, world.C])
        assert cur.rowcount == 1  # B left T1's class; C is in T2's
    with request(world.conn, world.A) as cur:  # a student cannot remove memberships, not even their own
        cur.execute("delete from public.memberships where user_id = %s", [world.A])
        assert cur.rowcount == 0
    assert as_owner(world.conn, "select name from public.classes order by name") == [("Class 2",), ("Renamed",)]
    assert sorted(as_owner(world.conn, "select user_id from public.memberships")) == sorted([(world.A,), (world.C,)])
    with request(world.conn, world.T1) as cur:  # B is no longer T1's student
        assert column(cur, "select id from public.tutor_sessions") == world.owned("tutor_sessions", "A")


# --- ai_answers, anon, service_role ---------------------------------------------------------------------------------

def test_ai_answers_are_read_only_for_users(world):
    with request(world.conn, world.A) as cur:
        assert column(cur, "select id from public.ai_answers") == {world.approved}
    with request(world.conn, world.T1) as cur:
        assert column(cur, "select id from public.ai_answers") == {world.approved, world.retired}
    for user in (world.A, world.T1):
        for statement in (
            "insert into public.ai_answers (question_hash, question, canonical, language, steps, total_duration, "
            "model, prompt_version, source) values ('h2', 'q', 'q', 'es', '[]', 1, 'm', 'v', 'generated')",
            "update public.ai_answers set hits = hits + 1",
            "delete from public.ai_answers",
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                with request(world.conn, user) as cur:
                    cur.execute(statement)
    assert as_owner(world.conn, "select hits from public.ai_answers") == [(0,), (0,)]


def test_service_role_writes_ai_answers_and_sees_everything(world):
    with request(world.conn, None, role="service_role", commit=True) as cur:
        cur.execute("update public.ai_answers set status = 'retired' where id = %s", [world.approved])
        cur.execute("insert into public.ai_answers (question_hash, question, canonical, language, steps, "
                    "total_duration, model, prompt_version, source) values ('h1', 'q', 'q', 'es', '[]', 1, 'm', "
                    "'v', 'edited') returning id")
        new = cur.fetchone()[0]
        assert len(column(cur, "select id from public.tutor_sessions")) == 4
        assert column(cur, "select version from public.schema_migrations") == set(range(1, len(migrations.MIGRATIONS) + 1))
    with request(world.conn, world.A) as cur:
        assert column(cur, "select id from public.ai_answers") == {new}


@pytest.mark.parametrize("table", TABLES)
def test_anon_gets_nothing(world, table):
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, None, role="anon") as cur:
            cur.execute(f"select * from public.{table}")
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        with request(world.conn, None, role="anon") as cur:
            cur.execute(f"delete from public.{table}")


def test_anon_cannot_call_the_functions(world):
    for call in ("public.join_class('ABC123')", f"public.is_teacher_of('{world.A}')", "public.my_role()",
                 f"public.is_own_session_answer('{world.sA0}', null)", f"public.own_session_question('{world.sA0}')"):
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied for function"):
            with request(world.conn, None, role="anon") as cur:
                cur.execute(f"select {call}")


def test_nothing_leaks_between_requests_on_one_connection(world):
    with request(world.conn, world.A) as cur:
        assert column(cur, "select auth.uid()") == {world.A}
    # Back to the owner, claims gone: the next request on this pooled connection starts clean.
    assert as_owner(world.conn, "select current_user, auth.uid(), auth.jwt()") == [("postgres", None, {})]
    with request(world.conn, None) as cur:  # a request without a user sees no user rows
        for table in USER_TABLES:
            assert column(cur, f"select id from public.{table}") == set(), table
        assert column(cur, "select id from public.users") == set()
