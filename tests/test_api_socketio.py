"""Socket.IO at /socket.io with the python-socketio client, through real server processes on both backends."""
from __future__ import annotations

import queue
import uuid

import pytest
import socketio

from tests.api_support import FULL_TEXT, QUESTION, deployment, read_events, text_of

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module", params=["embedded", "servers"])
def api(request, tmp_path_factory, postgres_server, redis_server):
    data = tmp_path_factory.mktemp(f"sio-{request.param}")
    with deployment(request.param, data, postgres_server, redis_server) as made:
        made.start(data, count=2 if request.param == "servers" else 1)  # servers: rooms across two processes
        yield made


class Listener:
    """A connected python-socketio client that queues every event it receives."""

    NAMES = ("waiting_phrase", "explanation_start", "step_start", "content_chunk", "canvas_command",
             "step_complete", "explanation_complete", "streaming_paused", "streaming_resumed", "error", "taken_over")

    def __init__(self, url: str, token: str | None):
        self.events: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in self.NAMES:
            self.client.on(name, lambda data, name=name: self.events.put((name, data)))
        self.client.connect(url, auth={"token": token} if token else None, transports=["websocket"],
                            socketio_path="socket.io", wait_timeout=10)

    def until(self, *names: str, timeout: float = 60) -> list:
        got = []
        while not got or got[-1][0] not in names:
            got.append(self.events.get(timeout=timeout))
        return got

    def call(self, event: str, data) -> dict:
        return self.client.call(event, data, timeout=30)

    def close(self):
        self.client.disconnect()


@pytest.fixture
def listeners():
    made = []

    def make(url, token):
        made.append(Listener(url, token))
        return made[-1]
    yield make
    for listener in made:
        listener.close()


def token_of(headers: dict) -> str:
    return headers["Authorization"].split()[1]


def test_connect_needs_a_valid_token(api):
    for auth in (None, {"token": "forged.token.here"}, {"token": 42}):
        client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(api.url, auth=auth, transports=["websocket"], wait_timeout=10)
        client.disconnect()


def test_ask_question_pause_resume_and_exact_text(api, listeners):
    me, headers = api.user()
    client = listeners(api.url, token_of(headers))
    ack = client.call("ask_question", {"question": QUESTION})
    assert ack["ok"] and ack["status"] == "streaming"
    sid = ack["session_id"]
    first = client.until("content_chunk")
    first += client.until("content_chunk")
    assert all(data["session_id"] == sid for _, data in first)
    assert [name for name, _ in first][:2] == ["explanation_start", "step_start"]
    paused = client.call("pause_streaming", {"session_id": sid})
    assert paused["ok"] and paused["status"] == "paused"
    first += client.until("streaming_paused")
    assert first[-1][1]["position"] == paused["position"]
    resumed = client.call("resume_streaming", {"session_id": sid})
    assert resumed["ok"] and resumed["status"] == "streaming"
    rest = client.until("explanation_complete")
    assert rest[0][0] == "streaming_resumed"
    assert text_of([(n, d, None) for n, d in first + rest]) == FULL_TEXT


def test_join_session_follows_a_session_streamed_over_sse(api, listeners):
    import httpx
    me, headers = api.user()
    with httpx.Client(base_url=api.url, timeout=30) as http:
        sid = http.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]
        follower = listeners(api.url, token_of(headers))
        assert follower.call("join_session", {"session_id": sid})["ok"]
        start = read_events(http, f"/api/v1/sessions/{sid}/events", headers,
                            until=lambda got: sum(1 for n, *_ in got if n == "content_chunk") == 2)
        rest = read_events(http, f"/api/v1/sessions/{sid}/events", {**headers, "Last-Event-ID": start[-1][2]})
    followed = [(n, d, None) for n, d in follower.until("explanation_complete")]
    assert all(data["session_id"] == sid for _, data, _ in followed)
    assert text_of(start) + text_of(rest) == text_of(followed) == FULL_TEXT


def test_join_session_with_a_position_catches_up_first(api, listeners):
    import httpx
    me, headers = api.user()
    with httpx.Client(base_url=api.url, timeout=30) as http:
        sid = http.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]
        start = read_events(http, f"/api/v1/sessions/{sid}/events", headers,
                            until=lambda got: sum(1 for n, *_ in got if n == "content_chunk") == 2)
        http.post(f"/api/v1/sessions/{sid}/pause", headers=headers)
    follower = listeners(api.url, token_of(headers))
    joined = follower.call("join_session", {"session_id": sid, "last_position": start[-1][2]})
    assert joined["ok"] and joined["status"] == "paused"
    assert follower.call("resume_streaming", {"session_id": sid})["ok"]
    followed = [(n, d, None) for n, d in follower.until("explanation_complete")]
    assert text_of(start) + text_of(followed) == FULL_TEXT


def test_a_failed_generation_reaches_the_asker_once(api, listeners):
    _, headers = api.user()
    client = listeners(api.url, token_of(headers))
    api.fake.fail_next("500")
    ack = client.call("ask_question", {"question": f"Why is {uuid.uuid4().hex[:6]} odd?"})
    assert ack["ok"]
    got = client.until("error")
    assert got[-1][1]["code"].startswith("ai_") and got[-1][1]["session_id"] == ack["session_id"]
    with pytest.raises(queue.Empty):
        client.events.get(timeout=2)


def test_refusals_come_back_as_error_events(api, listeners):
    _, owner = api.user()
    _, intruder = api.user()
    client = listeners(api.url, token_of(owner))
    sid = client.call("ask_question", {"question": QUESTION})["session_id"]
    client.until("explanation_complete")
    other = listeners(api.url, token_of(intruder))
    for event, data, code in (("pause_streaming", {"session_id": sid}, "forbidden"),
                              ("join_session", {"session_id": sid}, "forbidden"),
                              ("join_session", {"session_id": str(uuid.uuid4())}, "session_not_found"),
                              ("join_session", {"session_id": "../etc"}, "invalid_input"),
                              ("ask_question", {"question": ""}, "question_empty"),
                              ("ask_question", "not an object", "invalid_input"),
                              ("join_session", {"session_id": sid, "last_position": "bad"}, "invalid_event_id")):
        ack = (other if code == "forbidden" or "etc" in str(data) else client).call(event, data)
        assert not ack["ok"] and ack["error"]["code"] == code and ack["error"]["message"], (event, data, ack)


def text_by_position(events: list) -> str:
    """The text of ``content_chunk`` events as a joiner puts it together: a live event on its way at the join can
    come before the catch-up and again in it (see join_session), so a chunk counts only where it continues the text."""
    text = ""
    for name, data in events:
        start = data["position"] - len(data["chunk"]) if name == "content_chunk" else None
        if start is not None and start <= len(text) < data["position"]:
            text += data["chunk"][len(text) - start:]
    return text


def test_a_watcher_joining_mid_stream_gets_the_catch_up_then_every_live_event(api, listeners):
    """Nobody watched the session when its reader started (read over SSE, in the other process when there are
    two), so its events were not published; the joiner gets what it misses, then the live events to the end."""
    import httpx
    me, headers = api.user()
    joined = []

    def join_at_the_second_chunk(got):
        if not joined and sum(1 for n, *_ in got if n == "content_chunk") == 2:
            joined.append(follower.call("join_session", {"session_id": sid, "last_position": "0:0:0"}))
        return False

    with httpx.Client(base_url=api.servers[-1].url, timeout=30) as http:
        sid = http.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]
        follower = listeners(api.url, token_of(headers))
        read = read_events(http, f"/api/v1/sessions/{sid}/events", headers, until=join_at_the_second_chunk)
    assert joined[0]["ok"] and joined[0]["status"] == "streaming"
    followed = follower.until("explanation_complete")
    assert text_of(read) == text_by_position(followed) == FULL_TEXT


@pytest.mark.parametrize("api", ["servers"], indirect=True)  # only a Redis deployment publishes between processes
def test_a_session_nobody_watches_is_not_published(api):
    import httpx
    import redis
    me, headers = api.user()
    client = redis.Redis.from_url(api.settings["REDIS_URL"])
    channel = client.pubsub(ignore_subscribe_messages=True)
    channel.subscribe(api.settings["TUTOR_REDIS_PREFIX"] + "socketio")
    try:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            sid = http.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]
            read = read_events(http, f"/api/v1/sessions/{sid}/events", headers)
        assert text_of(read) == FULL_TEXT
        published = []
        while (message := channel.get_message(timeout=1.0)) is not None:
            published.append(message["data"])
        assert not [m for m in published if sid.encode() in m]
    finally:
        channel.close()
        client.close()
