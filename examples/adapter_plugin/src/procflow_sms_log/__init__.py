"""An example procflow adapter plugin: send citizen notices (``notify.citizen``) through an "SMS gateway".

The gateway is a JSON-lines file named by the environment variable ``PROCFLOW_SMS_LOG``, so the example runs
anywhere; a real adapter would call the provider's HTTP API in ``procflow_deliver_notification`` and keep
everything else as it is. It shows the four things most adapters do:

* subscribe to a standard outbox topic (``procflow_register_outbox_topics``), and only when configured;
* deliver one message, passing the idempotency key on, and turn failures into ``RetryableAdapterError`` or
  ``PermanentAdapterError``;
* log with personal data masked;
* contribute a guard (``procflow_register_guards``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from procflow.engine.outbox import notification_topic
from procflow.errors import PermanentAdapterError, RetryableAdapterError
from procflow.hookspecs import hookimpl
from procflow.privacy.masking import mask_value

ENV = "PROCFLOW_SMS_LOG"
log = logging.getLogger(__name__)


def _gateway() -> Path | None:
    path = os.environ.get(ENV)
    return Path(path) if path else None


@hookimpl
def procflow_register_outbox_topics():
    # Not configured: subscribe to nothing, so no outbox rows are written that nobody would deliver.
    return [notification_topic()] if _gateway() is not None else []


@hookimpl
def procflow_deliver_notification(message, timeout):
    gateway = _gateway()
    if gateway is None:
        return None  # not ours to deliver: the next plugin is asked
    phone = (message.payload.get("recipient") or {}).get("phone")
    if not phone:
        raise PermanentAdapterError(f"{message.key}: the dossier has no phone number to text")
    try:
        sent = {json.loads(line)["key"] for line in gateway.read_text(encoding="utf-8").splitlines()} \
            if gateway.exists() else set()
        if message.key not in sent:  # the receiver applies each idempotency key once
            with gateway.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": message.key, "to": phone, "text": message.payload["text_vi"]},
                                   ensure_ascii=False) + "\n")
    except OSError as exc:  # the gateway is unreachable: try again later
        raise RetryableAdapterError(f"{message.key}: gateway unavailable: {exc}") from exc
    log.info("SMS to %s: %s", mask_value(phone, "phone"), message.payload["text_vi"])
    return message.key  # the receipt


def has_phone(dossier, data):
    """Only accept online filings that leave a phone number for notices (a pure check, no I/O)."""
    return bool(data.get("parent_phone") or dossier.data.get("parent_phone"))


@hookimpl
def procflow_register_guards():
    return {"has_phone": has_phone}
