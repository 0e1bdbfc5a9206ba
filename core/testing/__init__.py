"""Test helpers shipped with the library: an OpenAI-compatible server to run the real SDK against.
"""
