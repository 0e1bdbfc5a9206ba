import datetime as dt
import multiprocessing

import pytest
import sqlalchemy as sa

from core.platform import db, migrations


def test_migrations_apply_once_and_record_versions(tmp_path):
    engine = db.create_engine(db.database_url("", tmp_path))
    assert migrations.migrate(engine) == [m.__name__ for m in migrations.MIGRATIONS]
    assert migrations.migrate(engine) == []
    with engine.connect() as conn:
        versions = conn.execute(sa.select(db.schema_migrations.c.version)).scalars().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert versions == list(range(1, len(migrations.MIGRATIONS) + 1))
    with engine.connect() as conn:
        names = conn.execute(sa.select(db.schema_migrations.c.name).order_by(db.schema_migrations.c.version))
        assert names.scalars().all() == [m.__name__ for m in migrations.MIGRATIONS]
    assert set(db.metadata.tables) <= tables


def test_sqlite_is_wal_with_foreign_keys_and_busy_timeout(tmp_path):
    engine = db.create_engine(db.database_url("", tmp_path))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("pragma foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("pragma busy_timeout").scalar() >= 5000


def _migrate(path):
    engine = db.create_engine(db.database_url("", path))
    return migrations.migrate(engine)


def test_concurrent_starts_migrate_once(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_migrate, [tmp_path] * 4)
    assert sorted(len(r) for r in results) == [0, 0, 0, len(migrations.MIGRATIONS)]


def test_postgres_schema_and_utc(postgres_url):
    engine = db.create_engine(db.database_url(postgres_url, None))
    assert migrations.migrate(engine)
    _round_trip_utc(engine)


def test_sqlite_stores_utc(tmp_path):
    engine = db.create_engine(db.database_url("", tmp_path))
    migrations.migrate(engine)
    _round_trip_utc(engine)


def _round_trip_utc(engine):
    madrid = dt.timezone(dt.timedelta(hours=2))
    when = dt.datetime(2026, 6, 1, 12, 0, tzinfo=madrid)
    with engine.begin() as conn:
        conn.execute(db.users.insert().values(id=db.new_id(), email="a@example.org", role="student", language="es",
                                              created_at=when))
        stored = conn.execute(sa.select(db.users.c.created_at)).scalar()
    assert stored == when and stored.tzinfo == dt.timezone.utc and stored.hour == 10
    with pytest.raises(sa.exc.StatementError):
        with engine.begin() as conn:
            conn.execute(db.users.insert().values(id=db.new_id(), email="b@example.org", role="student",
                                                  language="es", created_at=dt.datetime(2026, 1, 1)))


def test_database_url_forms(tmp_path):
    assert db.database_url("", tmp_path).startswith("sqlite:///")
    assert db.database_url("postgres://u:p@h:6543/postgres", tmp_path) == "postgresql+psycopg://u:p@h:6543/postgres"
    assert db.database_url("postgresql://u@h/d", tmp_path) == "postgresql+psycopg://u@h/d"
