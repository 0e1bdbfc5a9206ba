-- Version 3 of core/platform/db.py (m003_token_version): the version written into every app token; bumping it
-- (sign-out, `python -m core users revoke`) invalidates every app token of the user. API clients get no grant on
-- the column: only the app (service role / owner) changes it.

alter table public.users add column if not exists token_version integer not null default 0;

insert into public.schema_migrations (version, name, applied_at)
values (3, 'm003_token_version', now())
on conflict (version) do nothing;
