"""Who owns a delivery claim, and when another sender may take it over (every backend).

An owner token is ``host|pid|process nonce|random``. A claimed row may be claimed again
only when its owner released it (empty owner), its lease ran out, or its owner was a
process on this host that no longer runs (killed mid-send). A process killed but not yet
reaped by its parent still looks alive; its claims then wait for the lease. The same rule
(``abandoned``) tells when an alert recorded but never routed to its subscribers was left
behind by a process that died between the two.

>>> host = "worker-1"
>>> token = owner_token(host)
>>> claimable("claimed", token, "9999-01-01T00:00:00+00:00", now_iso="2024-01-01", host=host)
False
>>> claimable("claimed", token, "2023-01-01T00:00:00+00:00", now_iso="2024-01-01", host=host)
True
>>> claimable("queued", "", "", now_iso="2024-01-01", host=host)
True
>>> claimable("sent", "", "", now_iso="2024-01-01", host=host)
False
"""

from __future__ import annotations

import os
import uuid

from pipeline.ledger.protocol import CLAIMED, QUEUED

# Tells this process's claims from those of an earlier process that had the same pid
# (containers restart as pid 1).
_PROCESS_NONCE = uuid.uuid4().hex[:12]


def owner_token(host: str) -> str:
    """A new owner token for a claim taken by this process on ``host``."""
    return f"{host}|{os.getpid()}|{_PROCESS_NONCE}|{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(owner: str, *, host: str) -> bool:
    """True if ``owner`` was a process on ``host`` (this host) that no longer runs."""
    parts = owner.split("|")
    if len(parts) != 4 or parts[0] != host:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return parts[2] != _PROCESS_NONCE
    return not _pid_alive(pid)


def abandoned(owner: str, lease_until: str, *, now_iso: str, host: str) -> bool:
    """Has the owner of a claim (or of an alert not yet routed) given it up, run out of
    lease or died? (ISO-8601 UTC times.)"""
    return not owner or not lease_until or lease_until <= now_iso or owner_gone(owner, host=host)


def claimable(state: str, owner: str, lease_until: str, *, now_iso: str, host: str) -> bool:
    """May a sender on ``host`` claim a row in ``state`` now? (ISO-8601 UTC times.)"""
    if state == QUEUED:
        return True
    if state != CLAIMED:
        return False
    return abandoned(owner, lease_until, now_iso=now_iso, host=host)
