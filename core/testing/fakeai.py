"""An OpenAI-compatible HTTP server for tests, notebooks and benchmarks.

``FakeAI`` serves ``POST /v1/chat/completions`` (streamed as server-sent events or as one JSON object) and
``GET /v1/models`` on 127.0.0.1, so the real ``openai`` SDK can be pointed at it::

    with FakeAI(tokens_per_second=40) as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="test")
        fake.fail_next("429")          # the next request gets a rate-limit error, the one after succeeds

A request whose ``response_format.type`` is ``json_schema`` is a structured request: the reply is
``json.dumps(answer_for(question))`` where the question is the text of the last user message. Any other request
is a chat request, answered with ``reply_for(messages)``. The default answers and replies come from
``fake_answers``.

Failure kinds for ``fail_next`` (one per request, in order):

``429``, ``500``       an OpenAI-style error body with that status (429 adds ``retry-after: 0``)
``timeout``            accept the request and send nothing for ``hang_seconds`` (or until ``stop()``)
``drop``               send the headers and a few content chunks, then close the connection mid-body
``malformed``          a normal reply whose content is a truncated JSON object
``invalid_answer``     a normal reply of valid JSON that breaks the answer rules (no steps)
``length``             half of the reply, then ``finish_reason`` ``length``

Run ``python -m core.testing.fakeai --port 8765 --tps 40`` to serve until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from .fake_answers import build_answer, default_reply, last_user_text, text_of

MODEL = "fakeai-tutor"
SYSTEM_FINGERPRINT = "fp_fakeai"
FAILURE_KINDS = ("429", "500", "timeout", "drop", "malformed", "invalid_answer", "length")
MALFORMED_CONTENT = '{"steps": [{"title": "Paso 1", "type": "text", "content": "Sin cerrar'
INVALID_ANSWER: dict[str, Any] = {"steps": [], "total_duration": 10}
DROP_AFTER_CHUNKS = 3

_ERRORS = {
    429: ("Rate limit reached for requests (fakeai).", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request (fakeai).", "server_error", None),
}
def _tokens(characters: int, chars_per_token: int) -> int:
    return math.ceil(characters / chars_per_token)


class FakeAI:
    """An OpenAI-compatible server on 127.0.0.1 with scripted failures; use it as a context manager.

    ``answer_for(question) -> dict`` builds structured answers (default ``build_answer``); ``reply_for(messages)
    -> str`` builds chat replies (default ``default_reply``). ``tokens_per_second`` paces the content deltas
    (``None``: as fast as possible); each delta carries about ``chars_per_token`` characters. ``port`` 0 picks a
    free port. ``calls`` holds the JSON bodies received on ``/v1/chat/completions``, in order.
    """

    def __init__(
        self,
        *,
        answer_for: Callable[[str], dict[str, Any]] | None = None,
        reply_for: Callable[[list[dict[str, Any]]], str] | None = None,
        tokens_per_second: float | None = None,
        chars_per_token: int = 4,
        hang_seconds: float = 30.0,
        port: int = 0,
    ):
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive or None")
        if chars_per_token < 1:
            raise ValueError("chars_per_token must be at least 1")
        self.answer_for = answer_for or build_answer
        self.reply_for = reply_for or default_reply
        self.tokens_per_second = tokens_per_second
        self.chars_per_token = int(chars_per_token)
        self.hang_seconds = hang_seconds
        self.port = port
        self.base_url = ""
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._failures: deque[str] = deque()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeAI:
        """Bind 127.0.0.1 and serve in a daemon thread; sets ``base_url`` (``http://127.0.0.1:PORT/v1``)."""
        if self._server is not None:
            raise RuntimeError("FakeAI is already running")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake paused or hanging requests, close open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def fail_next(self, *kinds: str) -> None:
        """Queue failures for the next chat-completion requests, one kind per request (see ``FAILURE_KINDS``)."""
        unknown = [kind for kind in kinds if kind not in FAILURE_KINDS]
        if unknown:
            raise ValueError(f"unknown failure kinds {unknown}; expected some of {FAILURE_KINDS}")
        with self._lock:
            self._failures.extend(kinds)

    def __enter__(self) -> FakeAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, body: dict[str, Any]) -> str | None:
        with self._lock:
            self.calls.append(body)
            return self._failures.popleft() if self._failures else None

    def _content_for(self, body: dict[str, Any]) -> str:
        messages = body.get("messages") or []
        response_format = body.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            return json.dumps(self.answer_for(last_user_text(messages)), ensure_ascii=False)
        return self.reply_for(messages)

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the server is stopping."""
        return not self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeAI):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client connection so handler threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Dropped(Exception):
    """The scripted ``drop`` failure: abandon the response mid-body."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "FakeAI/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeAI:
        return self.server.fake

    def do_GET(self) -> None:
        if self._route() == "/v1/models":
            model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "fakeai"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error", "not_found")

    def do_POST(self) -> None:
        body = self._read_json()
        if body is None:
            return
        if self._route() != "/v1/chat/completions":
            self._send_error(404, f"Unknown path {self.path}", "invalid_request_error", "not_found")
            return
        try:
            self._respond(body, self.fake._record(body))
        except _Dropped:
            self._drop_connection()

    def _route(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    def _read_json(self) -> dict[str, Any] | None:
        length = self.headers.get("content-length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send_error(411, "A Content-Length header is required.", "invalid_request_error", None)
            return None
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send_error(400, "The body must be a JSON object.", "invalid_request_error", None)
            return None
        return body

    def _respond(self, body: dict[str, Any], failure: str | None) -> None:
        if failure in ("429", "500"):
            self._send_error(int(failure), *_ERRORS[int(failure)])
            return
        if failure == "timeout":
            self.fake._pause(self.fake.hang_seconds)
            self.close_connection = True
            return
        try:
            content, finish_reason = self._plan(body, failure)
        except Exception as exc:
            self._send_error(500, f"fakeai could not build a reply: {exc!r}", "server_error", None)
            return
        if body.get("stream"):
            self._stream(body, content, finish_reason, drop=failure == "drop")
        else:
            self._send_json(200, self._completion(body, content, finish_reason), drop=failure == "drop")

    def _plan(self, body: dict[str, Any], failure: str | None) -> tuple[str, str]:
        """The assistant content and finish reason for a request."""
        if failure == "malformed":
            return MALFORMED_CONTENT, "stop"
        if failure == "invalid_answer":
            return json.dumps(INVALID_ANSWER), "stop"
        content = self.fake._content_for(body)
        if failure == "length":
            return content[: len(content) // 2], "length"
        return content, "stop"

    def _meta(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": body.get("model") or MODEL,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def _usage(self, body: dict[str, Any], content: str) -> dict[str, int]:
        per_token = self.fake.chars_per_token
        messages = body.get("messages") or []
        prompt_chars = sum(len(text_of(m.get("content"))) for m in messages if isinstance(m, dict))
        prompt, completion = _tokens(prompt_chars, per_token), _tokens(len(content), per_token)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, body: dict[str, Any], content: str, finish_reason: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return {**self._meta(body, "chat.completion"), "choices": [choice], "usage": self._usage(body, content)}

    def _stream(self, body: dict[str, Any], content: str, finish_reason: str, *, drop: bool) -> None:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        meta = self._meta(body, "chat.completion.chunk")
        if include_usage:
            meta["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**meta, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        self._start_stream()
        self._send_event(chunk({"role": "assistant", "content": ""}))
        size = self.fake.chars_per_token
        pieces = [content[i: i + size] for i in range(0, len(content), size)]
        for index, piece in enumerate(pieces[:DROP_AFTER_CHUNKS] if drop else pieces):
            if index and self.fake.tokens_per_second and not self.fake._pause(1 / self.fake.tokens_per_second):
                self._drop_connection()
                return
            self._send_event(chunk({"content": piece}))
        if drop:
            raise _Dropped
        self._send_event(chunk({}, finish_reason))
        if include_usage:
            self._send_event({**meta, "choices": [], "usage": self._usage(body, content)})
        self._send_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.end_headers()

    def _send_event(self, data: dict[str, Any]) -> None:
        self._send_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_json(self, status: int, payload: dict[str, Any], *, headers: dict[str, str] | None = None,
                   drop: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if drop:
            self.wfile.write(data[: len(data) // 2])
            raise _Dropped
        self.wfile.write(data)

    def _send_error(self, status: int, message: str, kind: str, code: str | None) -> None:
        headers = {"retry-after": "0", "retry-after-ms": "10"} if status == 429 else None
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers=headers)

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    """Serve a FakeAI until Ctrl-C, printing its base URL first."""
    parser = argparse.ArgumentParser(prog="python -m core.testing.fakeai", description="An OpenAI-compatible fake server.")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--tps", type=float, default=None, help="content tokens per second (default: no pacing)")
    parser.add_argument("--chars-per-token", type=int, default=4, help="characters per content delta")
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long a 'timeout' failure hangs")
    args = parser.parse_args(argv)
    fake = FakeAI(tokens_per_second=args.tps, chars_per_token=args.chars_per_token,
                  hang_seconds=args.hang_seconds, port=args.port).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
