-- m004_answer_checks of core/platform/migrations.py: the maths check of each answer (SymPy).
-- verified: true (every checkable claim held), false (one failed), null (nothing checkable / not checked);
-- check_failures: [{"step": n, "claim": "..."}]; needs_review: a failed answer waiting for a teacher.

alter table public.ai_answers add column if not exists verified boolean;
alter table public.ai_answers add column if not exists check_failures jsonb;
alter table public.ai_answers add column if not exists needs_review boolean not null default false;

insert into public.schema_migrations (version, name, applied_at)
select next.version, 'm004_answer_checks', now()
from (select coalesce(max(version), 0) + 1 as version from public.schema_migrations) as next
where not exists (select 1 from public.schema_migrations where name = 'm004_answer_checks');
