"""What an answer is made of: the answer format and its validation, whiteboard commands and their SVG,
maths text, and the curated lesson library.
"""
