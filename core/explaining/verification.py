"""The maths check of one generation, run beside it so the stream never waits for SymPy.

Each step is checked as soon as it is final (in a background thread that talks to the checker's worker process);
a failed claim is sent to the generation's log (``LogWriter.check``), so readers can show it at that step.
``finish`` checks the whole answer once more (a later step may give meaning to an earlier one) and gives the verdict the cache decides on: ``True`` every checkable claim held, ``False`` one
failed, ``None`` nothing was checkable (or the check could not be made in time).
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Verdict:
    verified: bool | None
    failures: list[dict] = field(default_factory=list)  # [{"step": n (1-based), "claim": "12 \\cdot 4 = 46"}]


class StepChecks:
    def __init__(self, checker, publish: Callable[[int, list[str]], object], timeout: float):
        self.checker = checker
        self.publish = publish
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mathcheck")
        self._futures: list[Future] = []
        self._shown: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def step_final(self, contents: list[str]) -> None:
        """Check the last of ``contents`` (the steps published so far), in the background."""
        if self.checker is not None:
            self._futures.append(self._executor.submit(self._check_step, list(contents), len(contents) - 1))

    def finish(self, contents: list[str]) -> Verdict:
        """The verdict on the whole answer (waits for at most one step check still running, then the final one)."""
        for future in self._futures:
            future.cancel()
        self._executor.shutdown(wait=True)
        if self.checker is None:
            return Verdict(None)
        steps = self.checker.check(contents, timeout=self.timeout)
        if steps is None:
            return Verdict(None)
        for index, step in enumerate(steps):
            self._show(index, step["failed"])
        failures = [{"step": index + 1, "claim": claim} for index, step in enumerate(steps) for claim in step["failed"]]
        states = {step["verified"] for step in steps}
        verified = False if failures or False in states else True if True in states else None
        return Verdict(verified, failures)

    def stop(self) -> None:
        """Drop the checks not started (the generation failed or finished); never waits."""
        for future in self._futures:
            future.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _check_step(self, contents: list[str], index: int) -> None:
        steps = self.checker.check(contents, timeout=self.timeout, only_step=index, final=False)
        if steps:
            self._show(index, steps[0]["failed"])

    def _show(self, index: int, claims: list[str]) -> None:
        with self._lock:
            shown = self._shown.setdefault(index, [])
            new = [claim for claim in claims if claim not in shown]
            shown += new
        if new:
            self.publish(index, new)


def failed_claims_text(failures: list[dict]) -> str:
    """``step 2: 12 \\cdot 4 = 46; step 3: …`` for a repair request to the model."""
    return "; ".join(f"step {f['step']}: {f['claim']}" for f in failures)
