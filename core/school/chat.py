"""Chat with the tutor: sessions with a title and history, replies streamed word by word.

New chats count against ``TUTOR_RATE_NEW_CHAT``, messages against ``TUTOR_RATE_CHAT_<ROLE>`` and the sender's
credits (``TUTOR_CHAT_MESSAGES_PER_CREDIT``, see ``credits``).

Events: ``start {session_id}`` · ``content {content}`` (whole words) · ``done {message_id, full_content}`` · ``error``.
The last 10 messages are the model's context; a chat opened on a step of an explanation also gets that
explanation, with the step marked.
"""
from __future__ import annotations

from typing import Iterator

import sqlalchemy as sa

from ..content.questions import clean_text
from ..errors import AIError, NotFound, TutorError
from ..explaining.models import LANGUAGE_NAMES, Model, load_prompt
from ..platform import authorization, db
from ..platform.store import SessionStatus
from .accounts import clean_name

CONTEXT_MESSAGES = 10
MAX_MESSAGE_CHARS = 2000
CHAT_PROMPT = "chat-v1"


def _event(name: str, **data) -> dict:
    return {"event": name, "data": data}


class Chats:
    """``tutor.chats``: chats with the tutor (the interface is ``core.interfaces.ChatsAPI``)."""

    max_message_chars = MAX_MESSAGE_CHARS

    def __init__(self, engine: sa.Engine, cache, model: Model | None, analytics, *, limits=None, credits=None,
                 messages_per_credit: int = 0):
        self.engine = engine
        self.cache = cache
        self.model = model
        self.analytics = analytics
        self.limits = limits
        self.credits = credits
        self.messages_per_credit = messages_per_credit

    def create(self, identity, *, title: str = "", explanation_id: str | None = None, step: int | None = None,
               language: str | None = None) -> dict:
        """A new chat (``id``, ``title``, ``language``), optionally about one step of one of the caller's
        explanations."""
        title = clean_name(title, limit=200)
        language = language or identity.language
        if explanation_id is not None:
            parent = self._session(identity, explanation_id, kind="explanation")
            steps = self._explanation_steps(parent)
            if step is not None and not 1 <= step <= max(1, len(steps)):
                raise NotFound()
            title = title or parent.title  # the step is the row's parent_step: pages word it in their language
        if self.limits is not None:
            self.limits.check(identity, "new_chat")
        session_id = db.new_id()
        with self.engine.begin() as conn:
            conn.execute(db.tutor_sessions.insert().values(
                id=session_id, user_id=identity.user_id, kind="chat", title=title[:200], language=language,
                parent_session_id=explanation_id, parent_step=step, status=SessionStatus.OPEN))
        return {"id": session_id, "title": title, "language": language}

    def history(self, identity, session_id: str) -> list[dict]:
        """The chat's messages, oldest first: ``id``, ``role``, ``content``, ``created_at``."""
        self._session(identity, session_id, kind="chat")
        query = (sa.select(db.messages.c.id, db.messages.c.role, db.messages.c.content, db.messages.c.created_at)
                 .where(db.messages.c.session_id == session_id).order_by(db.messages.c.created_at, db.messages.c.id))
        with self.engine.connect() as conn:
            return [dict(row._mapping, id=str(row.id)) for row in conn.execute(query)]

    def about(self, identity, session_id: str) -> dict | None:
        """What a chat opened on a step is about: ``explanation_id``, ``question``, ``step``, ``step_title`` and
        ``excerpt`` (the step's first words, formulas kept whole); ``None`` for a chat on nothing (or on an
        explanation since deleted)."""
        chat = self._session(identity, session_id, kind="chat")
        if not chat.parent_session_id:
            return None
        try:
            parent = self._session(identity, str(chat.parent_session_id), kind="explanation")
        except NotFound:
            return None
        steps = self._explanation_steps(parent)
        step = chat.parent_step if chat.parent_step and chat.parent_step <= len(steps) else None
        shown = steps[step - 1] if step else None
        return {"explanation_id": str(parent.id), "question": parent.question or parent.title, "step": step,
                "step_title": shown.title if shown else "", "excerpt": excerpt(shown.content) if shown else ""}

    @staticmethod
    def check_message(text: str) -> str:
        """The message as ``send`` would take it, or ``InvalidInput`` (to refuse a bad first message before a chat
        is created for it)."""
        return clean_text(text, limit=MAX_MESSAGE_CHARS)

    def send(self, identity, session_id: str, text: str) -> Iterator[dict]:
        """Check and save the student's message now (a refusal raises here, before anything is written), then
        return the reply's events; the reply is saved whole, or as far as it got if the student stops it."""
        session = self._session(identity, session_id, kind="chat")
        text = clean_text(text, limit=MAX_MESSAGE_CHARS)
        if self.model is None:
            raise AIError("ai_unavailable")
        if self.limits is not None:
            self.limits.check(identity, "chat")  # before saving: a refused message leaves nothing behind
        messages = self._context(session, identity)
        self._save_message(session_id, identity.user_id, "user", text, paid=True)
        self.analytics.record("chat_message", user_id=identity.user_id, session_id=session_id,
                              step=session.parent_step)
        return self._reply(identity, session, messages + [{"role": "user", "content": text}])

    def _reply(self, identity, session, messages: list[dict]) -> Iterator[dict]:
        session_id = str(session.id)
        yield _event("start", session_id=session_id)
        parts: list[str] = []
        finished = False
        try:
            for words in _whole_words(self.model.stream(messages)):
                parts.append(words)
                yield _event("content", content=words)
            finished = True
        except TutorError as error:
            self.analytics.record("error", user_id=identity.user_id, session_id=session_id, code=error.code)
            yield error.to_event(session.language)
        finally:
            full = "".join(parts)
            message_id = self._save_message(session_id, identity.user_id, "assistant", full) if full else None
        if finished:
            yield _event("done", message_id=message_id, full_content=full)

    def _context(self, session, identity) -> list[dict]:
        context = ""
        if session.parent_session_id:
            parent = self._session(identity, str(session.parent_session_id), kind="explanation")
            lines = [f"The student is reading this explanation of: {parent.question}"]
            for number, step in enumerate(self._explanation_steps(parent), start=1):
                mark = "  <- the student asks about this step" if number == session.parent_step else ""
                lines.append(f"Step {number}: {step.title}{mark}\n{step.content}")
            context = "\n\n".join(lines)
        system = load_prompt(CHAT_PROMPT, language_name=LANGUAGE_NAMES[session.language], context=context)
        history = self.history(identity, str(session.id))[-CONTEXT_MESSAGES:]
        return [{"role": "system", "content": system}] + [{"role": m["role"], "content": m["content"]}
                                                          for m in history]

    def _explanation_steps(self, parent):
        answer = self.cache.get(str(parent.answer_id)) if parent.answer_id else self.cache.lookup(parent.question_hash)
        return list(answer.answer.steps) if answer else []

    def _session(self, identity, session_id: str, *, kind: str):
        missing = "chat_not_found" if kind == "chat" else "session_not_found"
        session_id = db.checked_id(session_id, missing)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == session_id,
                                                                  db.tutor_sessions.c.kind == kind)).first()
        if row is None:
            raise NotFound(missing)
        authorization.require_owner(identity, row.user_id)
        return row

    def _save_message(self, session_id: str, user_id: str, role: str, content: str, *, paid: bool = False) -> str:
        """Save one message; a ``paid`` one (the student's) is charged in the same transaction, or refused."""
        message_id = db.new_id()
        with self.engine.begin() as conn:
            if paid and self.credits is not None and self.messages_per_credit:
                self.credits.pay_for_chat_message(conn, user_id, self.messages_per_credit)
            conn.execute(db.messages.insert().values(id=message_id, session_id=session_id, user_id=user_id,
                                                     role=role, content=content))
            conn.execute(db.tutor_sessions.update().where(db.tutor_sessions.c.id == session_id)
                         .values(updated_at=db.utcnow()))
        return message_id


def _whole_words(chunks) -> Iterator[str]:
    """Regroup provider deltas so every piece ends at a word boundary."""
    pending = ""
    for chunk in chunks:
        pending += chunk.text
        cut = max(pending.rfind(" "), pending.rfind("\n"))
        if cut >= 0:
            yield pending[:cut + 1]
            pending = pending[cut + 1:]
    if pending:
        yield pending


def excerpt(text: str, limit: int = 140) -> str:
    """The first words of a step's text, cut at a space and never inside a ``$…$`` formula."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    if cut.count("$") % 2:
        cut = cut[:cut.rindex("$")].rstrip()
    return cut + "…"
