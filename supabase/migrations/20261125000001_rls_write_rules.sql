-- What a user may WRITE through the API (issue 13, item 13). 20261121000002_rls.sql decided whose rows a user may
-- touch; this migration decides which values they may put in them, so a student's own rows cannot move the
-- numbers of others (an answer's helpful-rate, a teacher's KPIs) or impersonate the server:
--   ratings        only of the caller's own explanation session, for that session's answer;
--   events         only the kinds a client reports (pause, resume, abandon), of the caller's own sessions or of no
--                  session; never updated or deleted by users (the analytics log is append-only);
--   messages       inserted by users only with role 'user' (assistant messages are the server's); never updated;
--   tutor_sessions the answer, question hash, status, cursor and timestamps are the server's.
-- Three layers: column privileges say which columns a user may name at all ("permission denied"); policies check
-- the values ("row-level security"); BEFORE triggers set the server's columns themselves for API callers, should a
-- grant ever be widened by mistake. A statement-level trigger caps the rows one API statement may insert.
-- Nothing here changes a column: the schema stays the one core/platform/db.py creates.
-- Idempotent: functions replaced, policies and triggers dropped and created again, grants reset.

-- Helpers (SECURITY DEFINER like those of 20261121000002_rls.sql: they read sessions without their policies) -------

-- Is ``session`` an explanation session of the caller whose answer is ``answer`` (both may be null)?
create or replace function public.is_own_session_answer(session uuid, answer uuid) returns boolean
    language sql stable security definer set search_path = ''
as $$
    select exists (select 1 from public.tutor_sessions s
                   where s.id = is_own_session_answer.session and s.user_id = auth.uid()
                     and s.kind = 'explanation' and s.answer_id is not distinct from is_own_session_answer.answer)
$$;

-- The question hash of one of the caller's sessions (null for anyone else's).
create or replace function public.own_session_question(session uuid) returns varchar
    language sql stable security definer set search_path = ''
as $$
    select s.question_hash from public.tutor_sessions s
    where s.id = own_session_question.session and s.user_id = auth.uid()
$$;

-- Is the current request an API user's (PostgREST switches to these roles)? The app (the owner), service_role and
-- the SECURITY DEFINER functions above are not.
create or replace function public.is_api_user() returns boolean
    language sql stable set search_path = ''
as $$
    select current_user in ('anon', 'authenticated')
$$;

revoke all on function public.is_own_session_answer(uuid, uuid), public.own_session_question(uuid),
    public.is_api_user() from public, anon;
grant execute on function public.is_own_session_answer(uuid, uuid), public.own_session_question(uuid),
    public.is_api_user() to authenticated, service_role;

-- Column privileges ------------------------------------------------------------------------------------------------
-- Table-wide insert/update grants of 20261121000002_rls.sql are taken back and granted per column. Left out, so the
-- server's: ids of events (an identity: a chosen id would collide with the server's next one), every created_at /
-- updated_at, the session's answer, question hash, status and cursor, an event's question hash, and user_id /
-- session_id / role on update (a row is not moved to another owner, session or author).

revoke insert, update on public.tutor_sessions, public.messages, public.ratings, public.events from authenticated;
revoke delete on public.events from authenticated;

grant insert (id, user_id, kind, title, question, language, parent_session_id, parent_step)
    on public.tutor_sessions to authenticated;
grant update (title) on public.tutor_sessions to authenticated;
grant insert (id, session_id, user_id, role, content) on public.messages to authenticated;
grant insert (id, session_id, user_id, answer_id, helpful, comment) on public.ratings to authenticated;
grant update (helpful, comment) on public.ratings to authenticated;
grant insert (user_id, session_id, kind, step, value, data) on public.events to authenticated;

-- Policies ---------------------------------------------------------------------------------------------------------

-- ratings: one of the caller's explanation sessions, and exactly that session's answer.
drop policy if exists ratings_insert on public.ratings;
create policy ratings_insert on public.ratings for insert to authenticated
    with check (user_id = (select auth.uid()) and public.is_own_session_answer(session_id, answer_id));

drop policy if exists ratings_update on public.ratings;
create policy ratings_update on public.ratings for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()) and public.is_own_session_answer(session_id, answer_id));

-- events: the kinds a client may report, about one of its own sessions or none. Everything the KPIs count as done
-- by the server (question_asked, complete, error, rating, generation, …) is written by the app only.
drop policy if exists events_insert on public.events;
create policy events_insert on public.events for insert to authenticated
    with check (user_id = (select auth.uid())
                and kind in ('pause', 'resume', 'abandon')
                and (session_id is null or public.owns_session(session_id)));
drop policy if exists events_update on public.events;
drop policy if exists events_delete on public.events;

-- messages: a user writes only their own words; no edits afterwards.
drop policy if exists messages_insert on public.messages;
create policy messages_insert on public.messages for insert to authenticated
    with check (user_id = (select auth.uid()) and role = 'user' and public.owns_session(session_id));
drop policy if exists messages_update on public.messages;

-- Server-set columns (second line, behind the column privileges) --------------------------------------------------
-- For API callers only: the app and service_role write these columns as they need.

create or replace function public.server_columns_tutor_sessions() returns trigger
    language plpgsql set search_path = ''
as $$
begin
    if public.is_api_user() then
        if tg_op = 'INSERT' then
            new.answer_id := null;
            new.question_hash := null;
            new.status := 'open';
            new.step := 0;
            new.position := 0;
            new.created_at := now();
        else
            new.answer_id := old.answer_id;
            new.question_hash := old.question_hash;
            new.status := old.status;
            new.step := old.step;
            new.position := old.position;
            new.created_at := old.created_at;
        end if;
        new.updated_at := now();
    end if;
    return new;
end
$$;

create or replace function public.server_columns_messages() returns trigger
    language plpgsql set search_path = ''
as $$
begin
    if public.is_api_user() then
        new.created_at := case when tg_op = 'INSERT' then now() else old.created_at end;
    end if;
    return new;
end
$$;

create or replace function public.server_columns_ratings() returns trigger
    language plpgsql set search_path = ''
as $$
begin
    if public.is_api_user() then
        new.created_at := now();  -- as the app does: the time of the latest opinion
    end if;
    return new;
end
$$;

create or replace function public.server_columns_events() returns trigger
    language plpgsql set search_path = ''
as $$
begin
    if public.is_api_user() then
        new.question_hash := public.own_session_question(new.session_id);
        new.created_at := now();
    end if;
    return new;
end
$$;

drop trigger if exists server_columns on public.tutor_sessions;
create trigger server_columns before insert or update on public.tutor_sessions
    for each row execute function public.server_columns_tutor_sessions();
drop trigger if exists server_columns on public.messages;
create trigger server_columns before insert or update on public.messages
    for each row execute function public.server_columns_messages();
drop trigger if exists server_columns on public.ratings;
create trigger server_columns before insert or update on public.ratings
    for each row execute function public.server_columns_ratings();
drop trigger if exists server_columns on public.events;
create trigger server_columns before insert on public.events
    for each row execute function public.server_columns_events();

-- Rows per statement -----------------------------------------------------------------------------------------------
-- PostgREST turns a JSON array into one INSERT, so one request could write 10,000 rows. No client of the tutor
-- writes more than a few rows at a time; an API statement inserting more than 50 is refused as a whole. An AFTER
-- STATEMENT trigger with a transition table is the only place that sees the statement's row count (a row trigger
-- sees one row, a BEFORE STATEMENT trigger none); the rows are written and then rolled back with the statement, which
-- the role's statement_timeout bounds. Per-user volume over time is the rate limiter's job, not this one.

create or replace function public.limit_rows_per_statement() returns trigger
    language plpgsql set search_path = ''
as $$
declare
    most constant integer := tg_argv[0]::integer;
begin
    if public.is_api_user() and (select count(*) from inserted) > most then
        raise exception 'too_many_rows'
            using errcode = '54000', detail = format('at most %s rows per request into %s', most, tg_table_name);
    end if;
    return null;
end
$$;

do $$
declare
    name text;
begin
    foreach name in array array['classes', 'tutor_sessions', 'messages', 'ratings', 'events'] loop
        execute format('drop trigger if exists rows_per_statement on public.%I', name);
        execute format('create trigger rows_per_statement after insert on public.%I '
                       'referencing new table as inserted for each statement '
                       'execute function public.limit_rows_per_statement(50)', name);
    end loop;
end
$$;

revoke all on function public.server_columns_tutor_sessions(), public.server_columns_messages(),
    public.server_columns_ratings(), public.server_columns_events(), public.limit_rows_per_statement()
    from public, anon, authenticated;
