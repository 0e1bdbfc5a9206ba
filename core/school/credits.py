"""Credits: each newly generated answer costs its asker one credit; cached answers and library lessons are free.

Who pays: the asker whose ask starts the provider call (the winner of the single-flight lock). Askers who follow
that in-flight generation pay nothing, as if it were already cached — a few seconds later it is. A user with no
credits left gets ``insufficient_credits`` on a cache miss, before the provider is called and before anything is
written; following an in-flight generation needs no credit.

The balance is ``users.credits`` (never below zero: a conditional update plus a check constraint) and every change
is a row in ``credit_ledger`` written in the same transaction, so the ledger always adds up to the balance:

    starting             new account (``TUTOR_STARTING_CREDITS``)
    generation           -1 when a generation starts, with the question hash
    chat                 -1 with the first of each ``TUTOR_CHAT_MESSAGES_PER_CREDIT`` chat messages a user sends
    refund               +1 when that generation then fails (provider error, invalid output, crash of its thread)
    refund_lock_expired  +1 when that generation died with its process: its lock expired and it never ended
    <reason>             a grant by a teacher (to students of their own classes) or an admin (to anyone)

A generation's debit and its refund have ids derived from the generation id (``debit_id``, ``refund_id``): the
primary key lets a generation be refunded at most once, whoever notices its failure first (its own thread, or a
reader or later asker that finds its lock expired) and however many notice it at the same time.

Chat: one credit pays for ``TUTOR_CHAT_MESSAGES_PER_CREDIT`` messages, taken with the first message of each group;
at zero credits that message is refused with ``insufficient_credits``, before the provider is called and before
anything is written. A chat reply that fails is not refunded: it costs a fraction of a credit.
"""
from __future__ import annotations

import logging
import unicodedata
import uuid

import sqlalchemy as sa

from ..errors import InsufficientCredits, InvalidInput, NotFound
from ..platform import authorization, db

log = logging.getLogger(__name__)

MAX_GRANT = 1000
MAX_REASON_CHARS = 40
_LEDGER_IDS = uuid.UUID("5b0c1a43-2f4e-4d7a-9a51-6a3f0c2b7e10")


def debit_id(generation: str) -> str:
    return str(uuid.uuid5(_LEDGER_IDS, f"debit:{generation}"))


def refund_id(generation: str) -> str:
    return str(uuid.uuid5(_LEDGER_IDS, f"refund:{generation}"))


class Credits:
    """``tutor.credits``: balances and grants (the interface is ``core.interfaces.CreditsAPI``); ``debit`` and
    ``refund`` are for the generation worker."""

    max_grant = MAX_GRANT
    max_reason_chars = MAX_REASON_CHARS

    def __init__(self, engine: sa.Engine, metrics=None):
        self.engine = engine
        self.metrics = metrics

    # --- for people ------------------------------------------------------------------------------------------------

    def balance(self, identity, user_id: str | None = None) -> int:
        """The caller's balance, or a user's the caller manages (a teacher's students, anyone for an admin)."""
        user_id = self._readable(identity, user_id)
        with self.engine.connect() as conn:
            return self._balance(conn, user_id)

    def ledger(self, identity, user_id: str | None = None, *, limit: int = 100) -> list[dict]:
        """The latest changes of a balance, newest first."""
        user_id = self._readable(identity, user_id)
        c = db.credit_ledger.c
        query = (sa.select(c.id, c.delta, c.reason, c.granted_by, c.question_hash, c.created_at)
                 .where(c.user_id == user_id).order_by(c.created_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [{**row._mapping, "id": str(row.id), "granted_by": row.granted_by and str(row.granted_by)}
                    for row in conn.execute(query)]

    def grant(self, identity, user_id: str, amount: int, reason: str = "grant") -> int:
        """Add ``amount`` (1 to ``MAX_GRANT``) credits to a user; returns the new balance. Teachers may grant only
        to students of their own classes, admins to anyone, students to no one."""
        amount = _amount(amount)
        reason = _reason(reason)
        user_id = _user_id(user_id)
        authorization.require_student_manager(identity, user_id, self._teaches)
        with self.engine.begin() as conn:
            changed = conn.execute(db.users.update().where(db.users.c.id == user_id)
                                   .values(credits=db.users.c.credits + amount)).rowcount
            if not changed:
                raise NotFound("unknown_user", email=user_id)
            self._log(conn, user_id, amount, reason, granted_by=identity.user_id)
            return self._balance(conn, user_id)

    # --- for the engine --------------------------------------------------------------------------------------------

    def debit(self, user_id: str, question_hash: str, generation: str | None = None) -> None:
        """Take one credit for a generation, or raise ``InsufficientCredits`` (and write nothing)."""
        with self.engine.begin() as conn:
            taken = conn.execute(db.users.update().where(db.users.c.id == user_id, db.users.c.credits > 0)
                                 .values(credits=db.users.c.credits - 1)).rowcount
            if taken:
                self._log(conn, user_id, -1, "generation", question_hash=question_hash,
                          row_id=generation and debit_id(generation))
        if not taken:
            if self.metrics is not None:
                self.metrics.error("insufficient_credits")
            raise InsufficientCredits()

    def pay_for_chat_message(self, conn: sa.Connection, user_id: str, messages_per_credit: int) -> None:
        """Inside the transaction that saves a user's chat message (before it is inserted): the first message of
        each group of ``messages_per_credit`` takes one credit, or is refused with ``InsufficientCredits``."""
        conn.execute(sa.select(db.users.c.id).where(db.users.c.id == user_id)
                     .with_for_update())  # one sender at a time per user on PostgreSQL (SQLite: BEGIN IMMEDIATE)
        sent = conn.execute(sa.select(sa.func.count()).select_from(db.messages)
                            .where(db.messages.c.user_id == user_id, db.messages.c.role == "user")).scalar()
        if sent % messages_per_credit:
            return  # paid for with the group's first message
        taken = conn.execute(db.users.update().where(db.users.c.id == user_id, db.users.c.credits > 0)
                             .values(credits=db.users.c.credits - 1)).rowcount
        if not taken:
            if self.metrics is not None:
                self.metrics.error("insufficient_credits")
            raise InsufficientCredits()
        self._log(conn, user_id, -1, "chat")

    def refund(self, user_id: str, question_hash: str, generation: str | None = None, *,
               reason: str = "refund") -> bool:
        """Give back the credit of a generation that failed; with its id, only once: False if already done."""
        try:
            with self.engine.begin() as conn:
                # the ledger row first: a second refund of the generation stops here, before the balance moves
                self._log(conn, user_id, 1, reason, question_hash=question_hash,
                          row_id=generation and refund_id(generation))
                conn.execute(db.users.update().where(db.users.c.id == user_id)
                             .values(credits=db.users.c.credits + 1))
        except sa.exc.IntegrityError:
            if generation is None:
                raise
            return False
        return True

    def refund_dead(self, generation: str) -> bool:
        """Refund the debit of a generation whose process died (its lock expired before it ended), if it was
        paid for and not refunded yet. Safe to call any number of times, from any number of processes."""
        c = db.credit_ledger.c
        with self.engine.connect() as conn:
            debit = conn.execute(sa.select(c.user_id, c.question_hash)
                                 .where(c.id == debit_id(generation), c.reason == "generation")).first()
        if debit is None:
            return False
        refunded = self.refund(str(debit.user_id), debit.question_hash, generation, reason="refund_lock_expired")
        if refunded:
            log.warning("refunded generation %s: its lock expired before it ended", generation[:8])
        return refunded

    # --- helpers ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _log(conn, user_id: str, delta: int, reason: str, *, granted_by: str | None = None,
             question_hash: str | None = None, row_id: str | None = None) -> None:
        conn.execute(db.credit_ledger.insert().values(id=row_id or db.new_id(), user_id=user_id, delta=delta,
                                                      reason=reason, granted_by=granted_by,
                                                      question_hash=question_hash))

    @staticmethod
    def _balance(conn, user_id: str) -> int:
        credits = conn.execute(sa.select(db.users.c.credits).where(db.users.c.id == user_id)).scalar()
        if credits is None:
            raise NotFound("unknown_user", email=user_id)
        return credits

    def _readable(self, identity, user_id: str | None) -> str:
        """The user whose credits the caller may read: themselves, their students, anyone for an admin."""
        if user_id is None or user_id == identity.user_id:
            return identity.user_id
        user_id = _user_id(user_id)
        authorization.require_student_manager(identity, user_id, self._teaches)
        return user_id

    def _teaches(self, teacher_id: str, student_id: str) -> bool:
        """Whether ``student_id`` is a student in one of ``teacher_id``'s classes."""
        query = (sa.select(db.users.c.id)
                 .join(db.memberships, db.memberships.c.user_id == db.users.c.id)
                 .join(db.classes, db.classes.c.id == db.memberships.c.class_id)
                 .where(db.users.c.id == student_id, db.users.c.role == "student",
                        db.classes.c.teacher_id == teacher_id).limit(1))
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None


def _amount(amount) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_GRANT:
        raise InvalidInput("invalid_amount", limit=MAX_GRANT)
    return amount


def _reason(reason) -> str:
    if not isinstance(reason, str):
        raise InvalidInput("invalid_reason", limit=MAX_REASON_CHARS)
    reason = "".join(c for c in unicodedata.normalize("NFKC", reason) if unicodedata.category(c)[0] != "C").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput("invalid_reason", limit=MAX_REASON_CHARS)
    return reason or "grant"


def _user_id(user_id) -> str:
    try:
        return str(uuid.UUID(str(user_id)))
    except ValueError:
        raise NotFound("unknown_user", email=str(user_id)[:60]) from None
