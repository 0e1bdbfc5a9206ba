"""``python -m core …``: the tutor from a terminal, with the same settings as the app.

An operator's tool: whoever can run it with the app's settings can read and write the database directly, so the
commands act as any user named by email (``--user``, ``--by``, ``--teacher``) without a password. Only ``users
token`` checks a password, and it counts against the same sign-in limits as the app (client ``cli``).

With ``--json`` the streaming commands print one object per line: ``{"event", "session_id", "data"}`` (the
``explanation_complete`` data carries ``verified``: the maths check's verdict).
An ``error`` event or a refused command exits with status 1 and prints one line, ``error CODE: message``, to
stderr (``--verbose`` adds the log with causes and tracebacks).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Iterable

from . import ROLES
from .errors import TutorError
from .tutor import Tutor, create_tutor

OPERATOR_NOTE = ("This is an operator tool: it needs the app's settings and access to its data dir or database, "
                 "and it acts as any user named by email without their password. Do not give it to users.")


def _password(args) -> str:
    """One line of stdin; bytes that are not UTF-8 become lone surrogates, which core refuses cleanly."""
    if not args.password_stdin:
        raise SystemExit("error: --password-stdin is required (passwords are never taken as arguments)")
    return sys.stdin.buffer.readline().decode("utf-8", "surrogateescape").rstrip("\r\n")


def users_add(tutor: Tutor, args) -> int:
    user = tutor.register(args.email, _password(args), role=args.role, name=args.name or "",
                          language=args.language, class_code=args.class_code)
    print(json.dumps({"id": user.id, "email": user.email, "role": user.role, "language": user.language}))
    return 0


def users_token(tutor: Tutor, args) -> int:
    print(tutor.sign_in(args.email, _password(args), client="cli"))
    return 0


def users_revoke(tutor: Tutor, args) -> int:
    user = tutor.identity_by_email(args.email)
    tutor.revoke(user)
    print(json.dumps({"email": user.email, "revoked": True}))
    return 0


def users_whoami(tutor: Tutor, args) -> int:
    identity = tutor.identity(args.token)
    print(json.dumps({"user_id": identity.user_id, "email": identity.email, "role": identity.role,
                      "name": identity.name, "language": identity.language}))
    return 0


def classes_add(tutor: Tutor, args) -> int:
    klass = tutor.create_class(tutor.identity_by_email(args.teacher), args.name)
    print(klass.join_code)
    return 0


def credits_grant(tutor: Tutor, args) -> int:
    user = tutor.identity_by_email(args.email)
    balance = tutor.credits.grant(tutor.identity_by_email(args.by), user.user_id, args.amount, args.reason)
    print(json.dumps({"email": user.email, "credits": balance}))
    return 0


def credits_balance(tutor: Tutor, args) -> int:
    identity = tutor.identity_by_email(args.email)
    print(json.dumps({"email": identity.email, "credits": tutor.credits.balance(identity)}))
    return 0


def library_list(tutor: Tutor, args) -> int:
    for lesson in tutor.lessons():
        row = {"name": lesson.name, "question": lesson.question.text, "language": lesson.question.language,
               "subject": lesson.subject, "steps": len(lesson.answer.steps), "hash": lesson.question.hash}
        print(json.dumps(row, ensure_ascii=False) if args.json else
              f"{lesson.question.language}  {len(lesson.answer.steps)} steps  {lesson.subject:<13} {lesson.question.text}")
    return 0


def ask(tutor: Tutor, args) -> int:
    identity = tutor.identity_by_email(args.user)
    state = tutor.ask(identity, args.question, language=args.lang or identity.language, fresh=args.fresh)
    return _play(tutor, identity, state["id"], tutor.stream(identity, state["id"]), args)


def resume(tutor: Tutor, args) -> int:
    identity = tutor.identity_by_email(args.user)
    tutor.resume(identity, args.session_id)
    return _play(tutor, identity, args.session_id, tutor.stream(identity, args.session_id), args)


def _play(tutor: Tutor, identity, session_id: str, events: Iterable[dict], args) -> int:
    """Print the events; after ``--max-chunks`` chunks, pause as a student would and print until it takes."""
    chunks, status = 0, 0
    for item in events:
        _print(item, session_id, args.json)
        if item["event"] == "error":
            status = 1
        if item["event"] == "content_chunk":
            chunks += 1
            if args.max_chunks is not None and chunks == args.max_chunks:
                tutor.pause(identity, session_id)
    if not args.json:
        print(f"\n[session {session_id}]")
    return status


def chat(tutor: Tutor, args) -> int:
    identity = tutor.identity_by_email(args.user)
    session_id = args.session or tutor.chats.create(identity, title=args.message[:60])["id"]
    status = 0
    for item in tutor.chats.send(identity, session_id, args.message):
        _print(item, session_id, args.json)
        status = 1 if item["event"] == "error" else status
    if not args.json:
        print(f"\n[session {session_id}]")
    return status


def _print(item: dict, session_id: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": item["event"], "session_id": session_id, "data": item["data"]},
                         ensure_ascii=False), flush=True)
        return
    name, data = item["event"], item["data"]
    text = {"step_start": lambda: f"\n\n## {data.get('step')}. {data.get('title')}\n",
            "content_chunk": lambda: data["chunk"],
            "content": lambda: data["content"],
            "waiting_phrase": lambda: f"… {data['message']}\n",
            "step_check": lambda: f"\n[{data['message']} {'; '.join(data['claims'])}]\n",
            "streaming_paused": lambda: f"\n\n[{data['message']} position {data['position']}]",
            "streaming_resumed": lambda: f"[resumed at position {data['position']}]\n",
            "error": lambda: f"\nerror {data['code']}: {data['message']}",
            }.get(name)
    if text:
        print(text(), end="", flush=True, file=sys.stderr if name == "error" else sys.stdout)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m core", description="The tutor's command line.",
                                   epilog=OPERATOR_NOTE)
    root.add_argument("--verbose", action="store_true", help="log causes and tracebacks of failures to stderr")
    commands = root.add_subparsers(dest="group", required=True)

    users = commands.add_parser("users", help="accounts", epilog=OPERATOR_NOTE).add_subparsers(dest="command",
                                                                                              required=True)
    add = users.add_parser("add", help="create a user (password from stdin)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=list(ROLES))
    add.add_argument("--name")
    add.add_argument("--language", choices=["es", "en"])
    add.add_argument("--class", dest="class_code")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(run=users_add)
    token = users.add_parser("token", help="print a fresh token (password from stdin)")
    token.add_argument("email")
    token.add_argument("--password-stdin", action="store_true")
    token.set_defaults(run=users_token)
    whoami = users.add_parser("whoami", help="print the verified identity of a token")
    whoami.add_argument("token")
    whoami.set_defaults(run=users_whoami)
    revoke = users.add_parser("revoke", help="invalidate every app token of a user (sign them out everywhere)")
    revoke.add_argument("email")
    revoke.set_defaults(run=users_revoke)

    classes = commands.add_parser("classes", help="classes").add_subparsers(dest="command", required=True)
    cadd = classes.add_parser("add", help="create a class and print its join code")
    cadd.add_argument("name")
    cadd.add_argument("--teacher", required=True)
    cadd.set_defaults(run=classes_add)

    credit = commands.add_parser("credits", help="credits for questions and chat",
                                 epilog=OPERATOR_NOTE).add_subparsers(dest="command", required=True)
    grant = credit.add_parser("grant", help="give credits to a user (as a teacher of theirs, or an admin)",
                              epilog=OPERATOR_NOTE)
    grant.add_argument("email")
    grant.add_argument("amount", type=int)
    grant.add_argument("--by", required=True, help="email of the teacher or admin who grants (not "
                                                   "authenticated: the CLI is an operator tool)")
    grant.add_argument("--reason", default="grant")
    grant.set_defaults(run=credits_grant)
    balance = credit.add_parser("balance", help="print a user's balance")
    balance.add_argument("email")
    balance.set_defaults(run=credits_balance)

    lib = commands.add_parser("library", help="the lesson library").add_subparsers(dest="command", required=True)
    llist = lib.add_parser("list", help="list the lessons")
    llist.add_argument("--json", action="store_true")
    llist.set_defaults(run=library_list)

    for name, run, help_text in (("ask", ask, "ask a question and stream the explanation"),
                                 ("resume", resume, "resume a paused explanation")):
        sub = commands.add_parser(name, help=help_text, epilog=OPERATOR_NOTE)
        sub.add_argument("session_id" if name == "resume" else "question")
        sub.add_argument("--user", required=True, help="email of the user to act as (not authenticated)")
        if name == "ask":
            sub.add_argument("--lang", choices=["es", "en"])
            sub.add_argument("--fresh", action="store_true",
                             help="another explanation from the model (1 credit), even if an answer is stored")
        sub.add_argument("--json", action="store_true")
        sub.add_argument("--max-chunks", type=int)
        sub.set_defaults(run=run)

    talk = commands.add_parser("chat", help="send a chat message and stream the reply", epilog=OPERATOR_NOTE)
    talk.add_argument("message")
    talk.add_argument("--user", required=True, help="email of the user to act as (not authenticated)")
    talk.add_argument("--session")
    talk.add_argument("--json", action="store_true")
    talk.set_defaults(run=chat)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Failures reach the user as one line; the log (causes, tracebacks) only with --verbose.
    logging.getLogger("core").addHandler(logging.StreamHandler() if args.verbose else logging.NullHandler())
    try:
        with create_tutor() as tutor:
            return args.run(tutor, args)
    except TutorError as error:
        return _fail(args, error)
    except Exception:  # a bug: one line for the user, the traceback only in the log
        logging.getLogger("core").exception("python -m core %s failed", args.group)
        return _fail(args, TutorError())


def _fail(args, error: TutorError) -> int:
    """Print ``error CODE: message`` (and the JSON error event with ``--json``); the exit status is 1."""
    language = "en"
    if getattr(args, "json", False) and args.group in ("ask", "resume", "chat"):
        print(json.dumps({"event": "error", "session_id": getattr(args, "session_id", None),
                          "data": {"code": error.code, "message": error.message_for(language)}}), flush=True)
    print(f"error {error.code}: {error.message_for(language)}", file=sys.stderr)
    return 1
