-- m003_users_credits_check of core/platform/migrations.py. On PostgreSQL the check came with
-- 20261121000003_curation_and_credits.sql; this only records the name, so the app's migrator applies nothing.
-- Migrations are recorded by name; the version is the next number free (branches may add others in between).

insert into public.schema_migrations (version, name, applied_at)
select next.version, 'm003_users_credits_check', now()
from (select coalesce(max(version), 0) + 1 as version from public.schema_migrations) as next
where not exists (select 1 from public.schema_migrations where name = 'm003_users_credits_check');
