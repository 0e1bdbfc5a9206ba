"""What the app puts around Streamlit's own page: the document's language and its own "page not found".

Streamlit serves ``<html lang="en">`` whatever the interface language, and answers an unknown page URL with an
English "Page not found" dialog. A tiny script (in a hidden ``st.html`` element, rendered again only when the
language changes) sets ``document.documentElement.lang``; an unknown page name is registered for this run as a
hidden page that shows the app's own message in the user's language, so Streamlit's dialog never opens.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote, urlparse

import streamlit as st

# What Streamlit accepts as a ``url_path`` and a browser sends unescaped: anything else keeps Streamlit's dialog.
_PAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def set_document_language(lang: str) -> None:
    """``<html lang>`` follows the interface language (screen readers and the browser's translate offer read it)."""
    with st.container(key="document_lang"):
        st.html(f"<script>document.documentElement.lang = {json.dumps(lang)};</script>",
                unsafe_allow_javascript=True)


def with_not_found_page(pages: list, who) -> list:
    """``pages`` plus, when the URL asks for a page that is not among them, a hidden page under that name that
    says so (in the user's language) and links home."""
    name = _requested_page_name()
    known = {page.url_path for page in pages}
    if not name or name in known or not _PAGE_NAME.fullmatch(name):
        return pages

    def not_found() -> None:
        st.warning(who.t("page_not_found"), icon=":material/explore_off:")
        # pages_for lists the default page first
        st.page_link(pages[0], label=who.t("go_home_page"), icon=":material/home:")

    return pages + [st.Page(not_found, title=who.t("page_not_found_title"), url_path=name, visibility="hidden")]


def _requested_page_name() -> str | None:
    """The page part of the browser's URL (after ``server.baseUrlPath``), or None for the main page."""
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
