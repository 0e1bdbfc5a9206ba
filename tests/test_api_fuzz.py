"""Every route of the OpenAPI document, fuzzed with hostile ids, queries, headers and bodies: never a 5xx, never a
traceback, always the JSON error shape (Hypothesis, through a real server process)."""
from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.path_security import is_unsafe_path_pattern

from tests.api_support import deployment

pytestmark = pytest.mark.timeout(600)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(scalars,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                       max_size=4), max_leaves=12)
bodies = st.one_of(json_values.map(lambda v: json.dumps(v).encode()),
                   st.dictionaries(st.sampled_from(["question", "language", "message", "email", "password",
                                                    "helpful", "comment", "title", "explanation_id", "step"]),
                                   json_values, max_size=4).map(lambda v: json.dumps(v).encode()),
                   st.binary(max_size=200))
ids = st.one_of(st.uuids().map(str), st.text(max_size=60), st.sampled_from(["..", "%2e%2e", "0", "-1", "null",
                                                                            "00000000-0000-0000-0000-000000000000"]))
event_ids = st.one_of(st.none(), st.text(alphabet="0123456789:-x", max_size=20))


def refused_by_streamlit(url: str) -> bool:
    """Streamlit's path security answers a plain 400 before any route for traversal, absolute or UNC paths and
    some control characters (a newline gets the server's plain 404): a safe refusal, but not the API's JSON (only
    such paths may get it)."""
    path = unquote(url).lstrip("/")
    return is_unsafe_path_pattern(path) or any(ord(c) < 32 or ord(c) == 127 for c in path)


@pytest.fixture(scope="module")
def api(tmp_path_factory, postgres_server, redis_server):
    data = tmp_path_factory.mktemp("fuzz")
    with deployment("embedded", data, postgres_server, redis_server) as made:
        made.start(data)
        yield made


@pytest.fixture(scope="module")
def operations(api):
    spec = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def test_every_route_survives_hostile_input(api, operations):
    _, headers = api.user()
    assert len(operations) >= 14
    with httpx.Client(base_url=f"{api.url}/api", timeout=30) as client:
        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
        @given(operation=st.sampled_from(operations), ident=ids, body=bodies, event_id=event_ids,
               query=st.dictionaries(st.sampled_from(["search", "offset", "limit", "step", "after"]),
                                     st.text(max_size=30), max_size=3),
               authorized=st.booleans())
        def check(operation, ident, body, event_id, query, authorized):
            method, path = operation
            url = re.sub(r"\{[a-z_]+\}", lambda _: quote(ident, safe="") or "x", path)
            sent = {"Content-Type": "application/json", **(headers if authorized else {})}
            if event_id is not None and event_id.isprintable():
                sent["Last-Event-ID"] = event_id
            with client.stream(method, url, params=query, content=body if method != "GET" else None,
                               headers=sent) as response:
                assert response.status_code < 500, (method, url, body, response.read())
                # A path with a control character never reaches /api: Streamlit's path security answers 400, or
                # (a newline: Starlette's Mount pattern does not match it) the server's plain 404.
                streamlits = (response.status_code, response.read()) in ((400, b"Bad Request"), (404, b"Not Found"))
                if streamlits:
                    assert refused_by_streamlit(url), url
                elif response.status_code >= 400:
                    error = json.loads(response.read())["error"]
                    assert error["code"] and error["message"] and "Traceback" not in error["message"]
        check()
