"""The tutor's web app: thin Streamlit pages over ``core``, and the API on the same port.

``streamlit run streamlit_app.py`` finds the ``st.App`` below and serves it with uvicorn: the pages (this same
file, run by Streamlit for every session as ``__main__``) plus ``/api`` (REST + SSE), ``/socket.io`` and ``/tutor-static`` (the live explanation's JavaScript and CSS).

Every page run: find the tutor (built once per process), verify who is signed in (session or login cookie),
register only the pages that user may see, draw the sidebar, then run the page the URL asks for; an unexpected
error shows a friendly message with a reference id instead of a traceback.
"""
import streamlit as st

if __name__ == "__main__":  # a page run
    from ui import app as ui
    from ui import chrome

    st.set_page_config(page_title="Tutor", page_icon=":material/school:", layout="wide")
    with ui.error_boundary():
        who = ui.resolve(ui.get_tutor())
        ui.style()
        chrome.set_document_language(who.lang)
        navigation = st.navigation(chrome.with_requested_page(ui.pages_for(who), who), position="sidebar")
        ui.sidebar(who)
        ui.sync_cookie(who)
        navigation.run()
else:  # imported by `streamlit run` (uvicorn) as the ASGI application
    import api
    from core import Settings
    from ui.app import get_tutor
    from ui.live import static_route

    app = st.App(__file__, routes=[*api.routes(get_tutor, Settings.load()), static_route()])
