-- Version 2 of core/platform/db.py (m002_curation_and_credits): answer versions and credits.

alter table public.users add column if not exists credits integer not null default 0;
do $$
begin
    if not exists (select 1 from pg_constraint
                   where conname = 'users_credits' and conrelid = 'public.users'::regclass) then
        alter table public.users add constraint users_credits check (credits >= 0);
    end if;
end
$$;

create table if not exists public.answer_versions (
    id         uuid        not null default gen_random_uuid(),
    answer_id  uuid        not null,
    version    integer     not null,
    editor_id  uuid,
    action     varchar(16) not null,
    summary    text        not null default '',
    steps      jsonb       not null,
    status     varchar(16) not null,
    created_at timestamptz not null default now(),
    constraint answer_versions_pkey primary key (id),
    constraint answer_versions_answer_version unique (answer_id, version),
    constraint answer_versions_action check (action in ('created', 'edited', 'approved', 'retired')),
    constraint answer_versions_answer_id_fkey foreign key (answer_id)
        references public.ai_answers (id) on delete cascade,
    constraint answer_versions_editor_id_fkey foreign key (editor_id) references public.users (id) on delete set null
);
create index if not exists ix_answer_versions_answer_id on public.answer_versions (answer_id);

create table if not exists public.credit_ledger (
    id            uuid        not null default gen_random_uuid(),
    user_id       uuid        not null,
    delta         integer     not null,
    reason        varchar(40) not null,
    granted_by    uuid,
    question_hash varchar(64),
    created_at    timestamptz not null default now(),
    constraint credit_ledger_pkey primary key (id),
    constraint credit_ledger_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade,
    constraint credit_ledger_granted_by_fkey foreign key (granted_by) references public.users (id) on delete set null
);
create index if not exists ix_credit_ledger_user_id on public.credit_ledger (user_id);

insert into public.schema_migrations (version, name, applied_at)
values (2, 'm002_curation_and_credits', now())
on conflict (version) do nothing;

-- Row-level security: versions are read by teachers and admins, written only by the service role (the app);
-- a student reads their own credit ledger, a teacher those of their students; balances change only through the app.
alter table public.answer_versions enable row level security;
alter table public.answer_versions force row level security;
alter table public.credit_ledger enable row level security;
alter table public.credit_ledger force row level security;

revoke all on public.answer_versions, public.credit_ledger from public, anon, authenticated;
grant select on public.answer_versions, public.credit_ledger to authenticated;
grant select (credits) on public.users to authenticated;
grant all on public.answer_versions, public.credit_ledger to service_role;

drop policy if exists answer_versions_select on public.answer_versions;
create policy answer_versions_select on public.answer_versions for select to authenticated
    using ((select public.my_role()) in ('teacher', 'admin'));

drop policy if exists credit_ledger_select on public.credit_ledger;
create policy credit_ledger_select on public.credit_ledger for select to authenticated
    using (user_id = (select auth.uid()) or public.is_teacher_of(user_id));
