"""Issue 14 defect 6, the log path: a traceback that quotes a webhook path is redacted."""

from __future__ import annotations

import io
import logging

from pythonjsonlogger.json import JsonFormatter

from pipeline.config.subscribers import load_subscribers, resolve_secrets

HOOK = "https://hooks.slack.com/services/T0LOGSEC01/B0LOGSEC02/logSecretToken42"


def test_messages_arguments_and_tracebacks_are_redacted_once_secrets_are_resolved(tmp_path):
    path = tmp_path / "subscribers.yaml"
    path.write_text(
        "subscribers:\n  - name: desk\n    channels:\n      slack: {webhook_url_env: LOG_HOOK}\n"
    )
    resolve_secrets(load_subscribers(path), {"LOG_HOOK": HOOK})
    stream = io.StringIO()
    logger = logging.getLogger("storywatch.test.log_guard")
    logger.propagate = False
    for formatter in (logging.Formatter("%(message)s"), JsonFormatter("%(message)s")):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    try:
        logger.warning("posting to %s failed", "/services/T0LOGSEC01/B0LOGSEC02/logSecretToken42")
        try:
            raise ValueError("URL can't contain control characters. '/services/T0LOGSEC01/x'")
        except ValueError:
            logger.exception("unexpected")
    finally:
        logger.handlers.clear()
    text = stream.getvalue()
    assert "posting to *** failed" in text and "ValueError" in text and "Traceback" in text
    for secret in ("T0LOGSEC01", "B0LOGSEC02", "logSecretToken42"):
        assert secret not in text
