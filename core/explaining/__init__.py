"""Explaining a question: the answer cache, generation through a model, and the explanation reader that paces,
pauses and resumes a session.

Imports: ``core.content``, ``core.platform`` and ``core.errors``.
"""
