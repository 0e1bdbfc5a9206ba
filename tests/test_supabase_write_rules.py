"""What a user may write through Supabase (supabase/migrations/*_rls_write_rules.sql), on the harness of
tests/test_supabase_rls.py: real PostgreSQL, the emulated API roles, one transaction per request.

Every attack of the audit (issue 13, item 13) is run by student A twice: on the migrations WITHOUT the write rules,
where it must do its harm (so each test below can fail), and on all the migrations, where it must be refused by the
named layer and change nothing. The layers also hold one at a time: a widened grant is caught by the triggers,
disabled triggers by the grants and policies.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from psycopg import errors
from test_supabase_rls import (
    EMULATION,
    MIGRATIONS,
    World,
    apply_sql,
    as_owner,
    connect,
    request,
    seed,
    supabase_db,
    world,
)

WRITE_RULES = next(path for path in MIGRATIONS if path.name.endswith("_rls_write_rules.sql"))
ROW_CAP = 50

__all__ = ["supabase_db", "world"]  # fixtures used here


@dataclass(frozen=True)
class Attack:
    statements: tuple[str, ...]  # run by A in one committed request, with the world's ids as %(name)s
    harm: str                    # a query (as the owner) whose result the attack changes
    refused_by: str              # the error message of the layer that stops it


ATTACKS = {
    "30 own sessions rate a library answer": Attack(
        ("insert into public.tutor_sessions (user_id, kind, language, status, answer_id) "
         "select %(A)s, 'explanation', 'es', 'active', %(approved)s from generate_series(1, 30)",
         "insert into public.ratings (session_id, user_id, answer_id, helpful) select id, user_id, answer_id, false "
         "from public.tutor_sessions where id not in (%(sA0)s, %(sA1)s)"),
        "select count(*) from public.ratings where answer_id = %(approved)s and not helpful",
        "permission denied for table tutor_sessions"),
    "a rating of an own session for another answer": Attack(
        ("insert into public.ratings (session_id, user_id, answer_id, helpful) "
         "values (%(sA1)s, %(A)s, %(retired)s, false)",),
        "select count(*) from public.ratings where answer_id = %(retired)s",
        "row-level security"),
    "a complete event with another student's session": Attack(
        ("insert into public.events (user_id, session_id, kind) values (%(A)s, %(sB0)s, 'complete')",),
        "select count(*) from public.events where session_id = %(sB0)s",
        "row-level security"),
    "a complete event for an own session": Attack(
        ("insert into public.events (user_id, session_id, kind) values (%(A)s, %(sA0)s, 'complete')",),
        "select count(*) from public.events where kind = 'complete'",
        "row-level security"),
    "a forged assistant message": Attack(
        ("insert into public.messages (session_id, user_id, role, content) "
         "values (%(sA0)s, %(A)s, 'assistant', 'the answer is 5')",),
        "select count(*) from public.messages where role = 'assistant'",
        "row-level security"),
    "an own message turned into the assistant's": Attack(
        ("update public.messages set role = 'assistant' where role = 'user'",),
        "select count(*) from public.messages where role = 'assistant'",
        "permission denied for table messages"),
    "a session pointed at a retired answer": Attack(
        ("update public.tutor_sessions set answer_id = %(retired)s where id = %(sA0)s",),
        "select count(*) from public.tutor_sessions where answer_id = %(retired)s",
        "permission denied for table tutor_sessions"),
    "a new session on a retired answer": Attack(
        ("insert into public.tutor_sessions (user_id, kind, language, status, answer_id) "
         "values (%(A)s, 'explanation', 'es', 'active', %(retired)s)",),
        "select count(*) from public.tutor_sessions where answer_id = %(retired)s",
        "permission denied for table tutor_sessions"),
    "a session's status and cursor forged": Attack(
        ("update public.tutor_sessions set status = 'complete', step = 9, position = 999 where id = %(sA0)s",),
        "select status, step, position from public.tutor_sessions where id = %(sA0)s",
        "permission denied for table tutor_sessions"),
    "a backdated event": Attack(
        ("insert into public.events (user_id, kind, created_at) values (%(A)s, 'pause', '2000-01-01')",),
        "select count(*) from public.events where created_at < '2001-01-01'",
        "permission denied for table events"),
    "an event with a chosen id": Attack(
        ("insert into public.events (id, user_id, kind) values (1000000, %(A)s, 'pause')",),
        "select count(*) from public.events where id = 1000000",
        "permission denied for table events"),
    "an event with another question's hash": Attack(
        ("insert into public.events (user_id, session_id, kind, question_hash) "
         "values (%(A)s, %(sA0)s, 'pause', 'h-other')",),
        "select count(*) from public.events where question_hash = 'h-other'",
        "permission denied for table events"),
    "a backdated message": Attack(
        ("insert into public.messages (session_id, user_id, role, content, created_at) "
         "values (%(sA0)s, %(A)s, 'user', 'q', '2000-01-01')",),
        "select count(*) from public.messages where created_at < '2001-01-01'",
        "permission denied for table messages"),
    "10,000 events in one statement": Attack(
        ("insert into public.events (user_id, kind) select %(A)s, 'pause' from generate_series(1, 10000)",),
        "select count(*) from public.events",
        "too_many_rows"),
    "10,000 messages in one statement": Attack(
        ("insert into public.messages (session_id, user_id, role, content) "
         "select %(sA0)s, %(A)s, 'user', 'spam' from generate_series(1, 10000)",),
        "select count(*) from public.messages",
        "too_many_rows"),
    "own events rewritten": Attack(
        ("update public.events set kind = 'complete', value = 1 where user_id = %(A)s",),
        "select count(*) from public.events where value = 1",
        "permission denied for table events"),
    "own events deleted": Attack(  # last: the attacks before it measure A's events
        ("delete from public.events where user_id = %(A)s",),
        "select count(*) from public.events where user_id = %(A)s",
        "permission denied for table events"),
}


def harm(world: World, attack: Attack):
    return as_owner(world.conn, attack.harm, world.ids)


def run(world: World, attack: Attack) -> None:
    with request(world.conn, world.A, commit=True) as cur:
        for statement in attack.statements:
            cur.execute(statement, world.ids)


@pytest.fixture
def world_without_write_rules(postgres_url):
    apply_sql(postgres_url, [EMULATION, *(path for path in MIGRATIONS if path != WRITE_RULES)])
    with connect(postgres_url, autocommit=True) as conn:
        yield seed(conn)


def test_every_attack_did_harm_without_the_write_rules(world_without_write_rules):
    world = world_without_write_rules
    for name, attack in ATTACKS.items():
        before = harm(world, attack)
        run(world, attack)
        assert harm(world, attack) != before, name


@pytest.mark.parametrize("name", ATTACKS)
def test_the_attack_is_refused_and_changes_nothing(world, name):
    attack = ATTACKS[name]
    before = harm(world, attack)
    with pytest.raises((errors.InsufficientPrivilege, errors.ProgramLimitExceeded), match=attack.refused_by):
        run(world, attack)
    assert harm(world, attack) == before


def test_a_rating_counts_only_for_the_answer_the_server_gave_the_session(world):
    as_owner(world.conn, "update public.tutor_sessions set answer_id = null where id = %s", [world.sA1])
    for answer in (world.approved, world.retired):
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            with request(world.conn, world.A) as cur:
                cur.execute("insert into public.ratings (session_id, user_id, answer_id, helpful) "
                            "values (%s, %s, %s, false)", [world.sA1, world.A, answer])
    with request(world.conn, world.A, commit=True) as cur:  # a rating of the answerless session moves no answer
        cur.execute("insert into public.ratings (session_id, user_id, helpful) values (%s, %s, false)",
                    [world.sA1, world.A])
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        with request(world.conn, world.A) as cur:  # nor can a chat session be rated
            cur.execute("insert into public.tutor_sessions (id, user_id, kind, language) "
                        "values (gen_random_uuid(), %s, 'chat', 'es') returning id", [world.A])
            cur.execute("insert into public.ratings (session_id, user_id, helpful) values (%s, %s, true)",
                        [cur.fetchone()[0], world.A])
    assert as_owner(world.conn, "select answer_id, count(*) from public.ratings group by answer_id order by 2") == [
        (None, 1), (world.approved, 3)]


def test_an_events_question_hash_is_its_sessions(world):
    as_owner(world.conn, "update public.tutor_sessions set question_hash = 'h-a0' where id = %s", [world.sA0])
    with request(world.conn, world.A, commit=True) as cur:
        cur.execute("insert into public.events (user_id, session_id, kind, step) values (%s, %s, 'pause', 3), "
                    "(%s, null, 'abandon', null) returning question_hash, created_at > now() - interval '1 hour'",
                    [world.A, world.sA0, world.A])
        assert cur.fetchall() == [("h-a0", True), (None, True)]


def test_the_row_cap_is_per_api_statement(world):
    many = "insert into public.events (user_id, kind) select %s, 'pause' from generate_series(1, %s)"
    with request(world.conn, world.A, commit=True) as cur:
        cur.execute(many, [world.A, ROW_CAP])
        assert cur.rowcount == ROW_CAP
    with pytest.raises(errors.ProgramLimitExceeded, match="too_many_rows"):
        with request(world.conn, world.A) as cur:
            cur.execute(many, [world.A, ROW_CAP + 1])
    with request(world.conn, None, role="service_role", commit=True) as cur:  # the server is not capped
        cur.execute(many, [world.A, 1000])
    as_owner(world.conn, many, [world.A, 1000])  # nor is the app
    assert as_owner(world.conn, "select count(*) from public.events where user_id = %s and kind = 'pause'",
                    [world.A]) == [(ROW_CAP + 2000,)]


def test_the_triggers_hold_when_a_grant_is_widened(world):
    """A deliberately broken grant (rolled back with the test): the server's columns still get the server's values."""
    with world.conn.transaction(force_rollback=True), world.conn.cursor() as cur:
        cur.execute("grant insert (answer_id, question_hash, status, step, position, created_at, updated_at), "
                    "update (answer_id, status, step, position, created_at) on public.tutor_sessions to authenticated")
        cur.execute("grant insert (question_hash, created_at) on public.events to authenticated")
        cur.execute("grant insert (created_at), update (role, content) on public.messages to authenticated")
        cur.execute("set local role authenticated")
        cur.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": world.A})])
        cur.execute("insert into public.tutor_sessions (user_id, kind, language, answer_id, question_hash, status, "
                    "step, position, created_at) values (%s, 'explanation', 'es', %s, 'h1', 'complete', 9, 99, "
                    "'2000-01-01') returning answer_id, question_hash, status, step, position, "
                    "created_at > now() - interval '1 hour'", [world.A, world.retired])
        assert cur.fetchone() == (None, None, "open", 0, 0, True)
        cur.execute("update public.tutor_sessions set answer_id = %s, status = 'complete', step = 9 where id = %s "
                    "returning answer_id, status, step", [world.retired, world.sA0])
        assert cur.fetchone() == (world.approved, "active", 0)
        cur.execute("insert into public.events (user_id, session_id, kind, question_hash, created_at) "
                    "values (%s, %s, 'pause', 'h-other', '2000-01-01') "
                    "returning question_hash, created_at > now() - interval '1 hour'", [world.A, world.sA0])
        assert cur.fetchone() == (None, True)  # the session's hash (none here), not the one sent
        cur.execute("insert into public.messages (session_id, user_id, role, content, created_at) "
                    "values (%s, %s, 'user', 'q', '2000-01-01') returning created_at > now() - interval '1 hour'",
                    [world.sA0, world.A])
        assert cur.fetchone() == (True,)
        cur.execute("update public.messages set role = 'assistant' where user_id = %s", [world.A])
        assert cur.rowcount == 0  # no update policy: no message is editable


def test_the_grants_and_policies_hold_without_the_triggers(world):
    """The other way round (rolled back with the test): with the triggers disabled the attacks are still refused."""
    for name in ("30 own sessions rate a library answer", "a forged assistant message", "a backdated event",
                 "a complete event with another student's session"):
        attack = ATTACKS[name]
        with pytest.raises(errors.InsufficientPrivilege, match=attack.refused_by):
            with world.conn.transaction(force_rollback=True), world.conn.cursor() as cur:
                for table in ("tutor_sessions", "messages", "ratings", "events"):
                    cur.execute(f"alter table public.{table} disable trigger server_columns")
                cur.execute("set local role authenticated")
                cur.execute("select set_config('request.jwt.claims', %s, true)", [json.dumps({"sub": world.A})])
                for statement in attack.statements:
                    cur.execute(statement, world.ids)


def test_the_write_rules_can_be_applied_again(world):
    apply_sql(world.url, [WRITE_RULES])
    test_the_attack_is_refused_and_changes_nothing(world, "a forged assistant message")
    test_the_attack_is_refused_and_changes_nothing(world, "10,000 events in one statement")
