"""The facade: one object, built from settings, that pages, notebooks, the CLI, benchmarks and tests all use."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Mapping

from .content import library
from .content.mathworker import MathChecker
from .content.questions import prepare
from .errors import AuthError, Forbidden, InvalidInput, NotFound
from .explaining.cache import AnswerCache
from .explaining.explanations import Explanations
from .explaining.generation import Generations
from .explaining.matching import Matcher
from .explaining.models import Model, model_from_settings
from .explaining.pacing import SHARDS, Deliver, Following, Pacer
from .interfaces import ChatsAPI, CreditsAPI, CurationAPI, FramesAPI, HistoryAPI
from .platform import authorization, db, migrations
from .platform.analytics import Analytics
from .platform.i18n import LANGUAGES, t
from .platform.limits import RateLimits
from .platform.metrics import MeteredAnalytics, Metrics
from .platform.settings import Settings
from .platform.store import open_store
from .school.accounts import Accounts, Class, User, check_password, normalize_email
from .school.auth import Identity, SupabaseAuth, TokenService, load_or_create_secret
from .school.chat import Chats
from .school.credits import Credits
from .school.curation import Curation
from .school.frames import Frames
from .school.history import History


class Tutor:
    """The tutor. A client's whole interface is:

    * identities: ``register``, ``sign_in``, ``identity(token)``, ``token_for``, ``identity_by_email``,
      ``set_language``, ``is_staff``;
    * explanations: ``ask``, ``stream`` (or ``follow``, paced by shared threads), ``pause``, ``resume``,
      ``snapshot`` (events in docs/architecture.md);
    * classes: ``classes``, ``create_class``, ``students``, ``join_class``; the lesson library: ``lessons``;
    * what things cost in credits: ``prices``;
    * the sub-objects ``chats``, ``history``, ``frames`` (teacher views), ``curation`` (answer library) and
      ``credits``, each typed by its protocol in ``core.interfaces``;
    * ``has_provider``, ``languages``, ``default_language``, ``token_ttl``; ``close()``;
    * reworded questions and browsing: ``match``, ``suggestions``, ``library_lessons``, ``library_subjects``,
      ``setup_hint``.

    The other attributes (``settings``, ``engine``, ``store``, ``accounts``, ``model``, ``cache``, ``explanations``,
    ``generations``, …) are the parts it is built from: tests and operators may use them, clients may not.
    """

    chats: ChatsAPI
    history: HistoryAPI
    frames: FramesAPI
    curation: CurationAPI
    credits: CreditsAPI

    def __init__(self, settings: Settings, *, model: Model | None = None):
        self.settings = settings
        logging.getLogger("core").setLevel(settings.log_level.upper())
        db.private_dir(settings.data_dir)
        if not settings.database_url:
            db.private_file(settings.data_dir / "tutor.db")
        self.engine = db.create_engine(db.database_url(settings.database_url, settings.data_dir))
        migrations.migrate(self.engine)
        self.store = open_store(settings)
        self.accounts = Accounts(self.engine, default_language=settings.default_language,
                                 starting_credits=settings.starting_credits)
        load_or_create_secret(settings)  # on first run, not at the first sign-in: every process then agrees
        self.tokens = TokenService(settings)
        self.cache = AnswerCache(self.engine)
        self.metrics = Metrics()
        self.analytics: Analytics = MeteredAnalytics(self.engine, self.metrics)
        self.limits = RateLimits(self.store, settings, self.metrics)
        self.credits = Credits(self.engine, self.metrics)
        self.model = model if model is not None else model_from_settings(settings)
        self.generations = Generations(self.store, self.cache, self.model, self.analytics, credits=self.credits,
                                       lock_ms=settings.generation_lock_ms,
                                       checker=MathChecker.shared() if settings.math_check_timeout_ms else None,
                                       check_timeout=settings.math_check_timeout_ms / 1000)
        library.install(self.cache)
        self.matcher = Matcher(self.cache, serve_score=settings.match_serve_score,
                               suggest_score=settings.match_suggest_score)
        self.explanations = Explanations(settings, self.engine, self.store, self.cache, self.generations,
                                         self.analytics, limits=self.limits, metrics=self.metrics,
                                         matcher=self.matcher)
        # SQLite takes one writer at a time: more pacing threads would only wait on its lock (see pacing.py)
        self.pacer = Pacer(shards=SHARDS if settings.redis_url else 1)  # threads start with the first ``follow``
        self.chats = Chats(self.engine, self.cache, self.model, self.analytics, limits=self.limits,
                           credits=self.credits, messages_per_credit=settings.chat_messages_per_credit)
        self.history = History(self.engine, self.explanations, self.chats, self.analytics)
        self.frames = Frames(self.engine, self.accounts, session_ttl=settings.session_ttl)
        self.curation = Curation(self.engine)
        if settings.metrics_port:
            self.metrics.serve(settings.metrics_port)  # once per process: a second tutor on the port is skipped

    # --- identities ------------------------------------------------------------------------------------------

    @property
    def uses_supabase_auth(self) -> bool:
        return bool(self.settings.supabase_url and self.settings.supabase_key)

    def register(self, email: str, password: str, *, client: str | None = None, **fields: Any) -> User:
        """Create an account. ``client`` (an IP address) counts against ``TUTOR_RATE_REGISTER``; ``None`` is for
        operators (the CLI's ``users add``) and is not limited."""
        if client is not None:
            self.limits.hit("register", client)
        if self.uses_supabase_auth:
            check_password(password, user_inputs=(str(email), str(fields.get("name", ""))))
            SupabaseAuth(self.settings).sign_up(email, password, name=fields.get("name", ""))
            return self.accounts.by_email(email) if self._has_user(email) else self.accounts.register(
                email, None, **fields)
        return self.accounts.register(email, password, **fields)

    def sign_in(self, email: str, password: str, *, client: str | None = None) -> str:
        """A fresh token for the credentials (Supabase Auth's access token in Supabase mode).

        Every attempt, right or wrong, counts against the account's window (``TUTOR_RATE_SIGNIN``) and, given a
        ``client`` (an IP address, ``"cli"``), the client's (``TUTOR_RATE_SIGNIN_CLIENT``): ``rate_limited``."""
        if client is not None:
            self.limits.hit("signin_client", client)
        self.limits.hit("signin", _account_key(email))
        if self.uses_supabase_auth:
            return SupabaseAuth(self.settings).sign_in(email, password)
        return self.token_for(self.accounts.authenticate(email, password))

    def sign_out(self, token: str) -> None:
        """Revoke every app token of the token's user (all their devices). Supabase's own tokens are not
        revoked: they stay valid until they expire."""
        claims = self.tokens.verify(token)
        if claims["provider"] == "tutor":
            self.accounts.revoke_tokens(self._user_of(claims).id)  # a revoked token cannot sign anyone out again

    def revoke(self, identity: Identity) -> None:
        """Revoke every app token of this user, whoever holds them: for operators (``users revoke``)."""
        self.accounts.revoke_tokens(identity.user_id)

    def renew(self, token: str) -> str | None:
        """A fresh app token for a valid app token past half its life; ``None`` when it is not due yet (or is a
        Supabase token, which Supabase renews). ``AuthError`` like ``identity``."""
        claims = self.tokens.verify(token)
        if claims["provider"] != "tutor":
            return None
        user = self._user_of(claims)  # a revoked token is refused, due or not
        return self.token_for(user) if time.time() >= (claims["iat"] + claims["exp"]) / 2 else None

    def token_for(self, user: User) -> str:
        return self.tokens.issue(self.identity_of(user), version=user.token_version)

    def identity(self, token: str) -> Identity:
        """The verified caller behind a token, with the role and language stored for them now."""
        return self.identity_of(self._user_of(self.tokens.verify(token)))

    def _user_of(self, claims: dict) -> User:
        """The user of verified claims; an app token must carry the user's current token version."""
        try:
            user = self.accounts.get(claims["sub"])
        except NotFound:
            if claims.get("provider") != "supabase":
                raise AuthError("auth_invalid") from None
            user = self.accounts.register(claims["email"], None, role="student", user_id=claims["sub"])
        if claims["provider"] == "tutor" and claims["ver"] != user.token_version:
            raise AuthError("auth_invalid")  # revoked by a sign-out or `users revoke`
        return user

    @staticmethod
    def identity_of(user: User) -> Identity:
        return Identity(user_id=user.id, email=user.email, role=user.role, name=user.name, language=user.language)

    def identity_by_email(self, email: str) -> Identity:
        """Act as an existing user without their password: for operators (the CLI, notebooks, benchmarks)."""
        return self.identity_of(self.accounts.by_email(email))

    def set_language(self, identity: Identity, language: str) -> None:
        """Remember the interface language the caller picked (``invalid_language`` if not one of ``languages``)."""
        self.accounts.set_language(identity.user_id, language)

    @staticmethod
    def is_staff(identity: Identity) -> bool:
        """A teacher or an admin: may see the teacher views and the answer library."""
        return authorization.is_staff(identity)

    def _has_user(self, email: str) -> bool:
        try:
            self.accounts.by_email(email)
            return True
        except NotFound:
            return False

    # --- explanations and chat (thin pass-throughs, so callers need one object) ------------------------------

    def ask(self, identity: Identity, question: str, **context: Any) -> dict:
        """Start an explanation. ``fresh=True`` asks for a new generation even when an answer is stored (costs a
        credit; ``fresh_unavailable`` without a provider): the stored answer stays, the new one is kept beside it.
        ``stored_only=True`` serves only a stored answer (a lesson, a cached one): otherwise ``Conflict("not_stored")``
        before anything is written, limited or charged (a page then takes the usual path)."""
        return self.explanations.start(identity, question, **context)

    def stream(self, identity: Identity, session_id: str, **kwargs: Any):
        return self.explanations.stream(identity, session_id, **kwargs)

    def follow(self, identity: Identity, session_id: str, *, deliver: Deliver, reader: str | None = None) -> Following:
        """``stream``'s events paced by the process's shared pacer instead of the caller's thread: the start runs
        here, then ``deliver(items, end)`` gets each batch from a pacer thread (a ``TutorError`` among the items
        ends it) and ``end=True`` exactly once. ``.cancel()`` on the result stops the reader (a client that left)."""
        return self.pacer.follow(self.explanations.steps(identity, session_id, reader=reader), deliver)

    def watch(self, session_id: str, seconds: float) -> int:
        """Mark a session as watched by a live client for ``seconds`` (any process sees it; the caller checked the
        client may see the session). Returns the mark's position: the session's cursor (a global character
        position) read before it was first marked. See api/watching.py."""
        name, ttl_ms = _watch_name(session_id), round(seconds * 1000)
        for _ in range(3):  # a mark that lapses between two calls is set again
            current = self.store.holder(name)
            if current and self.store.refresh(name, current, ttl_ms):
                return int(current.split(":")[0])
            state = self.store.get_session(session_id, self.settings.session_ttl) or {}
            position = int(state.get("position") or 0)
            if self.store.acquire(name, f"{position}:{uuid.uuid4().hex}", ttl_ms):
                return position
        return 0

    def watched(self, session_ids: list[str]) -> dict[str, int]:
        """The sessions among these that are marked as watched now, with their marks' positions (one store call)."""
        held = self.store.held([_watch_name(s) for s in session_ids])
        return {s: int(held[_watch_name(s)].split(":")[0]) for s in session_ids if _watch_name(s) in held}

    def pause(self, identity: Identity, session_id: str, *, at: tuple[int, int] | None = None) -> dict:
        """Pause the explanation; ``at`` = ``(step, position)``: back at the character the student saw (a client
        that received more than it showed), never forward."""
        self.limits.check(identity, "pause")  # pauses and resumes share TUTOR_RATE_PAUSE
        return self.explanations.pause(identity, session_id, at=at)

    def resume(self, identity: Identity, session_id: str) -> dict:
        self.limits.check(identity, "pause")
        return self.explanations.resume(identity, session_id)

    def snapshot(self, identity: Identity, session_id: str) -> dict:
        return self.explanations.snapshot(identity, session_id)

    # --- classes and lessons ----------------------------------------------------------------------------------

    def classes(self, identity: Identity) -> list[Class]:
        """The classes a teacher owns (all of them for an admin), or a student belongs to."""
        return self.accounts.classes_of(self.accounts.get(identity.user_id))

    def create_class(self, identity: Identity, name: str) -> Class:
        """A new class with a fresh join code, taught by the caller (a teacher or an admin)."""
        return self.accounts.create_class(self.accounts.get(identity.user_id), name)

    def students(self, identity: Identity, class_id: str) -> list[User]:
        """The class's members, by email: for its teacher or an admin."""
        return [u for u in self.accounts.students_of(self.accounts.get(identity.user_id), class_id)
                if u.role == "student"]

    def join_class(self, identity: Identity, code: str) -> Class:
        """Join the class with this code, as a student: ``unknown_class`` for a code no class has,
        ``already_member`` for a class the student is in, ``join_students_only`` for a teacher or an admin."""
        user = self.accounts.get(identity.user_id)
        if user.role != "student":
            raise Forbidden("join_students_only")
        self.limits.hit("register", f"join:{identity.user_id}")  # a code is short: guessing one is limited like sign-ups
        return self.accounts.join_class(user, code, again_is_error=True)

    @property
    def prices(self) -> dict[str, int]:
        """What costs credits: ``explanation`` (a newly generated one; stored answers and lessons are free) and
        ``chat_messages_per_credit`` (0: chat is free)."""
        return {"explanation": 1, "chat_messages_per_credit": self.settings.chat_messages_per_credit}

    @staticmethod
    def lessons(language: str | None = None) -> list[library.Lesson]:
        """The curated lessons (each a question and its answer), in one language or all."""
        return [lesson for lesson in library.load_lessons()
                if language is None or lesson.question.language == language]

    # --- about this tutor ---------------------------------------------------------------------------------------

    @property
    def has_provider(self) -> bool:
        """Whether an AI model is configured (without one, only stored answers are served and chat is off)."""
        return self.model is not None

    @property
    def languages(self) -> tuple[str, ...]:
        return LANGUAGES

    @property
    def default_language(self) -> str:
        return self.settings.default_language

    @property
    def token_ttl(self) -> int:
        """How long a sign-in token lasts, in seconds."""
        return int(self.settings.jwt_ttl)

    def close(self) -> None:
        self.metrics.stop()
        self.pacer.close()
        self.explanations.cursors.close()
        self.generations.wait()
        self.store.close()
        self.engine.dispose()

    def __enter__(self) -> "Tutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- service checks (added for the API's /health) ----------------------------------------------------------

    def health(self) -> dict[str, bool]:
        """Whether the database and the session store answer now: ``{"database": bool, "store": bool}``."""
        checks = {}
        for name, probe in (("database", self._ping_database), ("store", self.store.ping)):
            try:
                probe()
                checks[name] = True
            except Exception:  # any failure means "not answering"; the log has the reason
                logging.getLogger(__name__).warning("health check of the %s failed", name, exc_info=True)
                checks[name] = False
        return checks

    def _ping_database(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("select 1")


    # --- reworded questions and the library browser ---------------------------------------------------------------

    def match(self, question: str) -> dict | None:
        """The stored answer a question would be served without a generation, and how it was decided
        (``exact``/``canonical``/``similar``): ``{"how", "score", "question_hash", "question", "language"}`` or None."""
        limit = self.settings.max_question_chars
        exact = next((found for language in self.languages
                      if (found := self.cache.lookup(prepare(question, language=language, limit=limit).hash))), None)
        if exact:
            return {"how": "exact", "score": 100.0, "question_hash": exact.question_hash,
                    "question": exact.question, "language": exact.language}
        found = self.matcher.serve(question)
        return found and {"how": found.how, "score": found.score, "question_hash": found.entry.question_hash,
                          "question": found.entry.title, "language": found.entry.answer_language}

    def suggestions(self, question: str, language: str | None = None) -> list[dict]:
        """Stored answers close to a question ("did you mean…?"), best first: ``{"title", "ask", "language",
        "subject", "score", "near"}`` — ``near`` when similar enough to be served but for a guard or the language
        (then a page offers it before spending a credit on a generation); ``title`` in ``language`` when the lesson has a phrasing in it, ``ask`` the text that opens it."""
        return [_offer(self.matcher, entry.question_hash, entry.title, entry.answer_language, entry.subject, language)
                | {"score": round(score, 1), "near": score >= self.matcher.serve_score} for entry, score in self.matcher.suggestions(question)]

    def library_lessons(self, language: str | None = None, subject: str = "", query: str = "") -> list[dict]:
        """The lesson library to browse, like ``suggestions``; filtered by subject and by words of ``query``
        (typos forgiven) in any phrasing."""
        lessons = [lesson for lesson in library.load_lessons() if not subject or lesson.subject == subject]
        found = library.search(lessons, query) if query.strip() else lessons
        return [_offer(self.matcher, lesson.question.hash, lesson.question.text, lesson.question.language,
                       lesson.subject, language) for lesson in found]

    @staticmethod
    def library_subjects() -> list[str]:
        """The subjects of the lesson library, in library order."""
        return list(dict.fromkeys(lesson.subject for lesson in library.load_lessons()))

    def setup_hint(self, identity: Identity) -> str | None:
        """For an admin of a tutor without a provider: how to configure one (never shown to students)."""
        if self.has_provider or not authorization.is_admin(identity):
            return None
        return t("ai_setup_hint", identity.language)


def _watch_name(session_id: str) -> str:
    return f"watch:{session_id}"


def _account_key(email: Any) -> str:
    """The sign-in window's key for an email as typed: its normalised form, or the raw text if it is invalid."""
    try:
        return normalize_email(email)
    except InvalidInput:
        return str(email).strip().lower()[:254]


def _offer(matcher: Matcher, question_hash: str, title: str, answer_language: str, subject: str,
           language: str | None) -> dict:
    return {"title": matcher.phrasing(question_hash, language) or title if language else title, "ask": title,
            "language": answer_language, "subject": subject}


def create_tutor(overrides: Mapping[str, Any] | None = None, *, secrets: Mapping[str, Any] | None = None,
                 env_file: str | None = ".env", environ: Mapping[str, str] | None = None,
                 model: Model | None = None) -> Tutor:
    """Build the tutor from settings: ``create_tutor({"TUTOR_DATA_DIR": tmp})`` in a test, ``create_tutor()`` in
    the app."""
    return Tutor(Settings.load(overrides, environ=environ, env_file=env_file, secrets=secrets), model=model)
