"""``GET /api/v1/sessions/{id}/live``: the pages' stream (the events of ``/events`` with whiteboard patches instead of
canvas commands, text chunks on a lean wire, gzip per message), against a real ``streamlit run`` server; patches
are applied here to an ElementTree copy and compared with ``…/whiteboard.svg``, positions counted as the browser
does."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import httpx
import pytest
from api_support import FULL_TEXT, LESSON, QUESTION, deployment

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with deployment("embedded", tmp_path_factory.mktemp("live-api"), None, None) as made:
        made.start(tmp_path_factory.mktemp("live-api-logs"))
        yield made


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.url, timeout=60) as client:
        yield client


def start(client, headers) -> str:
    response = client.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["session_id"]


class BoardCopy:
    """A whiteboard patched as the browser does it (reset / append into a layer / replace by data-id)."""

    def __init__(self):
        self.root = None

    def apply(self, patch: dict) -> None:
        if patch["op"] == "reset":
            self.root = ET.fromstring(patch["svg"])
            return
        elements = list(ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg">{patch["svg"]}</svg>'))
        if patch["op"] == "append":
            [layer] = [g for g in self.root.iter(f"{SVG}g") if g.get("data-layer") == patch["layer"]]
            layer.extend(elements)
        else:
            parent, index = next((p, i) for p in self.root.iter() for i, c in enumerate(p)
                                 if c.get("data-id") == patch["id"])
            parent[index:index + 1] = elements


def canonical(svg: str | ET.Element) -> str:
    root = ET.fromstring(svg) if isinstance(svg, str) else svg
    for node in root.iter():
        node.text = (node.text or "").strip() or None
        node.tail = None
    return re.sub(r"cv-[0-9a-f]{10}", "cv-", ET.tostring(root, encoding="unicode"))


def board_of(events: list, board: BoardCopy | None = None) -> BoardCopy:
    board = board or BoardCopy()
    for name, data, _ in events:
        if name == "board":
            for patch in data["patches"]:
                board.apply(patch)
    return board


def read_events(client, url: str, headers: dict, *, until=None, params=None) -> list:
    """``[(event, data, id or None)]`` as the component parses the stream: an id belongs to its own message only
    (an EventSource would carry the last one over; the component never uses one)."""
    got, buffer = [], ""
    with client.stream("GET", url, headers=headers, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for text in response.iter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(":", 1) for line in block.split("\n") if not line.startswith(":"))
                if "data" in fields:
                    got.append((fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")))
                    if until is not None and until(got):
                        return got
    return got


def text_of(events: list) -> str:
    """The text of a lean stream: ``c`` events carry the chunk alone (a JSON string)."""
    return "".join(data for name, data, _ in events if name == "c")


def token_after(events: list, start: str = "0:0:0") -> str:
    """The position token a client holds after ``events``, kept as the component keeps it: a ``c`` event adds its
    code points to the position; an id (every other event's, a step's last chunk's) is the token — and a chunk's
    id must agree with the count."""
    step, position, done = map(int, start.split(":"))
    for name, data, event_id in events:
        if name == "c":
            position += len(data)
            assert event_id is None or int(event_id.split(":")[1]) == position, (event_id, position)
        if event_id:
            step, position, done = map(int, event_id.split(":"))
    return f"{step}:{position}:{done}"


def test_text_chunks_are_lean_and_the_counted_token_is_the_servers(api, client):
    _, headers = api.user()
    session_id = start(client, headers)
    events = read_events(client, f"/api/v1/sessions/{session_id}/live?after=0:0:0", headers)
    chunks = [(data, event_id) for name, data, event_id in events if name == "c"]
    assert "content_chunk" not in [name for name, _, _ in events] and all(isinstance(c, str) for c, _ in chunks)
    assert sum(1 for _, event_id in chunks if event_id) == len(LESSON.answer.steps)  # one id per step: its end
    assert text_of(events) == FULL_TEXT
    final = client.get(f"/api/v1/sessions/{session_id}", headers=headers).json()
    last = final["steps"][-1]
    assert token_after(events) == f"{last['step']}:{len(FULL_TEXT)}:{len(last['commands']) + 1}"


def test_the_stream_sends_patches_that_rebuild_the_whiteboard_exactly(api, client):
    me, headers = api.user()
    session_id = start(client, headers)
    events = read_events(client, f"/api/v1/sessions/{session_id}/live?after=0:0:0",
                         {**headers, "Accept-Encoding": "gzip"})
    names = [name for name, _, _ in events]
    assert names[0] == "board" and events[0][1]["patches"][0]["op"] == "reset"
    assert "canvas_command" not in names and names[-1] == "explanation_complete"
    assert names.count("board") == 1 + sum(len(s.canvas_commands) for s in LESSON.answer.steps)
    assert text_of(events) == FULL_TEXT
    stored = client.get(f"/api/v1/sessions/{session_id}/whiteboard.svg", headers=headers).text
    assert canonical(board_of(events).root) == canonical(stored)


def test_the_body_is_gzip_flushed_per_message(api, client):
    me, headers = api.user()
    session_id = start(client, headers)
    with client.stream("GET", f"/api/v1/sessions/{session_id}/live?after=0:0:0",
                       headers={**headers, "Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["x-accel-buffering"] == "no"
        first = next(response.iter_text())  # the first message arrives alone, already decodable
        assert first.startswith("event:board\n")


def test_a_reconnect_gets_the_board_so_far_then_the_rest(api, client):
    me, headers = api.user()
    session_id = start(client, headers)
    url = f"/api/v1/sessions/{session_id}/live"
    first = read_events(client, url + "?after=0:0:0", headers,
                        until=lambda got: sum(n == "board" for n, _, _ in got) >= 3)
    first += read_events(client, url + f"?after={token_after(first)}", headers,  # a drop between two ids
                         until=lambda got: sum(n == "c" for n, _, _ in got) >= 3)[1:]  # (its board reset left out)
    last_id = token_after(first)
    rest = read_events(client, url, {**headers, "Last-Event-ID": last_id}, params={"after": "0:0:0"})
    assert rest[0][0] == "board" and rest[0][1]["patches"][0]["op"] == "reset"
    assert canonical(board_of(rest[:1]).root) == canonical(board_of(first).root)  # the board up to the token
    assert text_of(first) + text_of(rest) == FULL_TEXT
    stored = client.get(f"/api/v1/sessions/{session_id}/whiteboard.svg", headers=headers).text
    assert canonical(board_of(rest).root) == canonical(stored)


@pytest.mark.parametrize("query, code", [("", "invalid_input"), ("?after=nope", "invalid_event_id"),
                                         ("?after=99:0:0", "invalid_event_id")])
def test_a_missing_or_bad_token_is_refused_before_the_stream(api, client, query, code):
    me, headers = api.user()
    session_id = start(client, headers)
    response = client.get(f"/api/v1/sessions/{session_id}/live{query}", headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] in (code, "invalid_input")
    assert response.headers["content-type"].startswith("application/json")


def test_another_users_session_is_refused(api, client):
    _, owner = api.user()
    _, other = api.user()
    session_id = start(client, owner)
    response = client.get(f"/api/v1/sessions/{session_id}/live?after=0:0:0", headers=other)
    assert response.status_code in (403, 404) and "error" in response.json()
