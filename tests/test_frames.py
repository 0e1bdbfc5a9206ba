"""Teacher analytics on a known world: real asks, streams, pauses and ratings through the facade today, plus
sessions and events written with explicit dates in the past; exact numbers for every view, on both backends."""
import contextlib
import dataclasses
import datetime as dt
import io
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import unavailable

from core.content.library import load_lessons
from core.errors import AIError, Forbidden, InvalidInput, NotFound
from core.platform import db
from core.school.frames import to_csv

LESSONS = {lesson.name: lesson for lesson in load_lessons()}
ALGEBRA = LESSONS["01_ecuacion_segundo_grado"]
GEOMETRY = LESSONS["07_teorema_pitagoras"]
DAY1, DAY2, DAY3 = dt.date(2025, 3, 3), dt.date(2025, 3, 4), dt.date(2025, 3, 5)
VIEWS = ("kpis", "questions_per_day", "top_questions", "topics", "struggle_points", "students_needing_help",
         "ratings", "match_decisions")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def around_today() -> tuple[dt.date, dt.date]:
    """Yesterday to tomorrow, so a run across midnight UTC still sees today's activity."""
    return today() - dt.timedelta(days=1), today() + dt.timedelta(days=1)


class World:
    """A class of two students (Ana, Ben), a student of another class (Cai) and one of no class (Dan)."""

    def __init__(self, tutor):
        self.tutor = tutor
        accounts = tutor.accounts
        register = lambda email, **kw: accounts.register(email, "otter-42-moss", **kw)  # noqa: E731
        self.teacher = register("profe@example.org", role="teacher", name="Profe")
        self.other_teacher = register("otra@example.org", role="teacher", name="Otra")
        self.admin = register("admin@example.org", role="admin")
        self.klass = accounts.create_class(self.teacher, "3º ESO B")
        self.other_class = accounts.create_class(self.other_teacher, "4º ESO A")
        self.ana = register("ana@example.org", name="Ana", class_code=self.klass.join_code)
        self.ben = register("ben@example.org", name="Ben", class_code=self.klass.join_code)
        self.cai = register("cai@example.org", name="Cai", class_code=self.other_class.join_code)
        self.dan = register("dan@example.org", name="Dan")

    def me(self, user):
        return self.tutor.identity_of(user)

    # --- through the facade ---

    def read(self, user, lesson, *, pause_after: int | None = None) -> dict:
        """Ask and stream; pause after ``pause_after`` chunks, else read to the end. Returns the last state."""
        me = self.me(user)
        state = self.tutor.ask(me, lesson.question.text)
        chunks = 0
        for item in self.tutor.stream(me, state["id"]):
            chunks += item["event"] == "content_chunk"
            if pause_after is not None and chunks == pause_after:
                return self.tutor.pause(me, state["id"])
        return self.tutor.snapshot(me, state["id"])

    # --- with explicit dates ---

    def session(self, user, lesson, *, created, updated, status, step, position=0) -> str:
        session_id = db.new_id()
        answer_id = self.tutor.cache.lookup(lesson.question.hash).id
        with self.tutor.engine.begin() as conn:
            conn.execute(db.tutor_sessions.insert().values(
                id=session_id, user_id=user.id, kind="explanation", title=lesson.question.text,
                question=lesson.question.text, question_hash=lesson.question.hash, language="es", status=status,
                step=step, position=position, created_at=created, updated_at=updated,
                answer_id=answer_id))
        return session_id

    def event(self, kind, user, when, *, session_id=None, lesson=None, step=None, value=None, **data):
        with self.tutor.engine.begin() as conn:
            conn.execute(db.events.insert().values(
                kind=kind, user_id=user.id, session_id=session_id, step=step, value=value, created_at=when,
                question_hash=lesson.question.hash if lesson else None, data=data))

    def asked(self, user, lesson, when, session_id, *, hit=True):
        self.event("question_asked", user, when, session_id=session_id, lesson=lesson,
                   question=lesson.question.text, language="es")
        self.event("cache_hit" if hit else "cache_miss", user, when, session_id=session_id, lesson=lesson)

    def rating(self, user, session_id, when, *, helpful, comment=""):
        with self.tutor.engine.begin() as conn:
            conn.execute(db.ratings.insert().values(id=db.new_id(), session_id=session_id, user_id=user.id,
                                                    helpful=helpful, comment=comment, created_at=when))


def build_world(tutor) -> World:
    world = World(tutor)
    joined(world, at(DAY1 - dt.timedelta(days=30), 8))  # the past days happened after the students joined
    past(world)
    present(world)
    return world


@pytest.fixture(scope="module", params=["embedded", "servers"])
def world(request, tmp_path_factory):
    """One seeded world per backend, shared by the tests that only read it."""
    from core import create_tutor
    settings = {"TUTOR_DATA_DIR": str(tmp_path_factory.mktemp("frames")), "TUTOR_CHUNK_DELAY_MS": "0"}
    with contextlib.ExitStack() as stack:
        if request.param == "servers":
            settings.update(stack.enter_context(module_servers(request)))
        tutor = create_tutor(settings, environ={}, env_file=None)
        stack.callback(tutor.close)
        yield build_world(tutor)


@contextlib.contextmanager
def module_servers(request):
    """PostgreSQL (a fresh database) and Redis (a fresh key prefix) for a module, like conftest's ``backend``."""
    import redis
    postgres, redis_url = request.getfixturevalue("postgres_server"), request.getfixturevalue("redis_server")
    if not postgres or not redis_url:
        unavailable("no PostgreSQL or Redis server")
    admin = sa.create_engine(db.database_url(postgres, Path(".")), isolation_level="AUTOCOMMIT")
    name = f"tutor_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    prefix = f"tutortest:{uuid.uuid4().hex[:10]}:"
    try:
        url = sa.make_url(db.database_url(postgres, Path("."))).set(database=name)
        yield {"DATABASE_URL": url.render_as_string(hide_password=False), "REDIS_URL": redis_url,
               "TUTOR_REDIS_PREFIX": prefix}
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=prefix + "*", count=500):
            client.delete(key)
        client.close()


@pytest.fixture
def own_world(make_tutor, backend):
    """A world of the test's own, for tests that change it."""
    return build_world(make_tutor(**backend))


def joined(w: World, when: dt.datetime, *users) -> None:
    """Move the join date of ``users`` (every member when none given) to ``when``."""
    m = db.memberships
    query = m.update().values(joined_at=when)
    if users:
        query = query.where(m.c.user_id.in_([user.id for user in users]))
    with w.tutor.engine.begin() as conn:
        conn.execute(query)


def past(w: World) -> None:
    """Day 1: Ana asks the geometry lesson, pauses at step 2 and never comes back (abandoned).
    Day 2: Ben reads the algebra lesson to the end in 120 s and rates it unhelpful; he then asks the geometry
    lesson (a cache miss), gives up at step 1 (an explicit abandon event, and his session is left idle too);
    Ana gets an AI error. Cai, of another class, asks on day 1: never counted."""
    p1 = w.session(w.ana, GEOMETRY, created=at(DAY1, 10), updated=at(DAY1, 10, 5), status="paused", step=2,
                   position=400)
    w.asked(w.ana, GEOMETRY, at(DAY1, 10), p1)
    w.event("pause", w.ana, at(DAY1, 10, 5), session_id=p1, lesson=GEOMETRY, step=2, value=400)
    p2 = w.session(w.ben, ALGEBRA, created=at(DAY2, 9), updated=at(DAY2, 9, 2), status="complete", step=4)
    w.asked(w.ben, ALGEBRA, at(DAY2, 9), p2)
    w.event("complete", w.ben, at(DAY2, 9, 2), session_id=p2, lesson=ALGEBRA, step=4)
    w.rating(w.ben, p2, at(DAY2, 9, 3), helpful=False, comment="Demasiado rápido")
    p3 = w.session(w.ben, GEOMETRY, created=at(DAY2, 11), updated=at(DAY2, 11, 1), status="streaming", step=1)
    w.asked(w.ben, GEOMETRY, at(DAY2, 11), p3, hit=False)
    w.event("abandon", w.ben, at(DAY2, 11, 1), session_id=p3, lesson=GEOMETRY, step=1)
    w.event("error", w.ana, at(DAY2, 9, 30), lesson=ALGEBRA, code="ai_failed")
    cai = w.session(w.cai, ALGEBRA, created=at(DAY1, 12), updated=at(DAY1, 12), status="paused", step=1)
    w.asked(w.cai, ALGEBRA, at(DAY1, 12), cai)
    w.event("pause", w.cai, at(DAY1, 12), session_id=cai, lesson=ALGEBRA, step=1, value=10)


def present(w: World) -> None:
    """Today, through the facade: Ana reads the algebra lesson (helpful), asks it again and pauses; Ben reads
    the geometry lesson with a pause and a resume (not helpful), then asks something with no answer and no
    provider (an AI error). Cai and Dan read lessons too: never counted."""
    ana, ben = w.me(w.ana), w.me(w.ben)
    first = w.read(w.ana, ALGEBRA)
    w.tutor.history.rate(ana, first["session_id"], helpful=True, comment="Muy clara")
    w.ana_paused = w.read(w.ana, ALGEBRA, pause_after=2)
    w.ben_paused = w.read(w.ben, GEOMETRY, pause_after=1)
    w.tutor.resume(ben, w.ben_paused["id"])
    assert list(w.tutor.stream(ben, w.ben_paused["id"]))[-1]["event"] == "explanation_complete"
    w.tutor.history.rate(ben, w.ben_paused["id"], helpful=False, comment="=No entiendo el paso 2")
    with pytest.raises(AIError):
        w.tutor.ask(ben, "¿Cuánto es 2 + 2 en base 7?")
    w.read(w.cai, ALGEBRA, pause_after=1)
    w.read(w.dan, GEOMETRY)


def teacher(w):
    return w.me(w.teacher)


# --- the views, on the past days -----------------------------------------------------------------------------------

def test_kpis(world):
    assert world.tutor.frames.kpis(teacher(world), world.klass.id, DAY1, DAY2) == {
        "students": 2, "active_students": 2, "questions": 3, "cache_hit_rate": 2 / 3, "completion_rate": 1 / 3,
        "avg_time_to_complete_s": 120.0, "ai_errors": 1}
    assert world.tutor.frames.kpis(teacher(world), world.klass.id, DAY1, DAY1) == {
        "students": 2, "active_students": 1, "questions": 1, "cache_hit_rate": 1.0, "completion_rate": 0.0,
        "avg_time_to_complete_s": None, "ai_errors": 0}


def test_questions_per_day_lists_every_day(world):
    frame = world.tutor.frames.questions_per_day(teacher(world), world.klass.id, DAY1, DAY3)
    assert list(frame.columns) == ["day", "questions", "students", "completed", "pauses", "errors"]
    assert list(frame["day"]) == [pd.Timestamp(DAY1), pd.Timestamp(DAY2), pd.Timestamp(DAY3)]
    assert frame.drop(columns="day").values.tolist() == [[1, 1, 0, 1, 0], [2, 1, 1, 0, 1], [0, 0, 0, 0, 0]]


def test_top_questions_and_topics(world):
    frames, me = world.tutor.frames, teacher(world)
    top = frames.top_questions(me, world.klass.id, DAY1, DAY2)
    assert top[["question", "subject", "asked", "students"]].values.tolist() == [
        [GEOMETRY.question.text, "geometry", 2, 2], [ALGEBRA.question.text, "algebra", 1, 1]]
    assert list(top["last_asked"]) == [at(DAY2, 11), at(DAY2, 9)]
    assert list(top["answer_id"]) == [world.tutor.cache.lookup(GEOMETRY.question.hash).id,
                                      world.tutor.cache.lookup(ALGEBRA.question.hash).id]
    assert len(frames.top_questions(me, world.klass.id, DAY1, DAY2, limit=1)) == 1
    topics = frames.topics(me, world.klass.id, DAY1, DAY2)
    assert topics.values.tolist() == [["geometry", 2, 1, 2], ["algebra", 1, 1, 1]]


def test_struggle_points_count_pauses_and_abandons_once(world):
    frame = world.tutor.frames.struggle_points(teacher(world), world.klass.id, DAY1, DAY2)
    titles = [step.title for step in GEOMETRY.answer.steps]
    assert frame[["question", "subject", "step", "step_title", "pauses", "abandons", "students"]].values.tolist() == [
        [GEOMETRY.question.text, "geometry", 2, titles[1], 1, 1, 1],
        [GEOMETRY.question.text, "geometry", 1, titles[0], 0, 1, 1]]


def test_students_needing_help(world):
    frame = world.tutor.frames.students_needing_help(teacher(world), world.klass.id, DAY1, DAY2)
    assert frame.drop(columns="student_id").values.tolist() == [
        ["Ben", "ben@example.org", 0, 0, 1, 1, 6, ("abandoned", "unhelpful_ratings")],
        ["Ana", "ana@example.org", 1, 0, 1, 0, 4, ("abandoned", "pauses")]]
    assert list(frame["student_id"]) == [world.ben.id, world.ana.id]
    english = dataclasses.replace(teacher(world), language="en")  # core returns codes, the same in any language
    reasons = world.tutor.frames.students_needing_help(english, world.klass.id, DAY1, DAY2)["reasons"]
    assert list(reasons) == list(frame["reasons"])


def test_ratings(world):
    frame = world.tutor.frames.ratings(teacher(world), world.klass.id, DAY1, DAY2)
    assert frame[["name", "email", "question", "helpful", "comment"]].values.tolist() == [
        ["Ben", "ben@example.org", ALGEBRA.question.text, False, "Demasiado rápido"]]
    assert list(frame["rated_at"]) == [at(DAY2, 9, 3)]


def test_student_detail(world):
    detail = world.tutor.frames.student_detail(teacher(world), world.klass.id, world.ana.id, DAY1, DAY2)
    assert detail.student == {"student_id": world.ana.id, "name": "Ana", "email": "ana@example.org"}
    assert detail.sessions[["question", "status", "step", "position", "pauses", "helpful", "abandoned"]
                           ].values.tolist() == [[GEOMETRY.question.text, "paused", 2, 400, 1, None, True]]
    assert detail.questions[["question", "subject", "asked"]].values.tolist() == [
        [GEOMETRY.question.text, "geometry", 1]]
    assert detail.pauses[["question", "step", "position"]].values.tolist() == [[GEOMETRY.question.text, 2, 400.0]]
    assert detail.ratings.empty
    ben = world.tutor.frames.student_detail(teacher(world), world.klass.id, world.ben.id, DAY1, DAY2)
    assert ben.sessions[["question", "status", "helpful", "abandoned"]].values.tolist() == [
        [GEOMETRY.question.text, "streaming", None, True], [ALGEBRA.question.text, "complete", False, False]]
    assert list(ben.ratings["comment"]) == ["Demasiado rápido"]


def records(frame, kind=dict):
    """The rows with pandas' missing values as None."""
    rows = frame.astype(object).where(frame.notna(), None)
    return rows.to_dict("records") if kind is dict else rows.values.tolist()


def test_match_decisions_on_the_past_days(world):
    """The seeded hits carry no ``match`` (as before matching was logged): they count as exact."""
    frame = world.tutor.frames.match_decisions(teacher(world), world.klass.id, DAY1, DAY2)
    assert records(frame) == [
        {"how": "exact", "questions": 2, "share": 0.6667, "avg_score": None},
        {"how": "canonical", "questions": 0, "share": 0.0, "avg_score": None},
        {"how": "similar", "questions": 0, "share": 0.0, "avg_score": None},
        {"how": "generated", "questions": 1, "share": 0.3333, "avg_score": None}]


def test_match_decisions_count_each_way_a_question_was_answered(own_world):
    w = own_world
    w.event("cache_hit", w.ana, at(DAY3, 9), lesson=ALGEBRA, match="similar", score=82.5)
    w.event("cache_hit", w.ben, at(DAY3, 9), lesson=ALGEBRA, match="similar", score=91.5)
    w.event("cache_hit", w.ben, at(DAY3, 10), lesson=GEOMETRY, match="exact", score=100.0)
    w.event("cache_miss", w.ana, at(DAY3, 11), lesson=GEOMETRY)
    w.event("cache_hit", w.cai, at(DAY3, 9), lesson=ALGEBRA, match="similar", score=60.0)  # another class
    frame = w.tutor.frames.match_decisions(teacher(w), w.klass.id, DAY3, DAY3)
    assert records(frame, list) == [["exact", 1, 0.25, None], ["canonical", 0, 0.0, None],
                                     ["similar", 2, 0.5, 87.0], ["generated", 1, 0.25, None]]
    w.tutor.ask(w.me(w.ana), "how does the chain rule work")  # a reworded lesson question, through the facade
    start, end = around_today()
    today_ = w.tutor.frames.match_decisions(teacher(w), w.klass.id, start, end)
    assert today_[["how", "questions"]].values.tolist() == [["exact", 3], ["canonical", 1], ["similar", 0],
                                                            ["generated", 0]]
    assert records(today_, list)[1] == ["canonical", 1, 0.25, 100.0]
    quiet = w.tutor.frames.match_decisions(teacher(w), w.klass.id, dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    assert quiet["questions"].tolist() == [0, 0, 0, 0] and quiet["share"].isna().all()


# --- today, through the facade -------------------------------------------------------------------------------------

def test_views_of_todays_activity(world):
    frames, me, (start, end) = world.tutor.frames, teacher(world), around_today()
    kpis = frames.kpis(me, world.klass.id, start, end)
    assert 0 <= kpis.pop("avg_time_to_complete_s") < 60
    assert kpis == {"students": 2, "active_students": 2, "questions": 3, "cache_hit_rate": 1.0,
                    "completion_rate": 2 / 3, "ai_errors": 1}
    daily = frames.questions_per_day(me, world.klass.id, start, end)
    assert daily[["questions", "completed", "pauses", "errors"]].sum().tolist() == [3, 2, 2, 1]
    top = frames.top_questions(me, world.klass.id, start, end)
    assert top[["question", "asked", "students"]].values.tolist() == [
        [ALGEBRA.question.text, 2, 1], [GEOMETRY.question.text, 1, 1]]
    points = frames.struggle_points(me, world.klass.id, start, end)
    assert sorted(points[["question", "step", "pauses", "abandons"]].values.tolist()) == sorted([
        [ALGEBRA.question.text, world.ana_paused["step"], 1, 0],
        [GEOMETRY.question.text, world.ben_paused["step"], 1, 0]])
    help_ = frames.students_needing_help(me, world.klass.id, start, end)
    assert help_[["name", "pauses", "repeated_questions", "abandoned", "unhelpful_ratings", "score"]
                 ].values.tolist() == [["Ben", 1, 0, 0, 1, 4], ["Ana", 1, 1, 0, 0, 3]]
    ratings = frames.ratings(me, world.klass.id, start, end)
    assert ratings[["name", "helpful", "comment"]].values.tolist() == [
        ["Ben", False, "=No entiendo el paso 2"], ["Ana", True, "Muy clara"]]


def test_an_idle_unfinished_session_becomes_abandoned(own_world):
    world = own_world
    frames, me, (start, end) = world.tutor.frames, teacher(world), around_today()
    with world.tutor.engine.begin() as conn:
        conn.execute(db.tutor_sessions.update().where(db.tutor_sessions.c.id == world.ana_paused["id"])
                     .values(updated_at=db.utcnow() - dt.timedelta(seconds=world.tutor.settings.session_ttl + 5)))
    points = frames.struggle_points(me, world.klass.id, start, end)
    ana_point = points[points["question"] == ALGEBRA.question.text]
    assert ana_point[["pauses", "abandons"]].values.tolist() == [[1, 1]]
    help_ = frames.students_needing_help(me, world.klass.id, start, end).set_index("name")
    assert help_.loc["Ana", "abandoned"] == 1 and help_.loc["Ana", "score"] == 6


def test_activity_before_joining_the_class_does_not_count_for_it(own_world):
    """Ana joins on day 2 at 9:00: her day-1 question, pause and abandoned session stay out of every view; her AI
    error at 9:30 on day 2 counts. Ben, a member since before day 1, counts as before."""
    world = own_world
    frames, me = world.tutor.frames, teacher(world)
    joined(world, at(DAY2, 9), world.ana)
    kpis = frames.kpis(me, world.klass.id, DAY1, DAY2)
    assert (kpis["students"], kpis["active_students"], kpis["questions"], kpis["ai_errors"]) == (2, 2, 2, 1)
    per_day = frames.questions_per_day(me, world.klass.id, DAY1, DAY2)
    assert per_day.drop(columns="day").values.tolist() == [[0, 0, 0, 0, 0], [2, 1, 1, 0, 1]]
    points = frames.struggle_points(me, world.klass.id, DAY1, DAY2)
    assert points[["step", "pauses", "abandons", "students"]].values.tolist() == [[1, 0, 1, 1]]  # Ben's only
    assert list(frames.students_needing_help(me, world.klass.id, DAY1, DAY2)["name"]) == ["Ben"]
    detail = frames.student_detail(me, world.klass.id, world.ana.id, DAY1, DAY2)
    assert detail.sessions.empty and detail.pauses.empty and detail.questions.empty
    top = frames.top_questions(me, world.klass.id, DAY1, DAY2)
    assert top[["question", "asked"]].values.tolist() == [[GEOMETRY.question.text, 1], [ALGEBRA.question.text, 1]]  # Ben's

    # a rating given before joining is not the class's either; one given after is
    ana_session = world.session(world.ana, ALGEBRA, created=at(DAY2, 8), updated=at(DAY2, 8, 5), status="complete",
                                step=4)
    world.rating(world.ana, ana_session, at(DAY2, 8, 6), helpful=False)
    assert list(frames.ratings(me, world.klass.id, DAY1, DAY2)["name"]) == ["Ben"]
    joined(world, at(DAY2, 8), world.ana)
    assert sorted(frames.ratings(me, world.klass.id, DAY1, DAY2)["name"]) == ["Ana", "Ben"]


def test_dates_outside_any_activity_give_empty_views(world):
    frames, me, klass = world.tutor.frames, teacher(world), world.klass.id
    quiet = (dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    assert frames.kpis(me, klass, *quiet) == {
        "students": 2, "active_students": 0, "questions": 0, "cache_hit_rate": None, "completion_rate": None,
        "avg_time_to_complete_s": None, "ai_errors": 0}
    assert frames.questions_per_day(me, klass, *quiet)["questions"].tolist() == [0, 0]
    for view in ("top_questions", "topics", "struggle_points", "students_needing_help", "ratings"):
        assert getattr(frames, view)(me, klass, *quiet).empty, view
    detail = frames.student_detail(me, klass, world.ana.id, *quiet)
    assert detail.sessions.empty and detail.questions.empty and detail.pauses.empty and detail.ratings.empty


# --- who may see what ---------------------------------------------------------------------------------------------

def test_an_admin_sees_any_class(world):
    admin = world.me(world.admin)
    assert world.tutor.frames.kpis(admin, world.klass.id, DAY1, DAY2)["questions"] == 3
    assert world.tutor.frames.kpis(admin, world.other_class.id, DAY1, DAY2)["questions"] == 1


@pytest.mark.parametrize("who", ["other_teacher", "ana", "cai"])
def test_only_the_classes_teacher_or_an_admin_may_look(world, who):
    caller = world.me(getattr(world, who))
    for view in VIEWS:
        with pytest.raises(Forbidden):
            getattr(world.tutor.frames, view)(caller, world.klass.id, DAY1, DAY2)
    with pytest.raises(Forbidden):
        world.tutor.frames.student_detail(caller, world.klass.id, world.ana.id, DAY1, DAY2)


def test_a_student_is_refused_even_for_an_unknown_class(world):
    with pytest.raises(Forbidden):
        world.tutor.frames.kpis(world.me(world.ana), db.new_id(), DAY1, DAY2)


@pytest.mark.parametrize("student", ["cai", "dan", "teacher"])
def test_detail_only_for_students_of_the_class(world, student):
    with pytest.raises(Forbidden):
        world.tutor.frames.student_detail(teacher(world), world.klass.id, getattr(world, student).id, DAY1, DAY2)
    with pytest.raises(Forbidden):
        world.tutor.frames.student_detail(teacher(world), world.klass.id, "not-a-uuid", DAY1, DAY2)


def test_bad_class_or_dates(world):
    frames, me = world.tutor.frames, teacher(world)
    for class_id in (db.new_id(), "not-a-uuid"):
        with pytest.raises(NotFound):
            frames.kpis(me, class_id, DAY1, DAY2)
    with pytest.raises(InvalidInput):
        frames.kpis(me, world.klass.id, DAY2, DAY1)
    with pytest.raises(InvalidInput):
        frames.kpis(me, world.klass.id, "yesterday", DAY2)
    assert frames.kpis(me, world.klass.id, "2025-03-03", "2025-03-04")["questions"] == 3


# --- CSV ----------------------------------------------------------------------------------------------------------

def test_csv_is_utf8_with_bom_and_defuses_formulas(world):
    start, end = around_today()
    data = to_csv(world.tutor.frames.ratings(teacher(world), world.klass.id, start, end))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "¿Cómo se calcula la hipotenusa" in text and "'=No entiendo el paso 2" in text
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(back["comment"]) == ["'=No entiendo el paso 2", "Muy clara"]
    assert to_csv(pd.DataFrame({"x": [-1, 2]})).decode("utf-8-sig") == "x\n-1\n2\n"
