"""What everything stands on: settings, the database and its migrations, the session store, rate limits,
metrics, analytics events, authorization (roles and owner checks) and core's own messages.

Imports: nothing else from core but ``core.errors``.
"""
