"""Per-run plumbing shared by the pages: the tutor, who is signed in, the login cookie, language, navigation.

No tutoring logic here: everything the tutor decides lives in ``core`` (reached through one ``Tutor``); this module
only wires Streamlit to it.

Login: the app's token (a JWT) is kept in ``st.session_state`` for this tab and in a ``SameSite=Strict`` cookie
for reloads. Streamlit gives the request's cookies as ``st.context.cookies`` but cannot set one, so a tiny
script in an ``st.html`` element writes ``document.cookie`` (it is rendered on every run until the browser's
cookie matches, then not at all). A cookie written by a script cannot be ``HttpOnly``; what compensates: the token
lives ``TUTOR_JWT_TTL`` (1 h by default) and is renewed on the runs of an active user, and signing out revokes
every token of the user. The token is verified with ``tutor.identity`` on every run.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from core import LANGUAGES, SETTINGS, Identity, Tutor, create_tutor
from core.errors import AuthError, TutorError
from ui.render import plain_markdown
from ui.texts import t

COOKIE = "tutor_token"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}
PAGE_FILES = {"login": "app_pages/login.py", "ask": "app_pages/ask.py", "chat": "app_pages/chat.py",
              "history": "app_pages/history.py", "teacher": "app_pages/teacher.py"}
PAGE_ICONS = {"login": ":material/login:", "ask": ":material/lightbulb:", "chat": ":material/forum:",
              "history": ":material/history:", "teacher": ":material/school:"}
# Session-state keys that survive a sign-out (everything else belongs to the user who signed out).
_KEEP_ON_SIGN_OUT = ("reader", "lang", "dead_cookie", "notice")

_SETTING_NAMES = frozenset(s.name for s in SETTINGS)
log = logging.getLogger("ui")


# --- the tutor -------------------------------------------------------------------------------------------------

def _secrets() -> dict:
    """``st.secrets`` as a plain dict of top-level values (empty when there is no secrets file)."""
    try:
        return {k: v for k, v in st.secrets.to_dict().items() if not isinstance(v, Mapping)}
    except Exception:  # no secrets.toml: Streamlit raises
        return {}


@st.cache_resource(show_spinner=False)
def _build_tutor(_environment_key: tuple):
    return create_tutor(secrets=_secrets())


def get_tutor():
    """The process's tutor, built once from settings (keyed on the settings in the environment, so tests that
    point ``TUTOR_DATA_DIR`` somewhere else get their own)."""
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k in _SETTING_NAMES))
    return _build_tutor(key)


def show_failure(error: TutorError) -> None:
    """The message of an error no page handled (the tutor could not even be built when the database is down)."""
    language = st.session_state.get("lang") or _browser_language() or "es"
    st.error(error.message_for(language), icon=":material/error:")


# --- who is here -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Who:
    tutor: Tutor
    identity: Identity | None
    lang: str

    @property
    def signed_in(self) -> bool:
        return self.identity is not None

    @property
    def is_teacher(self) -> bool:
        return self.identity is not None and self.tutor.is_staff(self.identity)

    def t(self, key: str, **params) -> str:
        return t(key, self.lang, **params)

    def message(self, error: TutorError) -> str:
        return error.message_for(self.lang)


def request_cookie() -> str | None:
    """The login cookie sent with the page request (fixed for the life of the tab's connection)."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def _browser_language() -> str | None:
    try:
        locale = st.context.locale
    except Exception:
        return None
    locale = locale.lower() if isinstance(locale, str) else ""
    language = locale.split("-")[0]
    return language if language in LANGUAGES else None


def resolve(tutor) -> Who:
    """Who is using this tab now; called once per run, before anything is drawn."""
    ss = st.session_state
    ss.setdefault("reader", uuid.uuid4().hex)
    token = ss.get("token")
    if not token:
        cookie = request_cookie()
        if cookie and cookie != ss.get("dead_cookie"):
            token = cookie
    identity = None
    if token:
        try:
            identity = tutor.identity(token)
            ss["token"] = tutor.renew(token) or token
        except AuthError as error:
            _forget_user()
            ss["dead_cookie"] = token
            ss["notice"] = ("warning", error.code)
        except TutorError as error:
            st.error(error.message_for(ss.get("lang") or tutor.default_language))
            st.stop()
    if identity is not None:
        if ss.get("lang_owner") != identity.user_id:
            ss["lang_owner"] = identity.user_id
            ss["lang"] = identity.language
        lang = identity.language
    else:
        lang = ss.get("lang") or _browser_language() or tutor.default_language
        ss["lang"] = lang
    who = Who(tutor=tutor, identity=identity, lang=lang)
    ss["_who"] = who
    return who


def reader_for_this_run() -> str:
    """The reader id for one run's streaming loop: this tab's id plus a fresh suffix.

    With ``runner.fastReruns`` a click starts the new run while the old one is still winding down, in another
    thread. A fresh reader per run makes core hand the session to the new run at once (the old loop's next
    conditional write fails), instead of letting two loops of the same tab race for the next chunk.
    """
    return f"{st.session_state['reader']}.{uuid.uuid4().hex[:8]}"


def who() -> Who:
    """The ``Who`` that ``streamlit_app.py`` resolved for this run."""
    return st.session_state["_who"]


def sign_in(token: str) -> None:
    ss = st.session_state
    _forget_user()
    ss["token"] = token
    ss.pop("notice", None)


def client_address() -> str:
    """The client key for sign-in and registration limits: the connection's IP address, ``"local"`` on localhost
    (Streamlit gives no address there). Behind a proxy every user shares the proxy's address."""
    try:
        address = st.context.ip_address
    except Exception:
        address = None
    return address if isinstance(address, str) and address else "local"


def sign_out() -> None:
    """Revoke every token of the user (all their devices), forget them in this tab and drop the browser's cookie."""
    ss = st.session_state
    me = ss.get("_who")
    if me is not None and ss.get("token"):
        try:
            me.tutor.sign_out(ss["token"])
        except TutorError:
            pass  # already invalid: nothing left to revoke
    ss["dead_cookie"] = request_cookie() or ss.get("token")
    _forget_user()
    ss["notice"] = ("info", "signed_out")
    st.query_params.clear()


def _forget_user() -> None:
    ss = st.session_state
    for key in list(ss.keys()):
        if key not in _KEEP_ON_SIGN_OUT:
            del ss[key]


def sync_cookie(who: Who) -> None:
    """Make the browser's login cookie match this tab's sign-in (no-op once it does)."""
    want = st.session_state.get("token") if who.signed_in else None
    have = request_cookie()
    if want == have or (not want and not have):
        return
    secure = "; Secure" if _is_https() else ""
    if want:
        ttl = who.tutor.token_ttl
        cookie = f"{COOKIE}={want}; Max-Age={ttl}; Path=/; SameSite=Strict{secure}"
    else:
        cookie = f"{COOKIE}=; Max-Age=0; Path=/; SameSite=Strict{secure}"
    with st.container(key="cookie_sync"):
        st.html(f"<script>document.cookie = {json.dumps(cookie)};</script>", unsafe_allow_javascript=True)


def _is_https() -> bool:
    try:
        url = st.context.url
    except Exception:
        return False
    return isinstance(url, str) and url.startswith("https://")


# --- the error boundary ------------------------------------------------------------------------------------------

@contextmanager
def error_boundary():
    """Around a whole run: a ``TutorError`` shows its own message; anything unexpected shows a friendly message
    with a short reference id, logged with the traceback, so no traceback ever reaches a page. (Streamlit's
    ``st.stop``/``st.rerun``/``st.switch_page`` are not ``Exception``s and pass through.)"""
    try:
        yield
    except TutorError as error:
        st.error(error.message_for(_language_now()), icon=":material/error:")
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("page failed [ref %s]", ref)
        st.error(t("page_crashed", _language_now(), ref=ref), icon=":material/error:")


def _language_now() -> str:
    language = st.session_state.get("lang") or _browser_language()
    return language if language in LANGUAGES else "es"


# --- navigation and the sidebar ----------------------------------------------------------------------------------

def _not_allowed() -> None:
    me = who()
    st.warning(me.t("page_not_allowed"), icon=":material/block:")
    st.page_link(PAGE_FILES["ask"], label=me.t("go_home"), icon=PAGE_ICONS["ask"])


def _to_home() -> None:
    st.switch_page(PAGE_FILES["ask"])


def pages_for(who: Who) -> list:
    """The pages this user may see. The other known URLs are registered hidden, as a sign-in form (signed out) or
    a "not available" notice, so opening one never shows another role's page nor a "page not found" modal that
    leaves the app inert."""

    def page(name: str, **kwargs):
        return st.Page(PAGE_FILES[name], title=who.t(f"page_{name}"), icon=PAGE_ICONS[name], url_path=name, **kwargs)

    def hidden(target, name: str):
        return st.Page(target, title=who.t(f"page_{name}"), url_path=name, visibility="hidden")

    if not who.signed_in:
        return [page("login", default=True)] + [hidden(PAGE_FILES["login"], name)
                                               for name in ("ask", "chat", "history", "teacher")]
    pages = [page("ask", default=True), page("chat"), page("history")]
    pages.append(page("teacher") if who.is_teacher else hidden(_not_allowed, "teacher"))
    pages.append(hidden(_to_home, "login"))
    return pages


def sidebar(who: Who) -> None:
    with st.sidebar:
        if who.signed_in:
            me = who.identity
            st.markdown(f"**{_plain(me.name or me.email)}**")
            st.caption(" · ".join(([_plain(me.email)] if me.name else []) + [who.t("role_" + me.role)]))
            credits_panel(who)
            if me.role == "student":
                classes_panel(who)
        # One widget per user (and one for signed-out visitors), so a sign-in never inherits the picker's value.
        key = f"ui_lang_{who.identity.user_id if who.signed_in else 'visitor'}"
        st.segmented_control(who.t("language"), options=list(LANGUAGES), format_func=LANGUAGE_NAMES.get,
                             key=key, default=who.lang, required=True, on_change=_language_changed, args=(key,))
        if who.signed_in:
            st.button(who.t("sign_out"), key="logout", icon=":material/logout:", on_click=sign_out)


def credits_panel(who: Who) -> None:
    """The caller's credits and what things cost; a page that spends credits redraws it (``show_credits``)."""
    with st.container(key="sidebar_credits"):
        st.session_state["_credits_slot"] = st.empty()
    show_credits(who)


def show_credits(who: Who) -> None:
    slot = st.session_state.get("_credits_slot")
    if slot is None:
        return
    tutor, prices = who.tutor, who.tutor.prices
    with slot.container():
        st.markdown(f":material/toll: {who.t('credits_left', count=tutor.credits.balance(who.identity))}")
        chat = prices["chat_messages_per_credit"]
        st.caption(who.t("credits_prices", generation=prices["explanation"], chat=chat) if chat
                   else who.t("credits_prices_free_chat", generation=prices["explanation"]))


def classes_panel(who: Who) -> None:
    """A student's classes, and joining one with a code."""
    classes = who.tutor.classes(who.identity)
    if classes:
        st.caption(who.t("your_classes", names=", ".join(_plain(c.name) for c in classes)))
    with st.popover(who.t("join_class"), icon=":material/group_add:", key="join_class_popover"):
        with st.form("join_class_form", border=False):
            st.text_input(who.t("join_class_code"), key="join_class_code", max_chars=16)
            st.form_submit_button(who.t("join_class_submit"), key="join_class_submit", on_click=_join_class)
    notice = st.session_state.pop("join_class_notice", None)
    if notice:
        kind, text = notice
        getattr(st, kind)(text)


def _join_class() -> None:
    ss = st.session_state
    me = ss["_who"]
    try:
        klass = me.tutor.join_class(me.identity, ss.get("join_class_code") or "")
    except TutorError as error:
        ss["join_class_notice"] = ("error", me.message(error))
    else:
        ss["join_class_notice"] = ("success", me.t("joined_class", name=_plain(klass.name)))
        ss["join_class_code"] = ""


def _language_changed(key: str) -> None:
    ss = st.session_state
    language = ss.get(key)
    if language not in LANGUAGES:
        return
    ss["lang"] = language
    me = ss.get("_who")
    if me is not None and me.identity is not None:
        try:
            me.tutor.set_language(me.identity, language)
        except TutorError as error:
            ss["notice"] = ("error", error.code)


def show_notice(who: Who) -> None:
    """A one-off message left by the previous run (signed out, session expired, …)."""
    notice = st.session_state.pop("notice", None)
    if notice:
        kind, code = notice
        text = who.t(code) if code == "signed_out" else TutorError(code).message_for(who.lang)
        getattr(st, kind)(text)


def _plain(text: str) -> str:
    return plain_markdown(text)


# No colours here: the light and dark themes live in .streamlit/config.toml, and everything below inherits them.
# The active tab and segmented-control option are labelled in the text colour (the brand colour marks them with a
# line), because a blue that carries white button labels is too dim for small text on the dark background.
# Streamlit's "Press Enter to apply" hints are English only, so they are hidden.
STYLE = """
<style>
.st-key-cookie_sync, .st-key-document_lang { display: none; }
[data-testid="stTab"][aria-selected="true"],
[data-testid="stButtonGroup"] button[data-variant="segmented_control"][aria-checked="true"] { color: inherit; }
[data-testid="InputInstructions"] { display: none; }
.stMainBlockContainer { padding-top: 3rem; }
div[data-testid="stColumn"]:has(> div > div > .st-key-canvas),
div[data-testid="stColumn"]:has(.st-key-canvas) { position: sticky; top: 3.75rem; align-self: flex-start; }
.st-key-canvas svg { width: 100%; height: auto; }
.st-key-explanation [data-testid="stCaptionContainer"] { margin-top: -0.6rem; }
</style>
"""


def style() -> None:
    st.html(STYLE)
