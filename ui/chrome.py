"""What the app puts around Streamlit's own page: the document's language and the page the URL names.

Streamlit serves ``<html lang="en">`` whatever the interface language, and answers a page URL it cannot match with
an English "Page not found" dialog. A tiny script (in a hidden ``st.html`` element, rendered again only when the
language changes) sets ``document.documentElement.lang``; ``with_requested_page`` makes every page URL find a page
(see there), so Streamlit's dialog never opens.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlparse

import streamlit as st

from ui.app import PAGE_FILES, PAGE_ICONS, Who

# What Streamlit accepts as a ``url_path`` and a browser sends unescaped: anything else keeps Streamlit's dialog.
_PAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def set_document_language(lang: str) -> None:
    """``<html lang>`` follows the interface language (screen readers and the browser's translate offer read it)."""
    with st.container(key="document_lang"):
        st.html(f"<script>document.documentElement.lang = {json.dumps(lang)};</script>",
                unsafe_allow_javascript=True)


def with_requested_page(pages: list, who: Who) -> list:
    """``pages`` (from ``pages_for``: the home page first, as the default) adjusted so the URL's page is found.

    * An unknown name gets a hidden page under that name that says so in the user's language and links home.
    * The home page's own name (``/ask`` after a reload): Streamlit serves the default page only at the root and
      answers its name with "Page not found", so for this run the home page is registered under its name and a
      hidden copy of it is the root's default. A page's identity is its name, so links and the sidebar still match.
    """
    name = _requested_page_name()
    home = "ask" if who.signed_in else "login"  # the default page of pages_for
    if name == home:
        copy = st.Page(PAGE_FILES[home], title=who.t(f"page_{home}"), url_path=f"{home}_home", default=True,
                       visibility="hidden")
        named = st.Page(PAGE_FILES[home], title=who.t(f"page_{home}"), icon=PAGE_ICONS[home], url_path=home)
        return [copy, named] + pages[1:]
    if not name or name in PAGE_FILES or name in {page.url_path for page in pages} or not _PAGE_NAME.fullmatch(name):
        return pages

    def not_found() -> None:
        st.warning(who.t("page_not_found"), icon=":material/explore_off:")
        st.page_link(pages[0], label=who.t("go_home_page"), icon=":material/home:")

    return pages + [st.Page(not_found, title=who.t("page_not_found_title"), url_path=name, visibility="hidden")]


def _requested_page_name() -> str | None:
    """The page part of the browser's URL (after ``server.baseUrlPath``), or None for the root."""
    try:
        url = st.context.url
    except Exception:
        return None
    if not isinstance(url, str) or not url:
        return None
    path = unquote(urlparse(url).path).strip("/")
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):].strip("/")
    return path or None
