-- Version 3 here, m004_answer_checks in core/platform/db.py: the maths check of each answer (SymPy).
-- verified: true (every checkable claim held), false (one failed), null (nothing checkable / not checked);
-- check_failures: [{"step": n, "claim": "..."}]; needs_review: a failed answer waiting for a teacher.

alter table public.ai_answers add column if not exists verified boolean;
alter table public.ai_answers add column if not exists check_failures jsonb;
alter table public.ai_answers add column if not exists needs_review boolean not null default false;

insert into public.schema_migrations (version, name, applied_at)
values (3, 'm004_answer_checks', now())
on conflict (version) do nothing;
