"""Alert delivery: the local file sink, Slack and email subscribers, digests, retries.

Modules, pure logic first:

- ``base``: the ``Delivery`` result record, its statuses, failure kinds, redaction.
- ``wording``: how an alert reads to people on every channel (kind labels, times, reasons).
- ``routing``/``digest``: who wants an alert and when (now, next digest, after quiet hours).
- ``retry``: backoff with jitter honouring Retry-After; per-webhook rate limits;
  ``pace``: that pace shared by every process on the machine.
- ``log_guard``: redacts secrets from every log record; ``probe``: ``subscribers test``.
- ``file_sink``, ``slack``, ``email``: one module per channel.
- ``dispatch``: the loop shared by Beam and ``storywatch deliver`` (ledger claims,
  lanes, dead letters).
- ``command``: ``storywatch deliver``.
- ``transform``: the Beam step ``DeliverAlerts``; nothing else here imports Beam, so
  ``storywatch deliver`` does not pay for it.

The alert JSON shape is ``pipeline.alert_json``; the ledger is ``pipeline.ledger``.
"""
