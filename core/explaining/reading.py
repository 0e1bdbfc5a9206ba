"""The reader of one explanation session: its events, with every wait between them made explicit.

``Reader.steps()`` yields the session's events (dicts) and, between them, ``Wait`` items: the pacing delay before
the next chunk, or a pause while the generation being followed writes more. The reader never sleeps or blocks on
its own, so it can be driven two ways:

* ``blocking(steps)``: the plain iterator of ``tutor.stream`` (pages, the CLI, notebooks) sleeps through the waits
  and blocks on the generation log in the calling thread;
* ``core.explaining.pacing.Pacer``: a few shared threads advance every reader of the process when it is due.

Either way every chunk is sent only after a conditional write moved the cursor past it (``Store.advance``, asked
for with a ``Move`` item whose result the driver sends back), so a pause, a second tab or another process takes
effect before the next chunk and no character is sent twice or lost.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

from ..content.mathtext import chunk_text
from ..errors import StoreError
from ..platform.i18n import t, waiting_phrases
from ..platform.store import SessionStatus
from .generation_log import Source

WAITING_EVERY_S = 1.5
DURABLE_EVERY_S = 2.0
DURABLE_EVERY_CHUNKS = 10  # and at least this many chunks: a server behind on its pace saves less often
POLL_MS = 200


def event(name: str, **data) -> dict:
    return {"event": name, "data": data}


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to send for ``seconds``. With ``follow``, the reader waits for a generation's next words:
    ``follow(block_ms)`` reads its log, returning early when something new arrives (``block_ms=0``: no wait)."""

    seconds: float
    follow: Callable[[int], None] | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """The conditional cursor write (``Store.advance(*args)``) the reader needs before it goes on: the driver sends
    back whether the cursor moved (or throws the store's error into the reader). A shared pacer writes the moves of
    all its due readers in one store call (``Store.advance_many``)."""

    store: object
    args: tuple

    def run(self) -> bool:
        return self.store.advance(*self.args)


def settle(steps: Iterator, item):
    """Run the reader's moves one by one, here, until it yields something else (``StopIteration`` at the end)."""
    while isinstance(item, Move):
        try:
            moved = item.run()
        except Exception as error:
            item = steps.throw(error)
        else:
            item = steps.send(moved)
    return item


def resume(steps: Iterator, wait: Wait | None, block_ms: int = 0):
    """The next item of ``steps`` after ``wait``: a generation's log is read first (blocking up to ``block_ms``);
    a failed read is raised inside the reader, where it keeps its cursor. ``StopIteration`` at the end."""
    if wait is not None and wait.follow is not None:
        try:
            wait.follow(block_ms)
        except Exception as error:
            return steps.throw(error)
    return next(steps)


def blocking(steps: Iterator) -> Iterator[dict]:
    """The events of ``steps``, waiting in this thread: a sleep for a pace, a blocking read of the log for a
    generation. Closing this iterator closes ``steps``."""
    wait = None
    try:
        while True:
            try:
                item = settle(steps, resume(steps, wait, round(wait.seconds * 1000) if wait else 0))
            except StopIteration:
                return
            wait = item if isinstance(item, Wait) else None
            if wait is None:
                yield item
            elif wait.follow is None and wait.seconds > 0:
                time.sleep(wait.seconds)
    finally:
        steps.close()


class Reader:
    """One pass of the paced event loop for one reader.

    A step still being written is read as far as its text has grown; the reader then waits for more (never
    reading past what exists), so a pause, a reload or another process can cut in anywhere. Canvas commands come
    with the final step: those whose ``at_char`` the reader has already passed are drawn at once."""

    def __init__(self, explanations, state: dict, source: Source, reader: str):
        self.x = explanations
        self.store = explanations.store
        self.settings = explanations.settings
        self.state = state
        self.source = source
        self.reader = reader
        self.step, self.position = int(state["step"]), int(state["position"])
        self.drawn = self._reached() if self.step and source.is_final(self.step) else -1
        self.phrases = waiting_phrases(state["language"])
        self.last_saved = time.monotonic()
        self.unsaved_chunks = 0
        self.sent_chunk = False
        self.checks_sent: dict[int, int] = {}

    def steps(self) -> Iterator:
        """Events and ``Wait`` items, to the end, a pause or a takeover."""
        try:
            yield from self._play()
        except StoreError:
            self.x._keep_cursor(self.state["id"], self.step, self.position)
            raise

    def _play(self) -> Iterator:
        if self.step == 0:
            yield from self._wait_for_step(1)
            if not (yield from self._move(1, 0)):
                yield from self._stopped()
                return
            yield event("explanation_start", total_steps=len(self.source.steps) if self.source.finished else None,
                        estimated_duration=self.source.total_duration or _estimate(self.source),
                        question_hash=self.state["question_hash"], session_id=self.state["id"])
            yield from self._step_start(1)
        else:
            yield event("streaming_resumed", step=self.step, position=self.position)
        while True:
            delivered = yield from self._chunks()
            if delivered is None:
                yield from self._stopped()
                return
            if delivered:
                yield event("step_complete", step=self.step)
            yield from self._check_events()
            yield from self._wait_for_step(self.step + 1)
            if len(self.source.steps) <= self.step:
                yield from self._complete()
                return
            if not (yield from self._move(self.step + 1, self.position)):
                yield from self._stopped()
                return
            yield from self._step_start(self.step)

    def _chunks(self):
        """Send the rest of the current step, as it grows. True if its final chunk went out now, False if it had
        already, None if the reader was stopped."""
        delivered = False
        while True:
            yield from self._wait(self._more_text, phrases=False)
            step, final = self.source.steps[self.step - 1], self.source.is_final(self.step)
            start = self.source.offset(self.step)
            for a, b in chunk_text(step.content, self.settings.chunk_size, self.position - start):
                yield from self._pace()
                if not (yield from self._move(self.step, start + b)):
                    return None
                delivered = final and b == len(step.content)
                yield event("content_chunk", step=self.step, chunk=step.content[a:b], position=start + b,
                            is_final=delivered)
                if final:
                    yield from self._draw(step)
                self._maybe_save()
            if final:
                yield from self._draw(step)
                return delivered

    def _more_text(self) -> bool:
        """Whether the current step has text beyond the cursor, or is final."""
        return len(self.source.steps) >= self.step and (self.source.is_final(self.step) or self._reached() < len(
            self.source.steps[self.step - 1].content))

    def _reached(self) -> int:
        return self.position - self.source.offset(self.step)

    def _draw(self, step):
        """The current step's canvas commands the reader has passed and not drawn yet."""
        reached = self._reached()
        for command in step.canvas_commands:
            if self.drawn < command.get("at_char", 0) <= reached:
                yield event("canvas_command", step=self.step, command=command)
        self.drawn = max(self.drawn, reached)

    def _pace(self):
        """The pause before every chunk but the first (also when it is 0: a shared pacer then serves the other
        readers between two chunks of this one)."""
        if self.sent_chunk:
            yield Wait(max(0.0, self.settings.chunk_delay_ms / 1000))
        self.sent_chunk = True

    def _wait_for_step(self, step: int):
        yield from self._wait(lambda: len(self.source.steps) >= step, phrases=True)

    def _wait(self, ready, *, phrases: bool):
        """Follow the generation until ``ready()``, it ends, or it fails (raised); between steps, say something
        every few seconds so the student knows the tutor is still writing."""
        last_phrase = None
        while not ready() and not self.source.finished:
            self.source.raise_if_failed(self.store)
            if phrases and (last_phrase is None or time.monotonic() - last_phrase >= WAITING_EVERY_S):
                last_phrase = time.monotonic()
                yield event("waiting_phrase", message=next(self.phrases))
            yield Wait(POLL_MS / 1000, follow=self._follow_log)

    def _follow_log(self, block_ms: int) -> None:
        self.source.poll(self.store, block_ms)

    def _step_start(self, step: int):
        current = self.source.steps[step - 1]
        yield event("step_start", step=step, title=current.title, type=current.type)
        self.drawn = -1
        if self.source.is_final(step):
            yield from self._draw(current)

    def _move(self, step: int, position: int):
        """Whether the cursor moved (the driver writes it: ``Move``)."""
        moved = yield Move(self.store, (self.state["id"], self.reader, self.step, self.position, step, position,
                                        self.settings.session_ttl))
        if moved:
            self.step, self.position = step, position
        return moved

    def _maybe_save(self) -> None:
        """The cursor to the database every few seconds of reading (a session store that loses its data is rebuilt
        from it); counted in chunks too, so that a loaded server does not spend its time on these writes. A
        background thread writes it (``cursors.Cursors``), never the thread that paces this reader."""
        self.unsaved_chunks += 1
        if self.unsaved_chunks >= DURABLE_EVERY_CHUNKS and time.monotonic() - self.last_saved >= DURABLE_EVERY_S:
            self.last_saved, self.unsaved_chunks = time.monotonic(), 0
            self.x.cursors.save(self.state["id"], self.step, self.position)

    def _stopped(self):
        current = self.store.get_session(self.state["id"], self.settings.session_ttl)
        if current and current["status"] == SessionStatus.PAUSED:
            yield event("streaming_paused", step=current["step"], position=current["position"],
                        message=t("paused", self.state["language"]))

    def _complete(self):
        done = self.store.set_status(self.state["id"], SessionStatus.COMPLETE, expect=(SessionStatus.STREAMING,),
                                     ttl=self.settings.session_ttl)
        if done is None or done.get("reader") != self.reader:
            yield from self._stopped()
            return
        self.x._save({**done, "step": self.step, "position": self.position}, answer_id=self.source.answer_id)
        self.x.analytics.record("complete", user_id=self.state["owner"], session_id=self.state["id"],
                                question_hash=self.state["question_hash"], step=self.step, value=self.position)
        yield from self._check_events()
        yield event("explanation_complete", total_duration=self.source.total_duration,
                    steps_completed=len(self.source.steps), verified=self.source.verified)

    def _check_events(self):
        """``step_check`` for each step read so far with maths claims that do not hold, once per new claim."""
        for index in sorted(i for i in self.source.checks if i < self.step):
            claims = self.source.checks[index][self.checks_sent.get(index, 0):]
            if claims:
                self.checks_sent[index] = len(self.source.checks[index])
                yield event("step_check", step=index + 1, claims=claims,
                            message=t("math_check_failed", self.state["language"]))


def _estimate(source: Source) -> int:
    return max(5, round(sum(len(s.content) for s in source.steps) * 0.15)) if source.steps else 60
