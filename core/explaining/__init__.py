"""Explaining a question: validation and matching, the answer cache, generation through a model, and the
explanation reader that paces, pauses and resumes a session.
"""
