"""The command line as other checks use it: real subprocesses, real settings from the environment."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.content.library import load_lessons

ROOT = Path(__file__).resolve().parent.parent
LESSON = load_lessons()[0]


@pytest.fixture
def cli(data_dir):
    def run(*args, stdin="", env=None, check=None):
        environ = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), "TUTOR_CHUNK_DELAY_MS": "0",
                   **(env or {})}
        done = subprocess.run([sys.executable, "-m", "core", *args], input=stdin, capture_output=True, text=True,
                              cwd=ROOT, env=environ, timeout=120)
        if check is not None:
            assert done.returncode == check, done.stderr
        return done
    return run


def events(done):
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_users_tokens_and_classes(cli):
    added = cli("users", "add", "profe@example.org", "--role", "teacher", "--name", "Profe", "--password-stdin",
                stdin="a-good-pass1\n", check=0)
    assert json.loads(added.stdout)["role"] == "teacher"
    code = cli("classes", "add", "3º ESO B", "--teacher", "profe@example.org", check=0).stdout.strip()
    assert len(code) == 6
    cli("users", "add", "ana@example.org", "--role", "student", "--class", code, "--password-stdin",
        stdin="a-good-pass1\n", check=0)
    token = cli("users", "token", "ana@example.org", "--password-stdin", stdin="a-good-pass1\n", check=0).stdout.strip()
    who = json.loads(cli("users", "whoami", token, check=0).stdout)
    assert who["email"] == "ana@example.org" and who["role"] == "student"


@pytest.mark.parametrize("args, stdin, code", [
    (["users", "add", "bad-email", "--role", "student", "--password-stdin"], "a-good-pass1\n", "invalid_email"),
    (["users", "add", "x@example.org", "--role", "student", "--password-stdin"], "weak\n", "weak_password"),
    (["users", "add", "x@example.org", "--role", "student", "--class", "NOPE99", "--password-stdin"],
     "a-good-pass1\n", "unknown_class"),
    (["users", "token", "nobody@example.org", "--password-stdin"], "a-good-pass1\n", "auth_failed"),
    (["users", "whoami", "not.a.token"], "", "auth_invalid"),
    (["classes", "add", "X", "--teacher", "nobody@example.org"], "", "unknown_user"),
])
def test_refusals_exit_non_zero_with_one_line(cli, args, stdin, code):
    done = cli(*args, stdin=stdin)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith(f"error {code}:")


def test_duplicate_user_and_expired_token(cli, data_dir):
    cli("users", "add", "d@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n", check=0)
    again = cli("users", "add", "d@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n")
    assert again.returncode != 0 and "registration_failed" in again.stderr
    short = cli("users", "token", "d@example.org", "--password-stdin", stdin="a-good-pass1\n",
                env={"TUTOR_JWT_TTL": "-60"}, check=0).stdout.strip()
    expired = cli("users", "whoami", short)
    assert expired.returncode != 0 and "auth_expired" in expired.stderr


def test_library_list(cli):
    rows = [json.loads(line) for line in cli("library", "list", "--json", check=0).stdout.splitlines()]
    assert len(rows) == len(load_lessons()) >= 30
    assert {"question", "language", "steps", "hash"} <= set(rows[0])
    assert sum(r["language"] == "es" for r in rows) >= 12 and sum(r["language"] == "en" for r in rows) >= 12


def test_ask_pause_and_resume_in_another_process(cli):
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n", check=0)
    first = events(cli("ask", LESSON.question.text, "--user", "ana@example.org", "--json", "--max-chunks", "3",
                       check=0))
    session_id = first[0]["session_id"]
    assert all(e["session_id"] == session_id for e in first)
    assert [e["event"] for e in first].count("content_chunk") == 3
    assert first[-1]["event"] == "streaming_paused"
    rest = events(cli("resume", session_id, "--user", "ana@example.org", "--json", check=0))
    assert rest[0]["event"] == "streaming_resumed"
    assert rest[0]["data"]["position"] == first[-1]["data"]["position"]
    assert rest[-1]["event"] == "explanation_complete"
    text = "".join(e["data"]["chunk"] for e in first + rest if e["event"] == "content_chunk")
    assert text == "".join(s.content for s in LESSON.answer.steps)


def test_someone_elses_session_is_forbidden(cli):
    for who in ("ana", "eve"):
        cli("users", "add", f"{who}@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n",
            check=0)
    first = events(cli("ask", LESSON.question.text, "--user", "ana@example.org", "--json", "--max-chunks", "1"))
    stolen = cli("resume", first[0]["session_id"], "--user", "eve@example.org", "--json")
    assert stolen.returncode != 0
    assert events(stolen)[-1]["data"]["code"] == "forbidden"


def test_error_event_exits_non_zero(cli):
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n", check=0)
    done = cli("ask", "¿Cuánto mide la sombra de un poste de 3 m?", "--user", "ana@example.org", "--json")
    assert done.returncode != 0
    assert events(done)[-1] == {"event": "error", "session_id": None, "data": {
        "code": "ai_unavailable", "message": events(done)[-1]["data"]["message"]}}


def test_single_flight_across_processes(cli, data_dir, fake_ai, backend):
    """Several processes ask the same uncached question at once: the provider is called exactly once."""
    fake_ai.tokens_per_second = 300
    env = {"OPENAI_BASE_URL": fake_ai.base_url, "OPENAI_API_KEY": "test", **backend}
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n",
        env=env, check=0)
    environ = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), "TUTOR_CHUNK_DELAY_MS": "0", **env}
    procs = [subprocess.Popen([sys.executable, "-m", "core", "ask", "¿Qué es la fuerza centrípeta?", "--user",
                               "ana@example.org", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=environ)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    texts = {"".join(json.loads(line)["data"].get("chunk", "") for line in out.splitlines())
             for out, _ in outputs}
    assert len(texts) == 1 and "" not in texts
    assert len(fake_ai.calls) == 1


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args", [("users", "add", "ana@example.org", "--role", "student", "--password-stdin"),
                                  ("credits", "balance", "ana@example.org"),
                                  ("ask", "¿Qué es un átomo?", "--user", "ana@example.org")])
def test_an_unreachable_database_is_one_line_and_a_failure(cli, args):
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/tutor"
    done = cli(*args, stdin="a-good-pass1\n", env={"DATABASE_URL": nobody})
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error store_unavailable: "), done.stderr
    assert "127.0.0.1" not in done.stderr and "Traceback" not in done.stderr


def test_verbose_adds_the_cause_to_the_log(cli):
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/tutor"
    done = cli("--verbose", "credits", "balance", "ana@example.org", env={"DATABASE_URL": nobody})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("error store_unavailable: ")
    assert "database error" in done.stderr and "127.0.0.1" in done.stderr


def test_json_output_shows_the_maths_check(cli, fake_ai):
    """The fake provider's answer claims $x^2 + 2x + 1 = (x + 1)^2$: checked, it holds."""
    env = {"OPENAI_BASE_URL": fake_ai.base_url, "OPENAI_API_KEY": "test"}
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n",
        env=env, check=0)
    done = cli("ask", "¿Qué es una parábola?", "--user", "ana@example.org", "--json", env=env, check=0)
    complete = events(done)[-1]
    assert complete["event"] == "explanation_complete" and complete["data"]["verified"] is True
    assert not [e for e in events(done) if e["event"] == "step_check"]


def run_bytes(data_dir, *args, stdin: bytes, env=None):
    environ = {"PATH": os.environ["PATH"], "TUTOR_DATA_DIR": str(data_dir), "LC_ALL": "C", **(env or {})}
    return subprocess.run([sys.executable, "-m", "core", *args], input=stdin, capture_output=True, cwd=ROOT,
                          env=environ, timeout=120)


def test_a_password_that_is_not_utf8_is_refused_in_one_line(cli, data_dir):
    added = run_bytes(data_dir, "users", "add", "x@example.org", "--role", "student", "--password-stdin",
                      stdin=b"abc\xff\xfedef1-otter-42-moss\n")
    [line] = added.stderr.decode().splitlines()  # one line, no traceback
    assert added.returncode == 1 and line.startswith("error weak_password:")
    cli("users", "add", "x@example.org", "--role", "student", "--password-stdin", stdin="otter-42-moss\n", check=0)
    token = run_bytes(data_dir, "users", "token", "x@example.org", "--password-stdin",
                      stdin=b"otter-42-moss\xff\n")
    [line] = token.stderr.decode().splitlines()
    assert token.returncode == 1 and line.startswith("error auth_failed:")


def test_revoke_invalidates_every_token_of_the_user(cli):
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n", check=0)
    old = cli("users", "token", "ana@example.org", "--password-stdin", stdin="a-good-pass1\n", check=0).stdout.strip()
    cli("users", "whoami", old, check=0)
    assert json.loads(cli("users", "revoke", "ana@example.org", check=0).stdout) == {
        "email": "ana@example.org", "revoked": True}
    refused = cli("users", "whoami", old)
    assert refused.returncode == 1 and refused.stderr.startswith("error auth_invalid:")
    new = cli("users", "token", "ana@example.org", "--password-stdin", stdin="a-good-pass1\n", check=0).stdout.strip()
    assert json.loads(cli("users", "whoami", new, check=0).stdout)["email"] == "ana@example.org"


def test_token_issuing_is_throttled(cli):
    env = {"TUTOR_RATE_SIGNIN": "2/300"}
    cli("users", "add", "ana@example.org", "--role", "student", "--password-stdin", stdin="a-good-pass1\n", check=0)
    for _ in range(2):
        assert cli("users", "token", "ana@example.org", "--password-stdin", stdin="wrong-guess-1\n",
                   env=env).stderr.startswith("error auth_failed:")
    refused = cli("users", "token", "ana@example.org", "--password-stdin", stdin="a-good-pass1\n", env=env)
    assert refused.returncode == 1 and refused.stderr.startswith("error rate_limited: Too many requests. Wait ")


@pytest.mark.parametrize("args", [[], ["credits", "grant"], ["ask"], ["resume"], ["chat"], ["users"]])
def test_help_says_it_is_an_operator_tool(cli, args):
    done = cli(*args, "--help", check=0)
    assert "operator tool" in done.stdout and "without their password" in " ".join(done.stdout.split())
