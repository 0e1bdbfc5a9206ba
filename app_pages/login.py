"""Sign in or create an account (optionally joining a class with its code)."""
import streamlit as st

from core.errors import TutorError
from ui import app

me = app.who()
tutor = me.tutor

_, middle, _ = st.columns([1, 3, 1])
with middle:
    st.title(me.t("login_title"), anchor=False)
    st.caption(me.t("login_intro"))
    app.show_notice(me)
    sign_in_tab, register_tab = st.tabs([me.t("tab_sign_in"), me.t("tab_register")])

    with sign_in_tab:
        with st.form("login_form", border=False):
            email = st.text_input(me.t("email"), key="login_email", autocomplete="email")
            password = st.text_input(me.t("password"), type="password", key="login_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button(me.t("sign_in"), key="login_submit", type="primary",
                                              icon=":material/login:")
        if submitted:
            try:
                token = tutor.sign_in(email, password, client=app.client_address())
            except TutorError as error:
                st.error(me.message(error), icon=":material/error:")
            else:
                app.sign_in(token)
                st.rerun()

    with register_tab:
        with st.form("register_form", border=False):
            new_email = st.text_input(me.t("email"), key="register_email", autocomplete="email")
            name = st.text_input(me.t("name"), key="register_name", autocomplete="name")
            new_password = st.text_input(me.t("password"), type="password", key="register_password",
                                         help=me.t("password_rule"), autocomplete="new-password")
            code = st.text_input(me.t("class_code"), key="register_code", help=me.t("class_code_help"))
            created = st.form_submit_button(me.t("register"), key="register_submit", type="primary",
                                            icon=":material/person_add:")
        if created:
            try:
                tutor.register(new_email, new_password, name=name, language=me.lang,
                               class_code=code.strip() or None, client=app.client_address())
                token = tutor.sign_in(new_email, new_password, client=app.client_address())
            except TutorError as error:
                st.error(me.message(error), icon=":material/error:")
            else:
                app.sign_in(token)
                st.rerun()
