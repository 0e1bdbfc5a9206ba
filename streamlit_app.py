"""The tutor's web app: thin Streamlit pages over ``core`` (run with ``streamlit run streamlit_app.py``).

Every run: find the tutor (built once per process), verify who is signed in (session or login cookie), register
only the pages that user may see, draw the sidebar, then run the page the URL asks for; an unexpected
error shows a friendly message with a reference id instead of a traceback.
"""
import streamlit as st

from ui import app

st.set_page_config(page_title="Tutor", page_icon=":material/school:", layout="wide")

with app.error_boundary():
    who = app.resolve(app.get_tutor())
    app.style()
    navigation = st.navigation(app.pages_for(who), position="sidebar")
    app.sidebar(who)
    app.sync_cookie(who)
    navigation.run()
