"""The last guard for logs: every log record is passed through ``base.redact``.

Reasons are redacted where they are made, but a traceback (``log.exception``) or a
library's message can still quote a webhook URL or token. ``guard_logs(secrets)`` wraps
the log record factory once per process: from then on each record's message, arguments,
traceback and stack are rendered and redacted when the record is made, before any
handler or formatter (text or JSON) sees it. Secrets accumulate (several subscribers
files in one process are all guarded); ``resolve_secrets`` calls it for every secret it
reads.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable

from pipeline.deliver.base import redact

_secrets: set[str] = set()
_lock = threading.Lock()
_previous_factory = None


def guard_logs(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` (every form, ``base.secret_forms``) from every later log record."""
    global _previous_factory
    with _lock:
        _secrets.update(s for s in secrets if s)
        if _previous_factory is None and _secrets:
            _previous_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_redacting_factory)


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    secrets = list(_secrets)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the template, drop the arguments
        message = str(record.msg)
    record.msg, record.args = redact(message, secrets), ()
    if record.exc_info:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text, record.exc_info = redact(text, secrets), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)
    return record
