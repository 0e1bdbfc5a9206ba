"""A few questions from the lesson library, offered as one-click examples on an empty Ask page."""
from __future__ import annotations

import streamlit as st

from ui import app

PER_LANGUAGE = 4


@st.cache_data(show_spinner=False)
def example_questions(language: str) -> list[str]:
    return [lesson.question.text for lesson in app.get_tutor().lessons(language)][:PER_LANGUAGE * 3:3]


def show(who, *, on_pick) -> None:
    questions = example_questions(who.lang)
    if not questions:
        return
    st.caption(who.t("examples"))
    with st.container(horizontal=True, key="examples"):
        for number, text in enumerate(questions):
            st.button(text, key=f"example_{number}", icon=":material/lightbulb:", on_click=on_pick, args=(text,))
