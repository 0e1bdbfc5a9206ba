"""The tutor's core: questions, answers, generation, streaming, sessions, storage, accounts and analytics.

No Streamlit here: pages, notebooks, the CLI and tests all use ``create_tutor(settings)``. Names are imported
lazily so that ``import core.content.canvas`` (say) stays light.
"""
from importlib import import_module

_EXPORTS = {"create_tutor": "tutor", "Tutor": "tutor", "Settings": "platform.settings", "SETTINGS": "platform.settings",
            "TutorError": "errors", "SessionStatus": "platform.store.base"}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
