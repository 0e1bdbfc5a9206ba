"""The generation log: what a generation has written so far, for every reader in any process.

One append-only log per generation in the session store (``Store.append``/``Store.read``); its id is the
generation's lock token. ``LogWriter`` (the generation thread) writes it, ``Source`` follows it. Entries::

    {"type": "start", "index": i, "title": ..., "kind": "text"|"math", "text": ...}  step i begins, first words
    {"type": "text", "index": i, "text": ...}       more of step i's content
    {"type": "step", "index": i, "step": {...}}     step i is final: the validated step (content, canvas commands)
    {"type": "check", "index": i, "failed": [claims]}   maths claims of step i that do not hold (``verification``)
    {"type": "done", "answer_id": ..., "total_steps": n, "total_duration": s, "verified": true | false | null}
    {"type": "error", "code": ..., "params": {...}}

The text of the step being written is sent as it grows, cut at word- and formula-safe boundaries, so a reader
never sees half a word or half a formula; a final step's content always starts with the text sent for it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from ..content.answers import MAX_CONTENT, STEP_TYPES, Step, validate_step
from ..content.mathtext import WHITESPACE, safe_prefix, to_markdown_math
from ..content.questions import MARKUP
from ..content.safety import content_problems
from ..errors import AIError

LOG_TTL_S = 3600
UNFINISHED = "…"  # ends a step the model stopped writing when a repaired answer takes over


def lock_name(question_hash: str) -> str:
    return f"gen:{question_hash}"


# --- writing ------------------------------------------------------------------------------------------------------

class LogWriter:
    """Sends a generation's steps to its log as the model writes them."""

    def __init__(self, store, log_id: str):
        self.store = store
        self.log_id = log_id
        self.steps: list[Step] = []  # the final steps sent
        self.growing: Step | None = None  # the step being written, with the text sent of it
        self.on_final: Callable[[list[Step]], object] | None = None  # told the final steps after each new one

    def follow(self, raw_steps: list, done: bool) -> None:
        """Send what is new in the model's partial answer (its ``steps`` so far, the last one's strings possibly
        unfinished): the steps that became final, then the safe part of the step being written."""
        final = len(raw_steps) if done else len(raw_steps) - 1
        for index in range(len(self.steps), final):
            self._finish(validate_step(raw_steps[index], index + 1)[0])
        if not done and len(raw_steps) == len(self.steps) + 1:
            self._grow(raw_steps[-1])

    def close_growing(self) -> None:
        """End the step being written where its sent text stops (the model's answer broke off; a repaired answer
        continues with the next step). Text once sent is never taken back."""
        if self.growing is not None and self.growing.content:
            self._finish(replace(self.growing, content=self.growing.content + UNFINISHED))
        self.growing = None

    def check(self, index: int, failed: list[str]) -> None:
        """Maths claims of step ``index`` (0-based) that do not hold."""
        self._append({"type": "check", "index": index, "failed": failed})

    def done(self, answer_id: str, total_duration: int, verified: bool | None = None) -> None:
        self._append({"type": "done", "answer_id": answer_id, "total_steps": len(self.steps),
                      "total_duration": total_duration, "verified": verified})

    def error(self, error: AIError) -> None:
        params = {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
                  for k, v in error.params.items()}
        self._append({"type": "error", "code": error.code, "params": params})

    def _finish(self, step: Step) -> None:
        sent = self.growing.content if self.growing else ""
        if not step.content.startswith(sent):
            raise AIError("ai_invalid_output", reason=f"step {len(self.steps) + 1} changed while it was written")
        self._append({"type": "step", "index": len(self.steps), "step": asdict(step)})
        self.steps.append(step)
        self.growing = None
        if self.on_final is not None:
            self.on_final(self.steps)

    def _grow(self, raw) -> None:
        if not isinstance(raw, dict) or raw.get("type") not in STEP_TYPES or not isinstance(raw.get("content"), str):
            return  # the title and type come first: until the content starts, they may still be unfinished
        text = growing_text(raw["content"])
        title = " ".join(str(raw.get("title") or "").split())
        if not text or not title or MARKUP.search(title + "\n" + text) or content_problems(title + "\n" + text):
            return  # what the step's validation would refuse is never shown, not even for a moment
        index = len(self.steps)
        if self.growing is None:
            self._append({"type": "start", "index": index, "title": title, "kind": raw["type"], "text": text})
            self.growing = Step(title=title, type=raw["type"], content=text)
        elif len(text) > len(self.growing.content) and text.startswith(self.growing.content):
            self._append({"type": "text", "index": index, "text": text[len(self.growing.content):]})
            self.growing = replace(self.growing, content=text)

    def _append(self, entry: dict) -> None:
        self.store.append(self.log_id, entry, LOG_TTL_S)


def growing_text(partial: str) -> str:
    """The part of a step's unfinished content that may be shown already: up to the last word boundary that no
    formula or code span crosses, as the validated step will have it. Empty when nothing is safe yet."""
    text = partial.lstrip()[:MAX_CONTENT]
    cut = len(text.rstrip())
    while cut > 0 and text[cut - 1] not in WHITESPACE:
        cut -= 1  # back to the start of the word still being written
    text = safe_prefix(text, cut)
    while text and text[-1] not in WHITESPACE:
        text = text[:-1]  # a formula opened mid-word: back to the word's start
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        return ""
    return to_markdown_math(text)


# --- following ----------------------------------------------------------------------------------------------------

@dataclass
class Source:
    """The steps of the answer a session reads: all final at once from the cache, or growing from a generation log.

    ``steps`` are the steps started so far; all are final except perhaps the last (``final_steps`` counts them). A
    generation's error is kept, not raised, when it is read: the reader still delivers the text published before
    it and raises it only when it needs text that will never come (``raise_if_failed``)."""

    steps: list[Step]
    final_steps: int
    finished: bool
    total_duration: int | None
    answer_id: str | None = None
    log_id: str | None = None
    lock: str | None = None
    on_dead: Callable[[], object] | None = None  # refunds a generation found dead
    seen: int = 0
    error: AIError | None = None
    checks: dict[int, list[str]] = field(default_factory=dict)  # step index -> maths claims that do not hold
    verified: bool | None = None

    @classmethod
    def of_answer(cls, answer, answer_id: str, *, verified: bool | None = None,
                  failures: list[dict] = ()) -> "Source":
        steps = list(answer.steps)
        checks: dict[int, list[str]] = {}
        for failure in failures:
            checks.setdefault(failure["step"] - 1, []).append(failure["claim"])
        return cls(steps=steps, final_steps=len(steps), finished=True, total_duration=answer.total_duration,
                   answer_id=answer_id, checks=checks, verified=verified)

    @classmethod
    def following(cls, log_id: str, question_hash: str) -> "Source":
        return cls(steps=[], final_steps=0, finished=False, total_duration=None, log_id=log_id,
                   lock=lock_name(question_hash))

    @classmethod
    def empty(cls) -> "Source":
        return cls(steps=[], final_steps=0, finished=False, total_duration=None)

    def is_final(self, step: int) -> bool:
        return step <= self.final_steps

    def offset(self, step: int) -> int:
        """Content characters before ``step`` (all earlier steps are final)."""
        return sum(len(s.content) for s in self.steps[:step - 1])

    def poll(self, store, block_ms: int = 0) -> None:
        """Read the log's new entries, waiting up to ``block_ms`` for the first one."""
        for seq, entry in store.read(self.log_id, self.seen, block_ms):
            self.seen = seq
            self._apply(entry)

    def _apply(self, entry: dict) -> None:
        kind, index = entry["type"], entry.get("index")
        if kind == "start":
            self.steps.append(Step(title=entry["title"], type=entry["kind"], content=entry["text"]))
        elif kind == "text":
            self.steps[index] = replace(self.steps[index], content=self.steps[index].content + entry["text"])
        elif kind == "step":
            step = Step(**entry["step"])
            if index < len(self.steps):
                self.steps[index] = step
            else:
                self.steps.append(step)
            self.final_steps = index + 1
        elif kind == "check":
            self.checks.setdefault(index, []).extend(entry["failed"])
        elif kind == "done":
            self.finished, self.answer_id = True, entry["answer_id"]
            self.total_duration, self.verified = entry["total_duration"], entry.get("verified")
        elif kind == "error":
            self.error = AIError(entry["code"], **entry.get("params", {}))

    def raise_if_failed(self, store) -> None:
        """Raise the generation's error; or ``ai_failed`` if it died without one (its process was killed): its lock
        is no longer held by it and its log has no end. The end is logged before the lock is released, so one
        more read after seeing the lock gone tells a dead generation from one that just finished."""
        if self.error is None and self.lock and store.holder(self.lock) != self.log_id:
            self.poll(store, 0)
            if self.error is None and not self.finished:
                self.error = AIError("ai_failed")
                if self.on_dead is not None:
                    self.on_dead()
        if self.error is not None:
            raise self.error
