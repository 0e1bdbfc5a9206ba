"""The tutor's core: questions, answers, generation, streaming, sessions, storage, accounts and analytics.

The one door for every client (pages, the CLI, notebooks, benchmarks, the API) is this package's namespace and
``core.errors``: ``create_tutor(settings)`` builds the ``Tutor`` facade, whose methods and sub-objects are the
operations; the few names below it are the types and pure functions a client needs to show what the tutor
returns. Everything deeper (``core.explaining``, ``core.content``, ``core.school``, ``core.platform``) is the
inside; ``tests/test_architecture.py`` checks that no client imports it. No Streamlit here.

Names are imported lazily so that ``import core`` (say, for ``core.errors``) stays light.
"""
from importlib import import_module

_EXPORTS = {
    # the facade and its settings
    "create_tutor": "tutor", "Tutor": "tutor", "Settings": "platform.settings", "SETTINGS": "platform.settings",
    # the types the facade hands out, and the errors' root
    "Identity": "school.auth", "TutorError": "errors", "LANGUAGES": "platform.i18n", "ROLES": "platform.authorization",
    "SessionStatus": "platform.store.base",
    # pure functions for showing what the tutor returns: the whiteboard as escaped SVG (whole, or as a ``Board``
    # that turns each command into patches for a live copy), maths text never cut inside a formula, maths
    # delimiters as Markdown's ``$``
    "render_svg": "content.svg", "Board": "content.board", "safe_prefix": "content.mathtext", "to_markdown_math": "content.mathtext",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
