"""Streamlit plumbing shared by the pages (no tutoring logic: that lives in ``core``)."""
