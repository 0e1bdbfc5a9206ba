"""``GET /api/v1/sessions/{id}/live``: the pages' stream (the events of ``/events`` with whiteboard patches instead of
canvas commands, gzip per message), against a real ``streamlit run`` server; patches are applied here to an
ElementTree copy and compared with ``…/whiteboard.svg``."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import httpx
import pytest
from api_support import FULL_TEXT, LESSON, QUESTION, deployment, read_events, text_of

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
        assert first.startswith("event: board\n")


def test_a_reconnect_gets_the_board_so_far_then_the_rest(api, client):
    me, headers = api.user()
    session_id = start(client, headers)
    url = f"/api/v1/sessions/{session_id}/live"
    first = read_events(client, url + "?after=0:0:0", headers,
                        until=lambda got: sum(n == "board" for n, _, _ in got) >= 3)
    last_id = [i for _, _, i in first if i][-1]
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
