"""What everything stands on: settings, the database and its migrations, the session store, rate limits,
metrics, analytics events and core's own messages.
"""
