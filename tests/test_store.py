"""The store protocol, run against both implementations: embedded SQLite and a real Redis."""
import sqlite3
import threading
import time

import pytest

from core.errors import StoreError
from core.platform.store import EmbeddedStore, SessionStatus


@pytest.fixture(params=["embedded", "redis"])
def store(request, tmp_path):
    if request.param == "embedded":
        made = EmbeddedStore(tmp_path / "sessions.db")
    else:
        from core.platform.store.redis_store import RedisStore
        url, prefix = request.getfixturevalue("redis_url")
        made = RedisStore(url, prefix=prefix)
    yield made
    made.close()


def session(**fields):
    state = dict(id="s1", owner="u1", kind="explanation", question_hash="h", generation_id=None, answer_id="a1",
                 language="es", status=SessionStatus.STREAMING, reader="r1", step=1, position=0, created_at=1.0,
                 last_activity=1.0)
    state.update(fields)
    return state


def test_put_and_get_round_trip(store):
    store.put_session(session(), ttl=60)
    got = store.get_session("s1", ttl=60)
    assert got["owner"] == "u1" and got["status"] == SessionStatus.STREAMING and got["step"] == 1 and got["position"] == 0
    assert got["answer_id"] == "a1" and got["generation_id"] is None
    assert store.get_session("missing", ttl=60) is None


def test_sessions_expire_and_reads_renew_the_ttl(store):
    store.put_session(session(), ttl=1)
    time.sleep(0.6)
    assert store.get_session("s1", ttl=2) is not None
    time.sleep(0.8)
    assert store.get_session("s1", ttl=2) is not None
    store.put_session(session(id="s2"), ttl=1)
    time.sleep(1.3)
    assert store.get_session("s2", ttl=1) is None


def test_advance_is_conditional(store):
    store.put_session(session(), ttl=60)
    assert store.advance("s1", "r1", 1, 0, 1, 10, ttl=60)
    assert not store.advance("s1", "r1", 1, 0, 1, 20, ttl=60), "stale cursor"
    assert not store.advance("s1", "other", 1, 10, 1, 20, ttl=60), "not the reader"
    assert store.set_status("s1", SessionStatus.PAUSED, expect=(SessionStatus.STREAMING,), ttl=60)["status"] == SessionStatus.PAUSED
    assert not store.advance("s1", "r1", 1, 10, 1, 20, ttl=60), "paused"
    assert store.set_status("s1", SessionStatus.PAUSED, expect=(SessionStatus.STREAMING,), ttl=60) is None
    assert store.set_status("s1", SessionStatus.STREAMING, expect=(SessionStatus.PAUSED,), ttl=60, reader="r2")["reader"] == "r2"
    assert not store.advance("s1", "r1", 1, 10, 1, 20, ttl=60), "taken over"
    assert store.advance("s1", "r2", 1, 10, 2, 10, ttl=60)
    assert store.get_session("s1", ttl=60)["step"] == 2
    assert not store.advance("missing", "r1", 0, 0, 1, 0, ttl=60)


def test_rewind_moves_a_paused_cursor_back_never_forward(store):
    store.put_session(session(step=2, position=50), ttl=60)
    assert store.rewind("s1", 1, 40, ttl=60) is None, "streaming: a reader owns the cursor"
    store.set_status("s1", SessionStatus.PAUSED, expect=None, ttl=60)
    assert store.rewind("s1", 2, 60, ttl=60) is None, "forward"
    assert store.rewind("s1", 3, 50, ttl=60) is None, "a later step at the same character"
    back = store.rewind("s1", 1, 50, ttl=60)
    assert (back["step"], back["position"], back["status"]) == (1, 50, SessionStatus.PAUSED)
    assert store.rewind("s1", 1, 42, ttl=60)["position"] == 42
    assert store.get_session("s1", ttl=60)["position"] == 42
    assert store.rewind("missing", 1, 0, ttl=60) is None


def test_advance_many_is_conditional_move_by_move(store):
    store.put_session(session(), ttl=60)
    store.put_session(session(id="s2", reader="r2"), ttl=60)
    moves = [("s1", "r1", 1, 0, 1, 10, 60), ("s2", "r1", 1, 0, 1, 10, 60), ("missing", "r1", 0, 0, 1, 0, 60),
             ("s1", "r1", 1, 0, 1, 20, 60)]
    assert store.advance_many(moves) == [True, False, False, False]  # not the reader, gone, stale (after the first)
    assert store.advance_many([]) == []
    assert [store.get_session(s, ttl=60)["position"] for s in ("s1", "s2")] == [10, 0]


def test_concurrent_advances_never_double_count(store):
    store.put_session(session(position=0), ttl=60)
    wins = []

    def reader():
        for _ in range(40):
            state = store.get_session("s1", ttl=60)
            if store.advance("s1", "r1", 1, state["position"], 1, state["position"] + 1, ttl=60):
                wins.append(1)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert store.get_session("s1", ttl=60)["position"] == len(wins)


def test_event_log_append_read_and_block(store):
    assert store.read("log1") == []
    assert store.append("log1", {"type": "step", "n": 1}, ttl=60) == 1
    assert store.append("log1", {"type": "step", "n": 2}, ttl=60) == 2
    assert [e["n"] for _, e in store.read("log1")] == [1, 2]
    assert [e["n"] for _, e in store.read("log1", after=1)] == [2]
    threading.Timer(0.2, lambda: store.append("log1", {"type": "done"}, ttl=60)).start()
    started = time.monotonic()
    got = store.read("log1", after=2, block_ms=3000)
    assert got == [(3, {"type": "done"})] and time.monotonic() - started < 2.5
    assert store.read("log1", after=3, block_ms=100) == []


def test_locks_are_exclusive_and_expire(store):
    assert store.acquire("gen:x", "a", 300)
    assert not store.acquire("gen:x", "b", 300)
    assert store.holder("gen:x") == "a"
    assert not store.release("gen:x", "b") and store.holder("gen:x") == "a"
    assert store.refresh("gen:x", "a", 300) and not store.refresh("gen:x", "b", 300)
    time.sleep(0.45)
    assert store.holder("gen:x") is None
    assert store.acquire("gen:x", "b", 1000)
    assert store.release("gen:x", "b") and store.holder("gen:x") is None


def test_held_names_in_one_call(store):
    assert store.held([]) == {}
    assert store.acquire("watch:a", "1", 300) and store.acquire("watch:b", "2", 5000)
    assert store.held(["watch:a", "watch:b", "watch:c"]) == {"watch:a": "1", "watch:b": "2"}
    time.sleep(0.45)
    assert store.held(["watch:a", "watch:b"]) == {"watch:b": "2"}
    assert store.held([f"watch:{i}" for i in range(1200)] + ["watch:b"]) == {"watch:b": "2"}


def test_one_winner_among_racing_lockers(store):
    winners = []
    barrier = threading.Barrier(8)

    def race(token):
        barrier.wait()
        if store.acquire("gen:race", token, 5000):
            winners.append(token)

    threads = [threading.Thread(target=race, args=(str(i),)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(winners) == 1


def test_sliding_window(store):
    assert [store.hit_window("u1:ask", 3, 0.5) for _ in range(3)] == [0, 0, 0]
    wait = store.hit_window("u1:ask", 3, 0.5)
    assert 0 < wait <= 0.5
    assert store.hit_window("u2:ask", 3, 0.5) == 0
    time.sleep(wait + 0.05)
    assert store.hit_window("u1:ask", 3, 0.5) == 0


# --- failures of the embedded store's SQLite file: always StoreError, never sqlite3.Error ------------------------

def test_a_locked_file_is_store_unavailable(tmp_path):
    store = EmbeddedStore(tmp_path / "sessions.db")
    store.put_session(session(), ttl=60)
    other = sqlite3.connect(tmp_path / "sessions.db", isolation_level=None)
    other.execute("begin immediate")  # another process holds the write lock
    store._conn().execute("pragma busy_timeout=0")
    try:
        for write in (lambda: store.put_session(session(id="s2"), ttl=60), lambda: store.append("g1", {}, ttl=60),
                      lambda: store.set_status("s1", SessionStatus.PAUSED, expect=None, ttl=60),
                      lambda: store.acquire("lock", "t", 1000), lambda: store.hit_window("k", 5, 1.0)):
            with pytest.raises(StoreError) as refused:
                write()
            assert refused.value.code == "store_unavailable"
            assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
    finally:
        other.execute("rollback")
        other.close()
    assert store.set_status("s1", SessionStatus.PAUSED, expect=None, ttl=60)["status"] == SessionStatus.PAUSED


def test_a_failed_commit_is_store_unavailable_and_rolled_back(tmp_path):
    store = EmbeddedStore(tmp_path / "sessions.db")
    conn = store._conn()

    def no_commit(action, arg, *_):
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_TRANSACTION and arg == "COMMIT" else sqlite3.SQLITE_OK

    conn.set_authorizer(no_commit)
    with pytest.raises(StoreError) as refused:
        store.put_session(session(), ttl=60)
    assert isinstance(refused.value.__cause__, sqlite3.DatabaseError)
    assert not conn.in_transaction, "the failed transaction was rolled back, not left open"
    conn.set_authorizer(None)
    assert store.get_session("s1", ttl=60) is None, "nothing half-written"
    store.put_session(session(), ttl=60)
    assert store.get_session("s1", ttl=60)["owner"] == "u1"


def test_a_corrupted_file_is_store_unavailable_for_reads_too(tmp_path):
    path = tmp_path / "sessions.db"
    store = EmbeddedStore(path)
    store.put_session(session(), ttl=60)
    store.append("g1", {"type": "step"}, ttl=60)
    store.close()
    for extra in (path.with_name("sessions.db-wal"), path.with_name("sessions.db-shm")):
        extra.unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 300)
    for read in (lambda: store.get_session("s1", ttl=60), lambda: store.read("g1"), lambda: store.holder("lock"),
                 store.ping, lambda: EmbeddedStore(path)):
        with pytest.raises(StoreError) as refused:
            read()
        assert isinstance(refused.value.__cause__, sqlite3.DatabaseError)

