"""Single-flight generation: one provider call per uncached question, across processes.

The process that wins the lock ``gen:<question hash>`` runs the model in a background thread and appends each
step to the generation's event log as soon as it is final in the partial parse; every asker (this process or
another) follows that log. Log entries::

    {"type": "step", "index": i, "step": {...}}      a validated step, in order
    {"type": "check", "index": i, "failed": [claims]}   maths claims of step i that do not hold (``verification``)
    {"type": "done", "answer_id": ..., "total_steps": n, "total_duration": s, "verified": true | false | null}
    {"type": "error", "code": ...}

The answer is cached only when the whole of it is valid; a failure caches nothing. An answer whose maths check
failed is kept for a teacher's review, not served: the next ask generates again, showing the model the failed
answer and naming the claims that did not hold (one repair attempt). The asker whose ask starts
the provider call pays one credit (``core.school.credits``), refunded if the generation fails.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict

from ..content.answers import Answer, AnswerSchema, Step, estimate_duration, validate_answer, validate_step
from ..errors import AIError, TutorError
from .models import LANGUAGE_NAMES, Model, load_prompt
from .verification import StepChecks, failed_claims_text

log = logging.getLogger(__name__)

PROMPT_VERSION = "explain-v1"
LOCK_TTL_MS = 30_000  # default of TUTOR_GENERATION_LOCK_MS
LOG_TTL_S = 3600
CHECK_TIMEOUT_S = 10.0  # default of TUTOR_MATH_CHECK_TIMEOUT_MS


def lock_name(question_hash: str) -> str:
    return f"gen:{question_hash}"


class Generations:
    def __init__(self, store, cache, model: Model | None, analytics, *, credits=None, lock_ms: int = LOCK_TTL_MS,
                 checker=None, check_timeout: float = CHECK_TIMEOUT_S):
        self.store = store
        self.cache = cache
        self.model = model
        self.analytics = analytics
        self.credits = credits
        self.lock_ms = lock_ms
        self.checker = checker  # a ``core.content.mathworker.MathChecker``; None: answers are not checked
        self.check_timeout = check_timeout
        self._threads: list[threading.Thread] = []

    def start_or_follow(self, question, *, user_id: str | None = None) -> tuple[str, str]:
        """``("cached", answer_id)`` if the answer exists by now, else ``("generating", generation_id)``.
        Starting a generation costs ``user_id`` one credit (``InsufficientCredits`` before anything is written);
        following one is free."""
        for _ in range(50):
            token = uuid.uuid4().hex
            if self.store.acquire(lock_name(question.hash), token, self.lock_ms):
                cached = self.cache.lookup(question.hash)
                if cached:
                    self.store.release(lock_name(question.hash), token)
                    return "cached", cached.id
                paid = self._pay(question, token, user_id)
                self._spawn(question, token, user_id, paid)
                return "generating", token
            holder = self.store.holder(lock_name(question.hash))
            if holder:
                return "generating", holder
            cached = self.cache.lookup(question.hash)
            if cached:
                return "cached", cached.id
        raise AIError("ai_failed")

    def wait(self, timeout: float | None = None) -> None:
        """Let in-flight generations finish (the CLI calls this before exiting, so none is wasted)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _pay(self, question, token: str, user_id: str | None) -> bool:
        if self.credits is None or user_id is None:
            return False
        try:
            self.credits.debit(user_id, question.hash)
        except TutorError:
            self.store.release(lock_name(question.hash), token)
            raise
        return True

    def _spawn(self, question, token: str, user_id: str | None, paid: bool = False) -> None:
        thread = threading.Thread(target=self.run, args=(question, token, user_id, paid),
                                  name=f"generate-{token[:8]}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def run(self, question, token: str, user_id: str | None = None, paid: bool = False) -> None:
        heartbeat = _Heartbeat(self.store, lock_name(question.hash), token, self.lock_ms)
        started = time.monotonic()
        checks = StepChecks(self.checker, lambda entry: self._publish(token, entry), self.check_timeout)
        try:
            answer, usage = self._generate(question, token, checks)
            verdict = checks.finish([step.content for step in answer.steps])
            answer_id = self.cache.store(question, answer, model=self.model.name, prompt_version=PROMPT_VERSION,
                                         verified=verdict.verified, failures=verdict.failures)
        except Exception as error:
            self._failed(question, token, user_id, paid, error)
        else:
            self.analytics.record("generation", user_id=user_id, question_hash=question.hash,
                                  value=time.monotonic() - started, **usage)
            self._publish(token, {"type": "done", "answer_id": answer_id, "total_steps": len(answer.steps),
                                  "total_duration": answer.total_duration, "verified": verdict.verified})
        finally:
            checks.stop()
            heartbeat.stop()
            self._quietly(self.store.release, lock_name(question.hash), token)

    def _failed(self, question, token: str, user_id: str | None, paid: bool, error: Exception) -> None:
        """Refund the asker, record the error, then tell the readers (so they see the refund already done)."""
        if isinstance(error, AIError):
            log.warning("generation %s failed: %s", token[:8], error.code)
        else:
            log.exception("generation %s crashed", token[:8], exc_info=error)
            error = AIError("ai_failed")
        if paid:
            self._quietly(self.credits.refund, user_id, question.hash)
        self.analytics.record("error", user_id=user_id, question_hash=question.hash, code=error.code)
        self._publish(token, {"type": "error", "code": error.code, "params": _plain(error.params)})

    def _publish(self, token: str, entry: dict) -> None:
        self._quietly(self.store.append, token, entry, LOG_TTL_S)

    @staticmethod
    def _quietly(action, *args) -> None:
        """Run a clean-up step of a generation thread; a failure (the store or database down) is logged, so
        the remaining steps still run. Readers that miss the end see the lock gone and report ``ai_failed``."""
        try:
            action(*args)
        except Exception:
            log.exception("generation clean-up step %s failed", getattr(action, "__name__", action))

    def _generate(self, question, token: str, checks: StepChecks) -> tuple[Answer, dict]:
        messages = [{"role": "system", "content": load_prompt(PROMPT_VERSION, language_name=LANGUAGE_NAMES[
                        question.language])},
                    {"role": "user", "content": question.text}] + self._repair_of_failed(question)
        published: list[Step] = []
        try:
            return self._stream_steps(messages, published, token, checks)
        except AIError as error:
            if error.code != "ai_invalid_output":
                raise
            log.info("repairing answer: %s", error.params.get("reason"))
            repair = {"role": "user", "content": load_prompt("repair-v1", reason=error.params.get("reason", ""))}
            return self._stream_steps(messages + [repair], published, token, checks)

    def _repair_of_failed(self, question) -> list[dict]:
        """When the last answer to this question failed the maths check: that answer, and what did not hold."""
        failed = self.cache.last_failed(question.hash)
        if failed is None or not failed.check_failures:
            return []
        reason = "these maths claims do not hold: " + failed_claims_text(failed.check_failures)
        log.info("repairing a failed maths check: %s", reason)
        return [{"role": "assistant", "content": json.dumps(failed.answer.to_json(), ensure_ascii=False)},
                {"role": "user", "content": load_prompt("repair-v1", reason=reason)}]

    def _stream_steps(self, messages, published: list[Step], token: str, checks: StepChecks) -> tuple[Answer, dict]:
        """Publish steps beyond ``len(published)`` as they become final; return the whole validated answer."""
        for chunk in self.model.stream(messages, schema=AnswerSchema):
            steps = (chunk.parsed or {}).get("steps") or []
            final = len(steps) if chunk.done else len(steps) - 1
            for index in range(len(published), final):
                step, _dropped = validate_step(steps[index], index + 1)
                published.append(step)
                self.store.append(token, {"type": "step", "index": index, "step": asdict(step)}, LOG_TTL_S)
                checks.step_final([s.content for s in published])
            if chunk.done:
                answer, _ = validate_answer(chunk.parsed)
                if len(published) > len(answer.steps):
                    raise AIError("ai_invalid_output", reason="the repaired answer is shorter")
                duration = answer.total_duration or estimate_duration(published)
                return Answer(steps=tuple(published), total_duration=duration), chunk.usage
        raise AIError("ai_failed")


class _Heartbeat:
    """Keeps the generation lock alive while the model works, so a crashed process's lock simply expires."""

    def __init__(self, store, name: str, token: str, ttl_ms: int = LOCK_TTL_MS):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(store, name, token, ttl_ms), daemon=True)
        self._thread.start()

    def _beat(self, store, name, token, ttl_ms):
        while not self._stop.wait(ttl_ms / 3000):
            try:
                store.refresh(name, token, ttl_ms)
            except Exception:
                log.warning("could not refresh generation lock %s", name)

    def stop(self):
        self._stop.set()


def _plain(params: dict) -> dict:
    return {k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v) for k, v in params.items()}
