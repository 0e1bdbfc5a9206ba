"""Two server processes on one PostgreSQL + Redis behind real nginx (deploy/nginx-tutor.conf), all on loopback."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.common import free_port
from tests.api_support import FULL_TEXT, QUESTION, deployment, read_events, text_of
from tests.conftest import unavailable
from tests.test_api_socketio import Listener

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(300)


def nginx_config(tmp: Path, listen: int, ports: list[int]) -> Path:
    """The shipped config with this test's ports, inside a minimal main config rooted in ``tmp``."""
    site = (ROOT / "deploy" / "nginx-tutor.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    site = re.sub(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, site)
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    (tmp / "tutor.conf").write_text(site)
    temp = "".join(f"    {kind}_temp_path {tmp / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = tmp / "nginx.conf"
    main.write_text(("user root;\n" if os.geteuid() == 0 else "") +
                    f"worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
                    "events { worker_connections 1024; }\n"
                    f"http {{\n    access_log {tmp / 'access.log'};\n{temp}    include {tmp / 'tutor.conf'};\n}}\n")
    return main


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_server, redis_server):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        unavailable("nginx is not installed (apt-get install nginx-light)")
    data = tmp_path_factory.mktemp("cluster")
    with deployment("servers", data, postgres_server, redis_server) as made:
        a, b = made.start(data, count=2)
        tmp = tmp_path_factory.mktemp("nginx")
        listen = free_port()
        conf = nginx_config(tmp, listen, [a.port, b.port])
        check = subprocess.run([nginx, "-t", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proxy = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{listen}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proxy.poll() is None, proxy.stderr.read()
                time.sleep(0.1)
            yield made, a.url, b.url, url
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)


def test_ask_on_a_stream_and_pause_on_b_resume_on_a_exact_text(cluster):
    made, a, b, _ = cluster
    _, headers = made.user()
    token = headers["Authorization"].split()[1]
    follower = Listener(a, token)  # a Socket.IO client on A follows what B streams
    try:
        with httpx.Client(timeout=30) as http:
            sid = http.post(f"{a}/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]
            assert follower.call("join_session", {"session_id": sid})["ok"]

            def pause_on_b(got):
                if sum(1 for n, *_ in got if n == "content_chunk") == 3 and not any(n == "p" for n, *_ in got):
                    assert http.post(f"{b}/api/v1/sessions/{sid}/pause", headers=headers).json()["status"] == "paused"
                    got.append(("p", {}, None))
                return False
            on_b = [e for e in read_events(http, f"{b}/api/v1/sessions/{sid}/events", headers, until=pause_on_b)
                    if e[0] != "p"]
            assert on_b[-1][0] == "streaming_paused"
            from_b = follower.until("streaming_paused")
            assert text_of([(n, d, None) for n, d in from_b]) == text_of(on_b)

            assert http.post(f"{a}/api/v1/sessions/{sid}/resume", headers=headers).json()["status"] == "streaming"
            on_a = read_events(http, f"{a}/api/v1/sessions/{sid}/events", headers)
        assert on_a[-1][0] == "explanation_complete"
        assert text_of(on_b) + text_of(on_a) == FULL_TEXT
    finally:
        follower.close()


def test_through_nginx_streams_are_not_buffered_and_sockets_upgrade(cluster):
    made, _, _, proxy = cluster
    _, headers = made.user()
    with httpx.Client(base_url=proxy, timeout=30) as http:
        assert http.get("/_stcore/health").text == "ok" and http.get("/").status_code == 200
        sid = http.post("/api/v1/sessions", json={"question": QUESTION}, headers=headers).json()["session_id"]

        def pause_early(got):  # a buffering proxy would hold these chunks until the stream ended
            if sum(1 for n, *_ in got if n == "content_chunk") == 2 and not any(n == "p" for n, *_ in got):
                http.post(f"/api/v1/sessions/{sid}/pause", headers=headers)
                got.append(("p", {}, None))
            return False
        got = read_events(http, f"/api/v1/sessions/{sid}/events", headers, until=pause_early)
    assert got[-1][0] == "streaming_paused" and len(text_of(got)) < len(FULL_TEXT)

    client = Listener(proxy, headers["Authorization"].split()[1])  # websocket transport through the proxy
    try:
        ack = client.call("ask_question", {"question": QUESTION})
        assert ack["ok"]
        events = client.until("explanation_complete")
        assert text_of([(n, d, None) for n, d in events]) == FULL_TEXT
    finally:
        client.close()
