"""People and their school: accounts, tokens, credits, chat, history, curation and the teacher's frames.

Imports: ``core.explaining``, ``core.content``, ``core.platform`` and ``core.errors``.
"""
