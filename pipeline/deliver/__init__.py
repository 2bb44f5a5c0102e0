"""Alert delivery: the local JSONL sink, Slack and email subscribers, digests, retries.

Modules, pure logic first:

- ``base``: the ``Delivery`` result record, failure kinds, ``alert_from_json``.
- ``routing``/``digest``: who wants an alert and when (now, next digest, after quiet hours).
- ``retry``: backoff with jitter honouring Retry-After; per-webhook rate limits.
- ``jsonl``, ``slack``, ``email``: one module per channel.
- ``dispatch``: the loop shared by Beam and ``storywatch deliver`` (ledger claims,
  lanes, dead letters).
- ``transform``: the Beam step ``DeliverAlerts``.

``DeliverAlerts`` is imported lazily (``from pipeline.deliver import DeliverAlerts``
works) so that ``storywatch deliver`` does not pay for importing Beam.
"""

from __future__ import annotations

from pipeline.deliver.base import Delivery, alert_from_json, alert_to_json

__all__ = ["DeliverAlerts", "Delivery", "alert_from_json", "alert_to_json"]


def __getattr__(name: str):
    if name == "DeliverAlerts":
        from pipeline.deliver.transform import DeliverAlerts

        return DeliverAlerts
    raise AttributeError(f"module 'pipeline.deliver' has no attribute {name!r}")
