"""The tutor's web app: thin Streamlit pages over ``core`` (run with ``streamlit run streamlit_app.py``).

Every run: find the tutor (built once per process), verify who is signed in (session or login cookie), register
only the pages that user may see, draw the sidebar, then run the page the URL asks for.
"""
import streamlit as st

from core import TutorError
from ui import app

st.set_page_config(page_title="Tutor", page_icon=":material/school:", layout="wide")

try:
    who = app.resolve(app.get_tutor())
    app.style()
    navigation = st.navigation(app.pages_for(who), position="sidebar")
    app.sidebar(who)
    app.sync_cookie(who)
    navigation.run()
except TutorError as error:  # e.g. the database is down: say so in the reader's language, never a traceback
    app.show_failure(error)
