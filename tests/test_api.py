"""The REST + SSE API through real server processes (``streamlit run streamlit_app.py``) on both backends."""
from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.api_support import FULL_TEXT, LESSON, PASSWORD, QUESTION, deployment, read_events, text_of

V1 = "/api/v1"


@pytest.fixture(scope="module", params=["embedded", "servers"])
def api(request, tmp_path_factory, postgres_server, redis_server):
    data = tmp_path_factory.mktemp(f"api-{request.param}")
    with deployment(request.param, data, postgres_server, redis_server) as made:
        made.start(data)
        yield made


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.url, timeout=30) as http:
        yield http


def ask(client, headers, question=QUESTION, **body):
    response = client.post(f"{V1}/sessions", json={"question": question, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["code"]


def test_health_openapi_and_the_pages_on_one_port(client):
    assert client.get(f"{V1}/health").json() == {"status": "ok", "database": True, "store": True}
    paths = client.get(f"{V1}/openapi.json").json()["paths"]
    assert "/v1/sessions/{session_id}/events" in paths and "/v1/chats/{chat_id}/messages" in paths
    docs = client.get(f"{V1}/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert not re.search(r"(src|href)=['\"](https?:)?//", docs.text), "the docs page must not load from a CDN"
    for asset in re.findall(r"(?:src|href)=['\"](/api/[^'\"]+)", docs.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/_stcore/health").text == "ok"
    assert "<div id=\"root\">" in client.get("/").text


def test_sign_in_and_every_refused_token(api, client):
    me, _ = api.user()
    wrong = client.post(f"{V1}/auth/token", json={"email": me.email, "password": "wrong-password-1"})
    assert wrong.status_code == 401 and error_code(wrong) == "auth_failed"
    good = client.post(f"{V1}/auth/token", json={"email": me.email, "password": PASSWORD}).json()
    assert good["token_type"] == "bearer" and good["expires_in"] > 0
    ok = client.get(f"{V1}/sessions", headers={"Authorization": f"Bearer {good['access_token']}"})
    assert ok.status_code == 200 and ok.json()["items"] == []

    expired = api.tutor.tokens.issue(me, ttl=-60)
    forged = good["access_token"][:-4] + ("AAAA" if not good["access_token"].endswith("AAAA") else "BBBB")
    for headers, code in (({}, "auth_invalid"), ({"Authorization": "Basic abc"}, "auth_invalid"),
                          ({"Authorization": "Bearer"}, "auth_invalid"),
                          ({"Authorization": "Bearer not.a.jwt"}, "auth_invalid"),
                          ({"Authorization": f"Bearer {forged}"}, "auth_invalid"),
                          ({"Authorization": f"Bearer {expired}"}, "auth_expired")):
        response = client.get(f"{V1}/sessions", headers=headers)
        assert response.status_code == 401 and error_code(response) == code, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


def test_sign_in_is_throttled_like_the_page(api, client):
    me, _ = api.user()
    for _ in range(10):  # TUTOR_RATE_SIGNIN: 10 attempts per account in 5 minutes, right or wrong
        wrong = client.post(f"{V1}/auth/token", json={"email": me.email, "password": "wrong-password-1"})
        assert wrong.status_code == 401 and error_code(wrong) == "auth_failed"
    refused = client.post(f"{V1}/auth/token", json={"email": me.email, "password": PASSWORD})
    assert refused.status_code == 429 and error_code(refused) == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0


def test_cached_answer_streams_pauses_and_resumes_exactly(api, client):
    me, headers = api.user()
    started = ask(client, headers)
    assert started["cached"] is True and started["status"] == "streaming"
    events_url = f"{V1}/sessions/{started['session_id']}/events"
    sid = started["session_id"]

    def two_chunks_then_pause(got):
        if sum(1 for name, *_ in got if name == "content_chunk") == 2 and not any(n == "paused" for n, *_ in got):
            paused = client.post(f"{V1}/sessions/{sid}/pause", headers=headers)
            assert paused.status_code == 200 and paused.json()["status"] == "paused"
            got.append(("paused", {}, None))
        return False

    first = read_events(client, events_url, headers, until=two_chunks_then_pause)
    names = [name for name, *_ in first if name != "paused"]
    assert names[:2] == ["explanation_start", "step_start"] and names[-1] == "streaming_paused"
    assert first[0][1]["session_id"] == sid and first[0][1]["question_hash"] == LESSON.question.hash

    resumed = client.post(f"{V1}/sessions/{sid}/resume", headers=headers).json()
    assert resumed["status"] == "streaming" and resumed["position"] == first[-1][1]["position"]
    rest = read_events(client, events_url, headers)
    assert rest[0][0] == "streaming_resumed" and rest[-1][0] == "explanation_complete"
    assert text_of(first) + text_of(rest) == FULL_TEXT
    assert client.get(events_url, headers=headers).status_code == 204  # nothing left to follow


def test_pause_at_the_last_event_shown_resends_what_was_in_flight(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    url = f"{V1}/sessions/{sid}/events"
    got = read_events(client, url, headers, until=lambda got: sum(n == "content_chunk" for n, *_ in got) == 5)
    shown = got[:[i for i, (n, *_) in enumerate(got) if n == "content_chunk"][2] + 1]  # 2 chunks not shown yet
    bad = client.post(f"{V1}/sessions/{sid}/pause", headers=headers, json={"at": "1:abc:0"})
    assert bad.status_code == 422 and error_code(bad) == "invalid_event_id"
    outside = client.post(f"{V1}/sessions/{sid}/pause", headers=headers, json={"at": "7:3:0"})
    assert outside.status_code == 422 and error_code(outside) == "invalid_position"
    paused = client.post(f"{V1}/sessions/{sid}/pause", headers=headers, json={"at": shown[-1][2]})
    assert paused.status_code == 200, paused.text
    assert paused.json() == {"status": "paused", "step": 1, "position": shown[-1][1]["position"]}
    assert client.post(f"{V1}/sessions/{sid}/resume", headers=headers).json()["position"] == shown[-1][1]["position"]
    rest = read_events(client, url, {**headers, "Last-Event-ID": shown[-1][2]})
    assert text_of(shown) + text_of(rest) == FULL_TEXT and rest[-1][0] == "explanation_complete"


def test_reconnect_with_last_event_id_loses_and_repeats_nothing(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    url = f"{V1}/sessions/{sid}/events"
    received, last_id, cuts = [], None, 0
    while not received or received[-1][0] != "explanation_complete":
        cuts += 1
        extra = {"Last-Event-ID": last_id} if last_id else {}
        part = read_events(client, url, {**headers, **extra},
                           until=lambda got: sum(1 for n, *_ in got if n == "content_chunk") >= 3)
        received += [e for e in part if e[0] not in ("streaming_resumed", "taken_over")]
        last_id = next((i for *_, i in reversed(part) if i), last_id)
        # a client drops between an event and its id-carrying successor now and then: cut mid-group too
        if cuts % 2 == 0:
            received = _drop_after_last_id(received)
    assert text_of(received) == FULL_TEXT
    commands = [data["command"] for name, data, _ in received if name == "canvas_command"]
    assert commands == [c for step in LESSON.answer.steps for c in step.canvas_commands]
    assert [data["step"] for name, data, _ in received if name == "step_start"] == [1, 2, 3, 4]
    assert [data["step"] for name, data, _ in received if name == "step_complete"] == [1, 2, 3, 4]
    assert cuts > 3


def _drop_after_last_id(events):
    """What the client holds per its Last-Event-ID: nothing after the last event that carried an id."""
    for index in range(len(events) - 1, -1, -1):
        if events[index][2]:
            return events[:index + 1]
    return []


def test_a_client_that_leaves_leaves_the_session_as_a_closed_tab_does(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    got = read_events(client, f"{V1}/sessions/{sid}/events", headers,
                      until=lambda got: sum(1 for n, *_ in got if n == "content_chunk") == 2)
    received = got[-1][1]["position"]
    snapshot = client.get(f"{V1}/sessions/{sid}", headers=headers).json()
    assert snapshot["status"] == "streaming" and received <= snapshot["position"] < len(FULL_TEXT)
    again = read_events(client, f"{V1}/sessions/{sid}/events", headers)  # another tab opens it: it goes on
    assert again[0][0] == "streaming_resumed" and again[-1][0] == "explanation_complete"


def test_malformed_or_impossible_event_ids_are_refused(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    url = f"{V1}/sessions/{sid}/events"
    first = LESSON.answer.steps[0].content
    inside_formula = f"1:{first.index('$') + 2}:0"  # a position no chunk ever ends at
    for bad in ("x", "1:2", "-1:0:0", "1:0:0:0", "9:0:0", "1:999999:0", "1:0:99", inside_formula):
        response = client.get(url, headers={**headers, "Last-Event-ID": bad})
        assert response.status_code == 422 and error_code(response) == "invalid_event_id", bad
    assert client.get(url, params={"after": "0:0:0"}, headers=headers).status_code == 200


def test_a_second_reader_takes_over_like_a_second_tab(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    url = f"{V1}/sessions/{sid}/events"
    with httpx.Client(base_url=api.url, timeout=30) as other:
        def start_second(got):
            if len(got) == 3:
                second = read_events(other, url, headers, until=lambda g: any(n == "content_chunk" for n, *_ in g))
                got.append(("second", second, None))
            return False
        first = read_events(client, url, headers, until=start_second)
    assert first[-1][0] == "taken_over"
    second = next(data for name, data, _ in first if name == "second")
    assert second[0][0] == "streaming_resumed"


def test_generated_answer_and_refusals_of_limits_and_credits(api, client):
    me, headers = api.user()
    started = ask(client, headers, f"What is {uuid.uuid4().hex[:6]} times two?")
    assert started["cached"] is False
    events = read_events(client, f"{V1}/sessions/{started['session_id']}/events", headers)
    assert events[-1][0] == "explanation_complete" and "explanation_start" in [n for n, *_ in events]

    _, broke = api.user(credits=0)
    poor = client.post(f"{V1}/sessions", json={"question": f"New question {uuid.uuid4().hex[:6]}?"}, headers=broke)
    assert poor.status_code == 402 and error_code(poor) == "insufficient_credits"
    assert ask(client, broke)["cached"] is True  # cached answers stay free

    _, busy = api.user()
    statuses = [client.post(f"{V1}/sessions", json={"question": QUESTION}, headers=busy) for _ in range(9)]
    assert [r.status_code for r in statuses[:8]] == [201] * 8
    assert statuses[8].status_code == 429 and error_code(statuses[8]) == "rate_limited"
    assert int(statuses[8].headers["retry-after"]) >= 1


def test_stored_only_serves_a_lesson_and_refuses_anything_else_without_a_trace(api, client):
    me, headers = api.user(credits=1)
    served = ask(client, headers, QUESTION, stored_only=True)
    assert served["cached"] is True and served["status"] == "streaming"
    events = read_events(client, f"{V1}/sessions/{served['session_id']}/events", headers)
    assert text_of(events) == FULL_TEXT

    calls, before = len(api.fake.calls), client.get(f"{V1}/sessions", headers=headers).json()["items"]
    unknown = f"Why is {uuid.uuid4().hex[:6]} a colour?"
    refused = client.post(f"{V1}/sessions", json={"question": unknown, "stored_only": True}, headers=headers)
    assert refused.status_code == 409 and error_code(refused) == "not_stored"
    assert client.get(f"{V1}/sessions", headers=headers).json()["items"] == before  # no session written
    assert api.tutor.credits.balance(me) == 1 and len(api.fake.calls) == calls  # nothing charged or generated
    for bad in ("yes", 1, None):
        response = client.post(f"{V1}/sessions", json={"question": QUESTION, "stored_only": bad}, headers=headers)
        assert response.status_code == 422, bad
    assert ask(client, headers, unknown)["cached"] is False  # the usual ask still generates it


def test_a_failed_generation_ends_the_stream_with_an_error_event(api, client):
    _, headers = api.user()
    api.fake.fail_next("500")
    started = ask(client, headers, f"Why is {uuid.uuid4().hex[:6]} not a number?")
    events = read_events(client, f"{V1}/sessions/{started['session_id']}/events", headers)
    assert events[-1][0] == "error" and events[-1][1]["code"].startswith("ai_") and events[-1][1]["message"]
    assert client.get(f"{V1}/sessions/{started['session_id']}", headers=headers).json()["status"] == "error"


def test_other_users_sessions_are_refused_everywhere(api, client):
    _, owner = api.user()
    _, intruder = api.user()
    _, teacher = api.user("teacher")
    sid = ask(client, owner)["session_id"]
    base = f"{V1}/sessions/{sid}"
    calls = [("GET", base), ("GET", f"{base}/events"), ("POST", f"{base}/pause"), ("POST", f"{base}/resume"),
             ("GET", f"{base}/export.md"), ("GET", f"{base}/whiteboard.svg"), ("DELETE", base)]
    for headers in (intruder, teacher):
        for method, url in calls:
            response = client.request(method, url, headers=headers)
            assert response.status_code == 403 and error_code(response) == "forbidden", (method, url)
        rating = client.post(f"{base}/rating", json={"helpful": True}, headers=headers)
        assert rating.status_code == 403
    missing = client.get(f"{V1}/sessions/{uuid.uuid4()}", headers=owner)
    assert missing.status_code == 404 and error_code(missing) == "session_not_found"
    for not_an_id in ("not-a-uuid", "xx", "0" * 32, "%3Cscript%3E"):
        response = client.get(f"{V1}/sessions/{not_an_id}", headers=owner)
        assert response.status_code == 404 and error_code(response) == "session_not_found", not_an_id
    response = client.get(f"{V1}/chats/abc", headers=owner)
    assert response.status_code == 404 and error_code(response) == "chat_not_found"


def test_history_snapshot_export_whiteboard_rating_delete(api, client):
    me, headers = api.user()
    sid = ask(client, headers)["session_id"]
    read_events(client, f"{V1}/sessions/{sid}/events", headers)
    snapshot = client.get(f"{V1}/sessions/{sid}", headers=headers).json()
    assert snapshot["status"] == "complete" and "".join(s["text"] for s in snapshot["steps"]) == FULL_TEXT
    page = client.get(f"{V1}/sessions", params={"search": QUESTION[5:20], "limit": 1}, headers=headers).json()
    assert [item["id"] for item in page["items"]] == [sid] and page["has_more"] is False
    assert client.get(f"{V1}/sessions", params={"search": "zzz-nothing"}, headers=headers).json()["items"] == []
    export = client.get(f"{V1}/sessions/{sid}/export.md", headers=headers)
    assert export.headers["content-type"].startswith("text/markdown") and LESSON.answer.steps[0].title in export.text
    svg = client.get(f"{V1}/sessions/{sid}/whiteboard.svg", params={"step": 1}, headers=headers)
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.startswith("<svg")
    assert client.post(f"{V1}/sessions/{sid}/rating", json={"helpful": True, "comment": "clear"},
                       headers=headers).status_code == 204
    assert client.post(f"{V1}/sessions/{sid}/rating", json={"helpful": "yes"}, headers=headers).status_code == 422
    assert client.delete(f"{V1}/sessions/{sid}", headers=headers).status_code == 204
    assert client.get(f"{V1}/sessions/{sid}", headers=headers).status_code == 404


def test_chat_streams_whole_words_and_keeps_the_history(api, client):
    me, headers = api.user()
    chat = client.post(f"{V1}/chats", json={"title": "Fractions"}, headers=headers)
    assert chat.status_code == 201
    chat_id = chat.json()["chat_id"]
    with httpx.Client(base_url=api.url, timeout=30) as http:
        from httpx_sse import connect_sse
        with connect_sse(http, "POST", f"{V1}/chats/{chat_id}/messages", json={"message": "What is a half?"},
                         headers=headers) as source:
            events = [(sse.event, sse.json()) for sse in source.iter_sse()]
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"content"}
    pieces = [data["content"] for name, data in events if name == "content"]
    assert all(p.endswith((" ", "\n")) for p in pieces[:-1])
    assert "".join(pieces) == events[-1][1]["full_content"]
    history = client.get(f"{V1}/chats/{chat_id}", headers=headers).json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    _, other = api.user()
    assert client.get(f"{V1}/chats/{chat_id}", headers=other).status_code == 403
    empty = client.post(f"{V1}/chats/{chat_id}/messages", json={"message": "   "}, headers=headers)
    assert empty.status_code == 422


def test_cookie_callers_need_the_custom_header_and_this_origin(api, client):
    me, headers = api.user()
    cookie = {"Cookie": f"tutor_token={headers['Authorization'].split()[1]}"}
    assert client.get(f"{V1}/sessions", headers=cookie).status_code == 200
    body = {"question": QUESTION}
    host = httpx.URL(api.url).netloc.decode()
    refused = [client.post(f"{V1}/sessions", json=body, headers=cookie),
               client.post(f"{V1}/sessions", json=body, headers={**cookie, "Origin": f"http://{host}"}),
               client.post(f"{V1}/sessions", json=body,
                           headers={**cookie, "X-Tutor-Request": "1", "Origin": "https://evil.example"})]
    assert [r.status_code for r in refused] == [403, 403, 403]
    accepted = client.post(f"{V1}/sessions", json=body,
                           headers={**cookie, "X-Tutor-Request": "1", "Origin": f"http://{host}"})
    assert accepted.status_code == 201


def test_errors_speak_the_callers_language(api, client):
    me, headers = api.user(language="es")
    missing = client.get(f"{V1}/sessions/{uuid.uuid4()}", headers=headers)
    assert missing.json()["error"]["message"] == "No se encuentra esa sesión."
    anonymous = client.get(f"{V1}/sessions", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert anonymous.json()["error"]["message"].startswith("Your session is not valid")


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b'{"question": 5}', b'{"question": null}',
                                  b'{"question": ["a"]}', b'{"question": "\\u0000"}', b'{"question": ""}',
                                  b'{"question": "x", "language": "klingon"}'])
def test_hostile_bodies_get_a_clean_4xx(api, client, body):
    _, headers = api.user()
    response = client.post(f"{V1}/sessions", content=body, headers={**headers, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500 and error_code(response), (body, response.text)


def test_huge_bodies_are_refused_with_413(api, client):
    _, headers = api.user()
    huge = b'{"question": "' + b"a" * 200_000 + b'"}'
    declared = client.post(f"{V1}/sessions", content=huge, headers={**headers, "Content-Type": "application/json"})
    assert declared.status_code == 413 and error_code(declared) == "payload_too_large"

    def chunks():
        for _ in range(20):
            yield b"a" * 10_000
    streamed = client.post(f"{V1}/auth/token", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
