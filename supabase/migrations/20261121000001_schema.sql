-- The tutor's schema in a Supabase project: the same tables, columns, types, constraints and indexes as
-- core/platform/db.py (migration m001_initial), so the app (SQLAlchemy Core, connecting as the owner `postgres`) and
-- Supabase clients (PostgREST, as anon / authenticated / service_role) share one database.
-- tests/test_supabase_rls.py compares this schema with core.platform.db.metadata, column by column: change both together.
--
-- Idempotent: tables and indexes are created only when missing, so this also runs on a database where the app's
-- own migrator created the tables first; the Supabase additions further down (server-side defaults, the link of
-- public.users to auth.users) are applied in both cases. Row-level security is in the next migration.

-- Tables, as core/platform/db.py creates them ----------------------------------------------------------------------------

create table if not exists public.users (
    id            uuid         not null,
    email         varchar(254) not null,
    name          varchar(120) not null,
    password_hash varchar(255),
    role          varchar(16)  not null,
    language      varchar(8)   not null,
    created_at    timestamptz  not null,
    constraint users_pkey primary key (id),
    constraint users_email_key unique (email),
    constraint users_role check (role in ('student', 'teacher', 'admin'))
);

create table if not exists public.classes (
    id         uuid         not null,
    name       varchar(120) not null,
    teacher_id uuid         not null,
    join_code  varchar(16)  not null,
    created_at timestamptz  not null,
    constraint classes_pkey primary key (id),
    constraint classes_join_code_key unique (join_code),
    constraint classes_teacher_id_fkey foreign key (teacher_id) references public.users (id) on delete cascade
);
create index if not exists ix_classes_teacher_id on public.classes (teacher_id);

create table if not exists public.memberships (
    class_id  uuid        not null,
    user_id   uuid        not null,
    joined_at timestamptz not null,
    constraint memberships_pkey primary key (class_id, user_id),
    constraint memberships_class_id_fkey foreign key (class_id) references public.classes (id) on delete cascade,
    constraint memberships_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade
);
create index if not exists ix_memberships_user_id on public.memberships (user_id);

create table if not exists public.ai_answers (
    id             uuid         not null,
    question_hash  varchar(64)  not null,
    question       text         not null,
    canonical      text         not null,
    language       varchar(8)   not null,
    subject        varchar(40)  not null,
    level          varchar(40)  not null,
    steps          jsonb        not null,
    total_duration integer      not null,
    model          varchar(120) not null,
    prompt_version varchar(40)  not null,
    source         varchar(16)  not null,
    status         varchar(16)  not null,
    hits           integer      not null,
    version        integer      not null,
    created_at     timestamptz  not null,
    updated_at     timestamptz  not null,
    constraint ai_answers_pkey primary key (id),
    constraint ai_answers_status check (status in ('approved', 'retired')),
    constraint ai_answers_source check (source in ('library', 'generated', 'edited'))
);
create index if not exists ix_ai_answers_question_hash on public.ai_answers (question_hash);
-- At most one approved answer per question; retired versions stay for history.
create unique index if not exists ai_answers_one_approved on public.ai_answers (question_hash)
    where status = 'approved';

create table if not exists public.tutor_sessions (
    id                uuid         not null,
    user_id           uuid         not null,
    kind              varchar(16)  not null,
    title             varchar(200) not null,
    question          text         not null,
    question_hash     varchar(64),
    language          varchar(8)   not null,
    answer_id         uuid,
    parent_session_id uuid,
    parent_step       integer,
    step              integer      not null,
    position          integer      not null,
    status            varchar(16)  not null,
    created_at        timestamptz  not null,
    updated_at        timestamptz  not null,
    constraint tutor_sessions_pkey primary key (id),
    constraint tutor_sessions_kind check (kind in ('explanation', 'chat')),
    constraint tutor_sessions_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade,
    constraint tutor_sessions_answer_id_fkey foreign key (answer_id)
        references public.ai_answers (id) on delete set null,
    constraint tutor_sessions_parent_session_id_fkey foreign key (parent_session_id)
        references public.tutor_sessions (id) on delete set null
);
create index if not exists ix_tutor_sessions_user_id on public.tutor_sessions (user_id);

create table if not exists public.messages (
    id         uuid        not null,
    session_id uuid        not null,
    user_id    uuid        not null,
    role       varchar(16) not null,
    content    text        not null,
    created_at timestamptz not null,
    constraint messages_pkey primary key (id),
    constraint messages_role check (role in ('user', 'assistant')),
    constraint messages_session_id_fkey foreign key (session_id)
        references public.tutor_sessions (id) on delete cascade,
    constraint messages_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade
);
create index if not exists ix_messages_session_id on public.messages (session_id);

create table if not exists public.ratings (
    id         uuid        not null,
    session_id uuid        not null,
    user_id    uuid        not null,
    answer_id  uuid,
    helpful    boolean     not null,
    comment    text        not null,
    created_at timestamptz not null,
    constraint ratings_pkey primary key (id),
    constraint ratings_session_id_key unique (session_id),
    constraint ratings_session_id_fkey foreign key (session_id)
        references public.tutor_sessions (id) on delete cascade,
    constraint ratings_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade,
    constraint ratings_answer_id_fkey foreign key (answer_id) references public.ai_answers (id) on delete set null
);

create table if not exists public.events (
    id            bigint generated by default as identity,
    user_id       uuid,
    session_id    uuid,
    kind          varchar(40)      not null,
    question_hash varchar(64),
    step          integer,
    value         double precision,
    data          jsonb            not null,
    created_at    timestamptz      not null,
    constraint events_pkey primary key (id),
    constraint events_user_id_fkey foreign key (user_id) references public.users (id) on delete cascade
);
create index if not exists ix_events_created_at on public.events (created_at);
create index if not exists ix_events_user_id on public.events (user_id);

-- core/platform/db.py's migrator records applied versions here; version 1 (m001_initial) is this file, so the app's
-- `migrate()` applies nothing when it is pointed at this database.
create table if not exists public.schema_migrations (
    version    integer     not null,
    name       varchar(80) not null,
    applied_at timestamptz not null default now(),
    constraint schema_migrations_pkey primary key (version)
);
insert into public.schema_migrations (version, name, applied_at)
values (1, 'm001_initial', now())
on conflict (version) do nothing;

-- Supabase additions --------------------------------------------------------------------------------------------

-- Server-side defaults, the same values core/platform/db.py fills in Python, for rows inserted through PostgREST.
alter table public.users
    alter column id set default gen_random_uuid(),
    alter column name set default '',
    alter column created_at set default now();
alter table public.classes
    alter column id set default gen_random_uuid(),
    alter column created_at set default now();
alter table public.memberships
    alter column joined_at set default now();
alter table public.ai_answers
    alter column id set default gen_random_uuid(),
    alter column subject set default '',
    alter column level set default '',
    alter column status set default 'approved',
    alter column hits set default 0,
    alter column version set default 1,
    alter column created_at set default now(),
    alter column updated_at set default now();
alter table public.tutor_sessions
    alter column id set default gen_random_uuid(),
    alter column title set default '',
    alter column question set default '',
    alter column step set default 0,
    alter column position set default 0,
    alter column created_at set default now(),
    alter column updated_at set default now();
alter table public.messages
    alter column id set default gen_random_uuid(),
    alter column created_at set default now();
alter table public.ratings
    alter column id set default gen_random_uuid(),
    alter column comment set default '',
    alter column created_at set default now();
alter table public.events
    alter column data set default '{}'::jsonb,
    alter column created_at set default now();

-- public.users is the profile of a Supabase Auth user: same id, deleted with it. (The app registers such users
-- with Accounts.register(password=None, user_id=<auth user id>); a users row without an auth.users row is
-- rejected here.)
do $$
begin
    if not exists (select 1 from pg_catalog.pg_constraint
                   where conname = 'users_id_fkey' and conrelid = 'public.users'::regclass) then
        alter table public.users
            add constraint users_id_fkey foreign key (id) references auth.users (id) on delete cascade;
    end if;
end
$$;
