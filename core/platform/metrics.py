"""Prometheus metrics of one tutor, in its own ``CollectorRegistry`` (never the global default), so tests and several
tutors in one process do not clash.

Most metrics follow the analytics log: ``MeteredAnalytics`` feeds every recorded event to ``Metrics.observe``, so the
engine, chat and generation code record each fact once. The stream gauge and histogram wrap the streaming loop
(``Metrics.streaming()``), and refusals that write nothing to the analytics log (``rate_limited``,
``insufficient_credits``, ``store_unavailable``) are counted with ``Metrics.error(code)``.

``serve(port)`` exposes ``/metrics`` on 127.0.0.1; a port is served at most once per process.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ..errors import TutorError
from .analytics import Analytics

log = logging.getLogger(__name__)

GENERATION_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120)
STREAM_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600)

_serving: dict[int, "Metrics"] = {}
_serving_lock = threading.Lock()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.asks = Counter("tutor_asks", "Questions accepted (an explanation session was created).", registry=r)
        self.cache_hits = Counter("tutor_cache_hits", "Asks answered from the cache or the lesson library.", registry=r)
        self.cache_misses = Counter("tutor_cache_misses", "Asks that needed a generation (started or followed).",
                                    registry=r)
        self.generation_seconds = Histogram("tutor_generation_seconds",
                                            "Provider call to validated, cached answer, for successful generations.",
                                            buckets=GENERATION_BUCKETS, registry=r)
        self.tokens = Counter("tutor_tokens", "Provider tokens used by successful generations.", ["kind"], registry=r)
        self.stream_seconds = Histogram("tutor_stream_seconds",
                                        "Duration of one streaming pass (until complete, pause, takeover, error or "
                                        "close).", buckets=STREAM_BUCKETS, registry=r)
        self.active_streams = Gauge("tutor_active_streams", "Streaming passes running now.", registry=r)
        self.pauses = Counter("tutor_pauses", "Explanations paused.", registry=r)
        self.resumes = Counter("tutor_resumes", "Explanations resumed.", registry=r)
        self.completions = Counter("tutor_completions", "Explanations read to the end.", registry=r)
        self.chat_messages = Counter("tutor_chat_messages", "Chat messages sent by users.", registry=r)
        self.errors = Counter("tutor_errors", "Errors and refusals, by error code.", ["code"], registry=r)
        for kind in ("prompt", "completion"):
            self.tokens.labels(kind=kind)
        self._server = None

    # --- recording -------------------------------------------------------------------------------------------------

    def observe(self, kind: str, value: float | None = None, **data) -> None:
        """Count one analytics event (see ``core.platform.analytics.KINDS``)."""
        counter = {"question_asked": self.asks, "cache_hit": self.cache_hits, "cache_miss": self.cache_misses,
                   "pause": self.pauses, "resume": self.resumes, "complete": self.completions,
                   "chat_message": self.chat_messages}.get(kind)
        if counter is not None:
            counter.inc()
        elif kind == "generation":
            if value is not None:
                self.generation_seconds.observe(value)
            for name in ("prompt", "completion"):
                self.tokens.labels(kind=name).inc(data.get(f"{name}_tokens") or 0)
        elif kind == "error":
            self.error(data.get("code") or "error")

    def error(self, code: str) -> None:
        self.errors.labels(code=code).inc()

    @contextmanager
    def streaming(self) -> Iterator[None]:
        """Around a streaming loop: the active gauge and the duration, also when the generator is closed early;
        a ``TutorError`` escaping the loop (say ``store_unavailable``) is counted."""
        with self.active_streams.track_inprogress(), self.stream_seconds.time():
            try:
                yield
            except TutorError as error:
                self.error(error.code)
                raise

    # --- exposing --------------------------------------------------------------------------------------------------

    def serve(self, port: int, addr: str = "127.0.0.1") -> bool:
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread. False, with a logged reason, if this process
        already serves that port (say for another tutor) or the port is taken: metrics never stop the tutor."""
        with _serving_lock:
            if port in _serving:
                log.warning("metrics port %s is already served in this process; not serving it again", port)
                return False
            try:
                self._server, _thread = start_http_server(port, addr=addr, registry=self.registry)
            except OSError as error:
                log.error("cannot serve metrics on %s:%s: %s", addr, port, error)
                return False
            _serving[port] = self
        return True

    def stop(self) -> None:
        with _serving_lock:
            if self._server is None:
                return
            port = self._server.server_address[1]
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if _serving.get(port) is self:
                del _serving[port]


class MeteredAnalytics(Analytics):
    """The analytics log that also feeds each event to the metrics (even if the database write fails)."""

    def __init__(self, engine, metrics: Metrics):
        super().__init__(engine)
        self.metrics = metrics

    def record(self, kind: str, **fields) -> None:
        super().record(kind, **fields)
        data = {k: v for k, v in fields.items() if k not in ("user_id", "session_id", "question_hash", "step")}
        self.metrics.observe(kind, **data)
