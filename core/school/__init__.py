"""People and their school: accounts, tokens, credits, chat, history, curation and the teacher's frames.
"""
