"""Users, passwords and classes.

Passwords are hashed with argon2id (argon2-cffi). A new password needs ``MIN_PASSWORD_CHARS`` characters and a
zxcvbn strength score of at least ``MIN_PASSWORD_SCORE`` (which refuses common passwords such as ``password1`` and
passwords made of the email or name). Every write happens in one transaction after all checks, so a refused
registration leaves no row behind.

``users.token_version`` is written into every app token (``ver``) and compared on every verify: ``revoke_tokens``
bumps it, which invalidates every token issued to that user so far.
"""
from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn

from ..errors import AuthError, Conflict, InvalidInput, NotFound
from ..platform import authorization, db
from ..platform.authorization import ROLES

LANGUAGES = ("es", "en")
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud in class

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale; 3 is "safely unguessable: moderate protection from offline attacks"
ZXCVBN_CHARS = 100  # zxcvbn's cost grows with length; what follows the first 100 characters only adds strength

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the email is unknown, so timing does not reveal which emails exist. Made on
    first use, not on import: every process that imports core (each CLI call, each server) would pay ~0.3 s."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: str
    language: str
    token_version: int = 0


@dataclass(frozen=True)
class Class:
    id: str
    name: str
    teacher_id: str
    join_code: str


def normalize_email(email: str) -> str:
    if not isinstance(email, str) or len(email) > 254:
        raise InvalidInput("invalid_email", email=str(email)[:60])
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput("invalid_email", email=email[:60]) from None


def check_password(password: str, *, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse, with ``weak_password``, a password that is short, guessable (also from the words of
    ``user_inputs``: the email, the name), or not valid Unicode text."""
    if not _is_text(password) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput("weak_password")
    words = set()
    for text in user_inputs:
        parts = [part for part in re.split(r"[\W_]+", str(text).lower().split("@")[0]) if len(part) > 2]
        words.update(parts + ["".join(parts)])
    if zxcvbn(password[:ZXCVBN_CHARS], user_inputs=sorted(words))["score"] < MIN_PASSWORD_SCORE:
        raise InvalidInput("weak_password")


def _is_text(value) -> bool:
    """A ``str`` that encodes to UTF-8 (no lone surrogates, which stand for undecodable input bytes)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_name(name: str, limit: int = 120) -> str:
    if not isinstance(name, str):
        raise InvalidInput("invalid_name")
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C").strip()
    if len(name) > limit:
        raise InvalidInput("invalid_name")
    return name


def _user(row) -> User:
    return User(id=str(row.id), email=row.email, name=row.name, role=row.role, language=row.language,
                token_version=row.token_version)


def _class(row) -> Class:
    return Class(id=str(row.id), name=row.name, teacher_id=str(row.teacher_id), join_code=row.join_code)


class Accounts:
    def __init__(self, engine: sa.Engine, *, default_language: str = "es", starting_credits: int = 0):
        self.engine = engine
        self.default_language = default_language
        self.starting_credits = starting_credits

    # --- users ---------------------------------------------------------------------------------------------------

    def register(self, email: str, password: str | None, *, role: str = "student", name: str = "",
                 language: str | None = None, class_code: str | None = None, user_id: str | None = None) -> User:
        """Create a user. ``password=None`` is for accounts whose sign-in lives elsewhere (Supabase Auth)."""
        email = normalize_email(email)
        if role not in ROLES:
            raise InvalidInput("invalid_role", role=str(role)[:20])
        language = language or self.default_language
        if language not in LANGUAGES:
            raise InvalidInput("invalid_language", language=str(language)[:20])
        name = clean_name(name)
        if password is not None:
            check_password(password, user_inputs=(email, name))
        password_hash = _hasher.hash(password) if password is not None else None
        with self.engine.begin() as conn:
            klass = self._class_by_code(conn, class_code) if class_code else None
            if conn.execute(sa.select(db.users.c.id).where(db.users.c.email == email)).first():
                raise Conflict("registration_failed")  # neutral: never confirms that the email has an account
            new_id = user_id or db.new_id()
            conn.execute(db.users.insert().values(id=new_id, email=email, name=name, password_hash=password_hash,
                                                  role=role, language=language, credits=self.starting_credits))
            if self.starting_credits:
                conn.execute(db.credit_ledger.insert().values(user_id=new_id, delta=self.starting_credits,
                                                              reason="starting"))
            if klass:
                conn.execute(db.memberships.insert().values(class_id=klass.id, user_id=new_id))
            return User(id=new_id, email=email, name=name, role=role, language=language)

    def authenticate(self, email: str, password: str) -> User:
        try:
            email = normalize_email(email)
        except InvalidInput:
            raise AuthError("auth_failed") from None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.users).where(db.users.c.email == email)).first()
        password = password if _is_text(password) else ""  # still verified, so timing says nothing either
        try:
            _hasher.verify(row.password_hash if row and row.password_hash else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            raise AuthError("auth_failed") from None
        if row is None or row.password_hash is None:
            raise AuthError("auth_failed")
        return _user(row)

    def get(self, user_id: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).first()
        if row is None:
            raise NotFound("unknown_user", email=user_id)
        return _user(row)

    def by_email(self, email: str) -> User:
        email = normalize_email(email)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.users).where(db.users.c.email == email)).first()
        if row is None:
            raise NotFound("unknown_user", email=email)
        return _user(row)

    def revoke_tokens(self, user_id: str) -> None:
        """Invalidate every app token issued to the user so far."""
        with self.engine.begin() as conn:
            changed = conn.execute(db.users.update().where(db.users.c.id == user_id)
                                   .values(token_version=db.users.c.token_version + 1)).rowcount
        if not changed:
            raise NotFound("unknown_user", email=user_id)

    def set_language(self, user_id: str, language: str) -> None:
        if language not in LANGUAGES:
            raise InvalidInput("invalid_language", language=str(language)[:20])
        with self.engine.begin() as conn:
            conn.execute(db.users.update().where(db.users.c.id == user_id).values(language=language))

    # --- classes -------------------------------------------------------------------------------------------------

    def create_class(self, teacher: User, name: str) -> Class:
        authorization.require_staff(teacher)
        name = clean_name(name)
        if not name:
            raise InvalidInput("invalid_name")
        with self.engine.begin() as conn:
            for _ in range(10):
                code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(6))
                if not conn.execute(sa.select(db.classes.c.id).where(db.classes.c.join_code == code)).first():
                    break
            class_id = db.new_id()
            conn.execute(db.classes.insert().values(id=class_id, name=name, teacher_id=teacher.id, join_code=code))
        return Class(id=class_id, name=name, teacher_id=teacher.id, join_code=code)

    def join_class(self, user: User, code: str, *, again_is_error: bool = False) -> Class:
        """Add the user to the class with this join code (``unknown_class`` if none). Joining a class twice is
        harmless, or ``Conflict("already_member")`` with ``again_is_error``."""
        with self.engine.begin() as conn:
            klass = self._class_by_code(conn, code)
            exists = conn.execute(sa.select(db.memberships.c.user_id).where(
                db.memberships.c.class_id == klass.id, db.memberships.c.user_id == user.id)).first()
            if exists and again_is_error:
                raise Conflict("already_member", name=klass.name)
            if not exists:
                conn.execute(db.memberships.insert().values(class_id=klass.id, user_id=user.id))
        return klass

    def classes_of(self, user: User) -> list[Class]:
        """The classes a teacher owns (all of them for an admin), or a student belongs to."""
        query = sa.select(db.classes).order_by(db.classes.c.name)
        if user.role == "teacher":
            query = query.where(db.classes.c.teacher_id == user.id)
        elif user.role == "student":
            query = query.join(db.memberships).where(db.memberships.c.user_id == user.id)
        with self.engine.connect() as conn:
            return [_class(row) for row in conn.execute(query)]

    def students_of(self, teacher: User, class_id: str) -> list[User]:
        self.require_class_owner(teacher, class_id)
        query = (sa.select(db.users).join(db.memberships, db.memberships.c.user_id == db.users.c.id)
                 .where(db.memberships.c.class_id == class_id).order_by(db.users.c.email))
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(query)]

    def require_class_owner(self, user: User, class_id: str) -> Class:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.classes).where(db.classes.c.id == class_id)).first()
        if row is None:
            raise NotFound()
        authorization.require_class_teacher(user, row.teacher_id)
        return _class(row)

    @staticmethod
    def _class_by_code(conn: sa.Connection, code: str) -> Class:
        code = code.strip().upper() if isinstance(code, str) else ""
        row = conn.execute(sa.select(db.classes).where(db.classes.c.join_code == code)).first() if code else None
        if row is None:
            raise NotFound("unknown_class", code=code[:20])
        return _class(row)
