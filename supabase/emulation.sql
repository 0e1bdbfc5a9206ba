-- What a Supabase project already has, rebuilt on plain PostgreSQL so the migrations in supabase/migrations/ and
-- their row-level security can be tested without Supabase (docs/architecture.md §8). NOT a migration: never run
-- this against a real Supabase project (it owns the auth schema there).
--
-- Run as a superuser, once per database, before the migrations. Safe to run again, and safe to run from several
-- test databases at the same time: roles are cluster-wide, so they are created only when missing.

-- Roles ---------------------------------------------------------------------------------------------------------
-- anon: requests without a JWT; authenticated: requests with a user's JWT; service_role: the server key, which
-- bypasses row-level security. None of them can log in: a request switches to them with `set local role`.
do $roles$
declare
    wanted text;
begin
    foreach wanted in array array['anon', 'authenticated', 'service_role'] loop
        if not exists (select 1 from pg_catalog.pg_roles where rolname = wanted) then
            begin
                execute format('create role %I nologin noinherit', wanted);
            exception when duplicate_object or unique_violation then
                null;  -- another test database created it meanwhile
            end;
        end if;
    end loop;
    if not (select rolbypassrls from pg_catalog.pg_roles where rolname = 'service_role') then
        alter role service_role bypassrls;
    end if;
end
$roles$;

-- Supabase grants the API roles usage of public, and, by default privileges of the migrating role, ALL on every
-- new table, sequence and function in it. Reproduced here so the tests prove that the migrations take back what
-- anon and authenticated must not have.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;

-- Schema auth: the minimum of Supabase Auth (GoTrue) that public.users and the policies refer to -----------------
create schema if not exists auth;

create table if not exists auth.users (
    id    uuid primary key,
    email text
);

-- The claims of the request's JWT, as PostgREST sets them: `select set_config('request.jwt.claims', '<json>',
-- true)` inside the request's transaction. Outside a request the setting is missing or '' → '{}'.
create or replace function auth.jwt() returns jsonb
    language sql stable
as $$
    select coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

create or replace function auth.uid() returns uuid
    language sql stable
as $$
    select nullif(auth.jwt() ->> 'sub', '')::uuid
$$;

create or replace function auth.role() returns text
    language sql stable
as $$
    select nullif(auth.jwt() ->> 'role', '')::text
$$;

grant usage on schema auth to anon, authenticated, service_role;
grant execute on function auth.jwt(), auth.uid(), auth.role() to anon, authenticated, service_role;
grant all on auth.users to service_role;
