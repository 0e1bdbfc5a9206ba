"""The teacher's page (a placeholder for now): their classes with join codes, and a form to create one."""
from __future__ import annotations

import streamlit as st

from core.errors import TutorError
from core.render import plain_markdown
from ui import app

me = app.who()
tutor = me.tutor


def main() -> None:
    if not me.is_teacher:  # never registered for other roles; belt and braces
        st.warning(me.t("page_not_allowed"))
        return
    user = tutor.accounts.get(me.identity.user_id)
    st.title(me.t("teacher_title"), anchor=False)
    st.caption(me.t("teacher_soon"))

    with st.form("class_form", border=False, clear_on_submit=True):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            name = st.text_input(me.t("class_name"), key="class_name", max_chars=120)
            created = st.form_submit_button(me.t("create_class"), key="class_create", icon=":material/add:")
    if created:
        try:
            klass = tutor.accounts.create_class(user, name)
        except TutorError as error:
            st.error(me.message(error), icon=":material/error:")
        else:
            st.success(me.t("class_created", code=klass.join_code), icon=":material/check_circle:")

    classes = tutor.accounts.classes_of(user)
    with st.container(key="class_list"):
        if not classes:
            st.info(me.t("teacher_no_classes"), icon=":material/group_add:")
        for klass in classes:
            with st.container(border=True, key=f"class_{klass.id}"):
                left, right = st.columns([3, 1], vertical_alignment="center")
                students = tutor.accounts.students_of(user, klass.id)
                left.markdown(f"**{plain_markdown(klass.name)}**")
                left.caption(me.t("students_count", n=len(students)))
                right.caption(me.t("join_code"))
                right.code(klass.join_code, language=None)


main()
