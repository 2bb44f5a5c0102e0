"""``storywatch serve``: a status page over what the pipeline writes (ledger, alerts, feed
health, dead letters).

- ``ledger_view``: the ledger read through the ``Ledger`` protocol (any backend), bounded,
  incremental.
- ``queries``: reading those files into storylines, developments, deliveries and feeds (pure).
- ``present``: the timeline's geometry, times and errors in words (pure).
- ``preview``: a watchlist draft run over the recorded feeds and recent live articles.
- ``actions``: retrying a dead delivery.
- ``security``: the token, CSRF and response headers.
- ``app``: the Starlette routes and Jinja2 templates (``templates/``, ``static/``).
"""
