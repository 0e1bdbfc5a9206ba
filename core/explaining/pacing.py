"""One pacing loop for every explanation stream of a process, instead of a thread per reader.

``Pacer.follow(steps, deliver)`` takes a reader's ``steps`` (events and ``reading.Wait`` items). The start of the
reader, up to its first wait (the session's state, its answer from the cache, the first chunk), runs in the
caller's thread, so the shared threads never pay for the database reads of a start. From then on a shard thread
keeps the reader in a heap by due time; when it is due, the shard advances it to its next wait and hands what came
out as ONE batch to ``deliver(items, end)`` (the API passes it to its event loop with one
``call_soon_threadsafe``). While a generation is being written the shard reads its log without blocking
(``block_ms=0``) and looks again ``POLL_S`` later. ``deliver`` is called once with ``end=True`` when the reader
ends, fails (a ``TutorError`` among the items) or is cancelled.

Cursor writes: a reader yields a ``reading.Move`` before each chunk; the shard collects the moves of all its due
readers and writes them in ONE store call (``Store.advance_many``: a Redis pipeline, one SQLite transaction), then
runs each reader on with its own result, round after round until all wait again. So a round costs one round trip,
not one per chunk. Pause and another tab still take effect before the next chunk: each chunk is sent only after
the reader's conditional write moved the cursor past it, whichever thread runs it.

Sharding: the readers are spread over ``SHARDS`` threads (the least loaded takes a new one). One thread could pace
every stream of a process; the shards are there because a store call can be slow: a stalled Redis or PostgreSQL
call (up to the store's socket timeout) holds up only the readers of its shard, and the others go on. With the
embedded store (SQLite, one writer at a time, no network) the tutor uses one shard: more threads would only queue
on SQLite's write lock.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Iterator

from ..errors import TutorError
from .reading import Move, Wait, resume

log = logging.getLogger(__name__)
SHARDS = 4
POLL_S = 0.05  # how often a reader that waits for a generation's next words reads its log again

Deliver = Callable[[list, bool], None]


class Following:
    """One reader driven by the pacer; ``cancel()`` (a client that left) closes it before its next step."""

    def __init__(self, steps: Iterator, deliver: Deliver, shard: "_Shard"):
        self._steps = steps
        self._deliver = deliver
        self._shard = shard
        self._lock = threading.Lock()  # the caller's thread starts the reader, a shard goes on with it
        self._wait: Wait | None = None
        self._move: Move | None = None  # the cursor write it waits for, once the shard has made it
        self.due = time.monotonic()  # when the shard last ran it (or was to)
        self.cancelled = False
        self.ended = False

    def cancel(self) -> None:
        self.cancelled = True
        self._shard.wake(self)

    def advance(self, moved: bool | Exception | None = None) -> Wait | Move | None:
        """Run the reader to its next wait or cursor write, deliver the batch; that wait or ``Move``, or None once
        it has ended. After a ``Move``, ``moved`` is its result (or the store's error, raised in the reader)."""
        batch: list = []
        with self._lock:
            if self.ended:
                return None
            if self.cancelled:
                return self._close()
            try:
                if self._move is not None:
                    self._move = None
                    item = self._steps.throw(moved) if isinstance(moved, Exception) else self._steps.send(moved)
                else:
                    item = resume(self._steps, self._wait)
                while not isinstance(item, (Wait, Move)):
                    batch.append(item)
                    item = next(self._steps)
                if isinstance(item, Move):
                    self._move = item
                else:
                    self._wait = item
            except StopIteration:
                self.ended = True
            except TutorError as error:
                batch.append(error)
                self.ended = True
            except Exception:  # never a traceback to a client; the log has it
                log.exception("explanation reader failed")
                batch.append(TutorError("error"))
                self.ended = True
        self._hand(batch, self.ended)
        return None if self.ended else self._move or self._wait

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if not self.ended:
            self.ended = True
            self._steps.close()
            self._hand([], True)

    def _hand(self, batch: list, end: bool) -> None:
        if not batch and not end:
            return
        try:
            self._deliver(batch, end)
        except Exception:  # the receiver is gone (its event loop closed): stop reading for it
            log.warning("an explanation batch could not be delivered", exc_info=True)
            self.cancelled = True


class Pacer:
    """A few threads that pace every reader of the process (see the module's docstring). Threads start on the
    first ``follow``; ``close()`` stops them and closes the readers still running."""

    def __init__(self, shards: int = SHARDS, poll_s: float = POLL_S):
        self._shards = [_Shard(f"pacer-{i}", poll_s) for i in range(max(1, shards))]

    def follow(self, steps: Iterator, deliver: Deliver) -> Following:
        shard = min(self._shards, key=lambda s: s.load)
        following = Following(steps, deliver, shard)
        wait = following.advance()  # the start, in the caller's thread, its moves one by one
        while isinstance(wait, Move):
            wait = following.advance(_run(wait))
        if wait is not None:
            shard.add(following, wait)
        return following

    @property
    def readers(self) -> int:
        """Readers being paced now."""
        return sum(s.load for s in self._shards)

    def close(self) -> None:
        for shard in self._shards:
            shard.stop()


class _Shard:
    def __init__(self, name: str, poll_s: float):
        self.name = name
        self.poll_s = poll_s
        self._live: set[Following] = set()
        self._heap: list[tuple[float, int, Following]] = []
        self._order = itertools.count()
        self._woken: list[Following] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def add(self, following: Following, wait: Wait) -> None:
        with self._cond:
            if self._stopping or following.ended:
                following.close()
                return
            self._live.add(following)
            self._push(following, wait)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def wake(self, following: Following) -> None:
        with self._cond:
            self._woken.append(following)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=15)

    def _push(self, following: Following, wait: Wait) -> None:
        """A pace counts from when the reader was due, not from when the shard got to it, so the time a shard
        takes to go round does not stretch every gap (a reader that fell behind goes on at once, without a burst).
        A reader waiting for a generation looks at its log again ``poll_s`` later."""
        now = time.monotonic()
        if wait.follow is None:
            following.due = max(following.due + wait.seconds, now)
        else:
            following.due = now + min(wait.seconds, self.poll_s)
        heapq.heappush(self._heap, (following.due, next(self._order), following))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._woken or self._due()):
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                if self._stopping:
                    break
                woken, self._woken = self._woken, []
                due = []
                while self._due():
                    due.append(heapq.heappop(self._heap)[2])
            for following in woken:  # cancelled: closed now, its heap entry is dropped when it comes up
                following.close()
            again = _rounds([f for f in due if not f.ended])
            with self._cond:
                for following, wait in again:
                    self._push(following, wait)
                self._live.difference_update([f for f in woken + due if f.ended])
        self._shutdown()

    def _due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()

    @property
    def load(self) -> int:
        return len(self._live)

    def _shutdown(self) -> None:
        with self._cond:
            left, self._live = list(self._live), set()
            self._heap.clear()
        for following in left:
            following.close()


def _rounds(due: list[Following]) -> list[tuple[Following, Wait]]:
    """Advance the due readers to their next waits: each round writes the cursor moves of all the readers that
    asked for one in one store call (``advance_many``), then runs each of them on with its result."""
    waiting, moving = [], [(f, f.advance()) for f in due]
    while moving:
        moves = [(f, w) for f, w in moving if isinstance(w, Move)]
        waiting += [(f, w) for f, w in moving if isinstance(w, Wait)]
        moving = [(f, w) for (f, _), moved in zip(moves, _run_all([w for _, w in moves]))
                  if (w := f.advance(moved)) is not None]
    return waiting


def _run_all(moves: list[Move]) -> list:
    """Each move's result, or the store's error (for each move of a store call that failed)."""
    if not moves:
        return []
    store = moves[0].store
    if any(m.store is not store for m in moves) or not hasattr(store, "advance_many"):
        return [_run(m) for m in moves]
    try:
        return store.advance_many([m.args for m in moves])
    except Exception as error:
        return [error] * len(moves)


def _run(move: Move):
    try:
        return move.run()
    except Exception as error:
        return error
