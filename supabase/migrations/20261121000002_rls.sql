-- Row-level security for every table of the tutor, for requests made through Supabase (PostgREST):
--   anon           nothing at all (no grants, no policies);
--   authenticated  the rows of the user in the JWT (auth.uid()), plus read-only access for a teacher to the rows
--                  of the students in their own classes; approved ai_answers;
--   service_role   everything (it has BYPASSRLS in Supabase), for the server.
-- FORCE ROW LEVEL SECURITY makes the policies apply to the table owner too; the app itself connects as `postgres`,
-- which has BYPASSRLS in Supabase (as does any superuser), so it keeps full access. The SECURITY DEFINER helpers
-- below run as their owner (`postgres`) for the same reason: they read memberships/classes/users without RLS.
-- Admins get nothing extra here: admin work goes through the app or service_role.
-- Idempotent: functions are replaced, policies dropped and created again, grants reset.

-- Helper functions ----------------------------------------------------------------------------------------------
-- SECURITY DEFINER so that a policy on one table can look at another without that table's policies (which would
-- recurse: classes → memberships → classes). search_path = '' and qualified names: no object of the caller can be
-- substituted. Each answers a question about the caller (auth.uid()) only, so they leak nothing about others.

create or replace function public.my_role() returns text
    language sql stable security definer set search_path = ''
as $$
    select u.role from public.users u where u.id = auth.uid()
$$;

-- Is the caller the teacher of a class that `student` is a member of?
create or replace function public.is_teacher_of(student uuid) returns boolean
    language sql stable security definer set search_path = ''
as $$
    select exists (
        select 1
        from public.memberships m
        join public.classes c on c.id = m.class_id
        where m.user_id = is_teacher_of.student and c.teacher_id = auth.uid()
    )
$$;

create or replace function public.is_class_teacher(class uuid) returns boolean
    language sql stable security definer set search_path = ''
as $$
    select exists (select 1 from public.classes c where c.id = is_class_teacher.class and c.teacher_id = auth.uid())
$$;

create or replace function public.is_class_member(class uuid) returns boolean
    language sql stable security definer set search_path = ''
as $$
    select exists (select 1 from public.memberships m
                   where m.class_id = is_class_member.class and m.user_id = auth.uid())
$$;

create or replace function public.owns_session(session uuid) returns boolean
    language sql stable security definer set search_path = ''
as $$
    select exists (select 1 from public.tutor_sessions s
                   where s.id = owns_session.session and s.user_id = auth.uid())
$$;

-- Joining a class by its code: the only way a membership is created by a user. Adds the caller (never anyone
-- else), once; returns the class id. Codes are matched like the app does (trimmed, upper case).
create or replace function public.join_class(code text) returns uuid
    language plpgsql volatile security definer set search_path = ''
as $$
declare
    caller uuid := auth.uid();
    target uuid;
begin
    if caller is null then
        raise exception 'not_authenticated' using errcode = '42501';
    end if;
    if not exists (select 1 from public.users u where u.id = caller) then
        raise exception 'no_profile' using errcode = 'P0002';
    end if;
    select c.id into target from public.classes c where c.join_code = upper(btrim(join_class.code));
    if target is null then
        raise exception 'unknown_class' using errcode = 'P0002';
    end if;
    insert into public.memberships (class_id, user_id, joined_at)
    values (target, caller, now())
    on conflict on constraint memberships_pkey do nothing;
    return target;
end
$$;

revoke all on function public.my_role(), public.is_teacher_of(uuid), public.is_class_teacher(uuid),
    public.is_class_member(uuid), public.owns_session(uuid), public.join_class(text) from public, anon;
grant execute on function public.my_role(), public.is_teacher_of(uuid), public.is_class_teacher(uuid),
    public.is_class_member(uuid), public.owns_session(uuid), public.join_class(text) to authenticated, service_role;

-- Row-level security on, for everyone including the owner ------------------------------------------------------

alter table public.users enable row level security;
alter table public.users force row level security;
alter table public.classes enable row level security;
alter table public.classes force row level security;
alter table public.memberships enable row level security;
alter table public.memberships force row level security;
alter table public.ai_answers enable row level security;
alter table public.ai_answers force row level security;
alter table public.tutor_sessions enable row level security;
alter table public.tutor_sessions force row level security;
alter table public.messages enable row level security;
alter table public.messages force row level security;
alter table public.ratings enable row level security;
alter table public.ratings force row level security;
alter table public.events enable row level security;
alter table public.events force row level security;
alter table public.schema_migrations enable row level security;  -- no policies: the app and service_role only
alter table public.schema_migrations force row level security;

-- Table privileges ----------------------------------------------------------------------------------------------
-- Start from nothing (Supabase's default privileges grant ALL to anon and authenticated), then grant back exactly
-- what the policies below need. Without a grant the request fails with "permission denied" before RLS applies.

revoke all on public.users, public.classes, public.memberships, public.ai_answers, public.tutor_sessions,
    public.messages, public.ratings, public.events, public.schema_migrations from public, anon, authenticated;
revoke all on all sequences in schema public from public, anon, authenticated;

-- users: no password_hash for API clients (a teacher must not read students' hashes): list the columns in
-- selects (select=id,email,name,role,language,created_at), `select *` is refused. Only name and language are
-- editable; role and email cannot be changed through the API.
grant select (id, email, name, role, language, created_at) on public.users to authenticated;
grant update (name, language) on public.users to authenticated;
grant select, insert, update, delete on public.classes to authenticated;
grant select, delete on public.memberships to authenticated;  -- insert: public.join_class only
grant select on public.ai_answers to authenticated;
grant select, insert, update, delete on public.tutor_sessions, public.messages, public.ratings, public.events
    to authenticated;
grant usage, select on sequence public.events_id_seq to authenticated;

grant all on public.users, public.classes, public.memberships, public.ai_answers, public.tutor_sessions,
    public.messages, public.ratings, public.events, public.schema_migrations to service_role;
grant all on all sequences in schema public to service_role;

-- Policies ------------------------------------------------------------------------------------------------------
-- (select auth.uid()) rather than auth.uid(): evaluated once per statement instead of once per row.

-- users
drop policy if exists users_select on public.users;
create policy users_select on public.users for select to authenticated
    using (id = (select auth.uid()) or public.is_teacher_of(id));

drop policy if exists users_update_own on public.users;
create policy users_update_own on public.users for update to authenticated
    using (id = (select auth.uid()))
    -- the stored role, read by my_role() from the statement's snapshot (before this update)
    with check (id = (select auth.uid()) and role = (select public.my_role()));

-- classes
drop policy if exists classes_select on public.classes;
create policy classes_select on public.classes for select to authenticated
    using (teacher_id = (select auth.uid()) or public.is_class_member(id));

drop policy if exists classes_insert on public.classes;
create policy classes_insert on public.classes for insert to authenticated
    with check (teacher_id = (select auth.uid()) and (select public.my_role()) in ('teacher', 'admin'));

drop policy if exists classes_update on public.classes;
create policy classes_update on public.classes for update to authenticated
    using (teacher_id = (select auth.uid()))
    with check (teacher_id = (select auth.uid()));

drop policy if exists classes_delete on public.classes;
create policy classes_delete on public.classes for delete to authenticated
    using (teacher_id = (select auth.uid()));

-- memberships
drop policy if exists memberships_select on public.memberships;
create policy memberships_select on public.memberships for select to authenticated
    using (user_id = (select auth.uid()) or public.is_class_teacher(class_id));

drop policy if exists memberships_delete on public.memberships;
create policy memberships_delete on public.memberships for delete to authenticated
    using (public.is_class_teacher(class_id));

-- ai_answers: writes are the server's (service_role); teachers also see retired versions.
drop policy if exists ai_answers_select on public.ai_answers;
create policy ai_answers_select on public.ai_answers for select to authenticated
    using (status = 'approved' or (select public.my_role()) in ('teacher', 'admin'));

-- tutor_sessions
drop policy if exists tutor_sessions_select on public.tutor_sessions;
create policy tutor_sessions_select on public.tutor_sessions for select to authenticated
    using (user_id = (select auth.uid()) or public.is_teacher_of(user_id));

drop policy if exists tutor_sessions_insert on public.tutor_sessions;
create policy tutor_sessions_insert on public.tutor_sessions for insert to authenticated
    with check (user_id = (select auth.uid())
                and (parent_session_id is null or public.owns_session(parent_session_id)));

drop policy if exists tutor_sessions_update on public.tutor_sessions;
create policy tutor_sessions_update on public.tutor_sessions for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid())
                and (parent_session_id is null or public.owns_session(parent_session_id)));

drop policy if exists tutor_sessions_delete on public.tutor_sessions;
create policy tutor_sessions_delete on public.tutor_sessions for delete to authenticated
    using (user_id = (select auth.uid()));

-- messages: the caller's own, in the caller's own sessions
drop policy if exists messages_select on public.messages;
create policy messages_select on public.messages for select to authenticated
    using (user_id = (select auth.uid()) or public.is_teacher_of(user_id));

drop policy if exists messages_insert on public.messages;
create policy messages_insert on public.messages for insert to authenticated
    with check (user_id = (select auth.uid()) and public.owns_session(session_id));

drop policy if exists messages_update on public.messages;
create policy messages_update on public.messages for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()) and public.owns_session(session_id));

drop policy if exists messages_delete on public.messages;
create policy messages_delete on public.messages for delete to authenticated
    using (user_id = (select auth.uid()));

-- ratings: also only of the caller's own sessions (one rating per session: rating someone else's would block
-- theirs)
drop policy if exists ratings_select on public.ratings;
create policy ratings_select on public.ratings for select to authenticated
    using (user_id = (select auth.uid()) or public.is_teacher_of(user_id));

drop policy if exists ratings_insert on public.ratings;
create policy ratings_insert on public.ratings for insert to authenticated
    with check (user_id = (select auth.uid()) and public.owns_session(session_id));

drop policy if exists ratings_update on public.ratings;
create policy ratings_update on public.ratings for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()) and public.owns_session(session_id));

drop policy if exists ratings_delete on public.ratings;
create policy ratings_delete on public.ratings for delete to authenticated
    using (user_id = (select auth.uid()));

-- events
drop policy if exists events_select on public.events;
create policy events_select on public.events for select to authenticated
    using (user_id = (select auth.uid()) or public.is_teacher_of(user_id));

drop policy if exists events_insert on public.events;
create policy events_insert on public.events for insert to authenticated
    with check (user_id = (select auth.uid()));

drop policy if exists events_update on public.events;
create policy events_update on public.events for update to authenticated
    using (user_id = (select auth.uid()))
    with check (user_id = (select auth.uid()));

drop policy if exists events_delete on public.events;
create policy events_delete on public.events for delete to authenticated
    using (user_id = (select auth.uid()));
