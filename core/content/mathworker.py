"""The maths checker in a worker process, so a check that hangs (SymPy on hostile input) can really be stopped.

``MathChecker.shared()`` is one long-lived worker per process, started at the first check and reused: a request is
one JSON line on its stdin, the answer one line on its stdout. A check that takes longer than its time limit gets
the worker killed (it is started again for the next check) and returns ``None``, as does any failure of the
worker: a check that cannot be made is "not checkable", never a failure of the answer.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

START_SECONDS = 60.0
MEMORY_BYTES = 1 << 30
_ROOT = Path(__file__).resolve().parents[2]
_WARM_UP = [r"$1 + 1 = 2$"]


class MathChecker:
    """Checks answers with ``mathcheck.check_answer`` in a worker process, one request at a time."""

    _shared: MathChecker | None = None
    _shared_lock = threading.Lock()

    def __init__(self):
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None

    @classmethod
    def shared(cls) -> MathChecker:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
                atexit.register(cls._shared.close)
            return cls._shared

    def check(self, contents: list[str], *, timeout: float, only_step: int | None = None,
              final: bool = True) -> list[dict] | None:
        """The verdict of each step (see ``mathcheck.check_answer``), or ``None`` if the worker failed or took
        longer than ``timeout`` seconds (then it is killed)."""
        request = json.dumps({"contents": contents, "only_step": only_step, "final": final})
        with self._lock:
            try:
                process = self._running()
                process.stdin.write(request + "\n")
                process.stdin.flush()
                return json.loads(_read_line(process, timeout))["steps"]
            except (OSError, ValueError, KeyError, TypeError, TimeoutError) as error:
                log.warning("maths check abandoned: %s", error or type(error).__name__)
                self._stop()
                return None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT),
                                                                              os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen([sys.executable, "-m", "core.content.mathworker"], cwd=_ROOT, env=env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, text=True, encoding="utf-8")
            if _read_line(self._process, START_SECONDS).strip() != "ready":
                raise OSError("the maths worker did not start")
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer within {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise OSError("the maths worker ended")
    return line


def serve() -> None:
    """The worker's loop: one JSON request per line in, one JSON answer per line out."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    from sympy.parsing.latex import parse_latex

    from .mathcheck import check_answer
    parse_latex("1")  # the parser's first use is slow: not inside a check's time limit
    check_answer(_WARM_UP)
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            steps = check_answer([str(c) for c in request["contents"]], only_step=request.get("only_step"),
                                 final=bool(request.get("final", True)))
        except Exception:
            steps = None
        print(json.dumps({"steps": steps}), flush=True)


if __name__ == "__main__":
    serve()
