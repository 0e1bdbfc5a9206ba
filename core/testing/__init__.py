"""Test helpers shipped with the library: an OpenAI-compatible server to run the real SDK against (``fakeai``), and
the few parts of the inside that benchmarks and notebooks measure (``probes``).

Imports: ``core.explaining``, ``core.content``, ``core.platform`` and ``core.errors``; nothing in core imports it.
"""
