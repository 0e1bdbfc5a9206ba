"""What a question and an answer are made of: questions (validation, canonical form, hash), the answer format and
its validation, whiteboard commands and their SVG, maths text, and the curated lesson library.

Imports: ``core.platform`` and ``core.errors`` only.
"""
