"""Stable alert ids: the same development, kind (and follow-up number) give the same id in
every run and across restarts, so the ledger records and delivers each alert once.

>>> alert_id_for("starlink-ukraine-war", "3f2a", "new_development")
'08f5e2d40b1822d1'
"""

from __future__ import annotations

import hashlib


def alert_id_for(storyline_id: str, development_id: str, kind: str, extra: str = "") -> str:
    """Stable alert id (16 hex digits) for one development and kind (``extra``: which one
    of several, e.g. the follow-up number)."""
    raw = "\x1f".join((storyline_id, development_id, kind, extra))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]
