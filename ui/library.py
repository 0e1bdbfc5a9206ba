"""The lesson library on the Ask page: "did you mean…?" after a miss, and browsing by subject or words."""
from __future__ import annotations

import streamlit as st


def _label(who, offer: dict) -> str:
    if offer["language"] != who.lang:
        return f"{offer['title']} ({who.t('lesson_in_' + offer['language'])})"
    return offer["title"]


def offers(who, items: list[dict], *, on_pick, key: str) -> None:
    """One button per lesson; a click asks the lesson's own question."""
    for number, offer in enumerate(items):
        st.button(_label(who, offer), key=f"{key}_{number}", icon=":material/menu_book:", on_click=on_pick,
                  args=(offer["ask"],))


def show_miss(who, question: str, *, on_pick) -> None:
    """A miss without a provider: a friendly sentence, the nearest lessons, and for an admin how to set one up."""
    tutor = who.tutor
    st.info(who.t("miss_friendly"), icon=":material/travel_explore:")
    nearest = tutor.suggestions(question, who.lang)
    if nearest:
        st.markdown(f"**{who.t('did_you_mean')}**")
        offers(who, nearest, on_pick=on_pick, key="nearest")
    hint = tutor.setup_hint(who.identity)
    if hint:
        st.caption(hint)


def show_near_miss(who, question: str, nearest: list[dict], *, on_pick, on_generate) -> None:
    """A near miss with a provider: offer the lesson before spending a credit on a new explanation."""
    with st.container(border=True, key="near_miss"):
        st.markdown(f"**{who.t('did_you_mean')}**")
        offers(who, nearest, on_pick=on_pick, key="near")
        st.button(who.t("generate_anyway"), key="generate_anyway", icon=":material/auto_awesome:",
                  on_click=on_generate, args=(question,))


def browser(who, *, on_pick) -> None:
    """Browse and search the whole library by subject, in the student's language."""
    tutor = who.tutor
    with st.expander(who.t("lessons_title"), icon=":material/local_library:"):
        subjects = [""] + tutor.library_subjects()
        left, right = st.columns([1, 2])
        subject = left.selectbox(who.t("library_subject"), subjects, key="library_subject",
                                 format_func=lambda s: who.t("subject_" + s) if s else who.t("lessons_all"))
        query = right.text_input(who.t("lessons_search"), key="library_query")
        found = tutor.library_lessons(who.lang, subject, query)
        if not found:
            st.caption(who.t("library_empty"))
        offers(who, found, on_pick=on_pick, key="lesson")
