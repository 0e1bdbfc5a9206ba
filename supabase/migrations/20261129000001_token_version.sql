-- m005_token_version of core/platform/migrations.py: the version written into every app token; bumping it
-- (sign-out, `python -m core users revoke`) invalidates every app token of the user. API clients get no grant on
-- the column: only the app (service role / owner) changes it.

alter table public.users add column if not exists token_version integer not null default 0;

insert into public.schema_migrations (version, name, applied_at)
select next.version, 'm005_token_version', now()
from (select coalesce(max(version), 0) + 1 as version from public.schema_migrations) as next
where not exists (select 1 from public.schema_migrations where name = 'm005_token_version');
