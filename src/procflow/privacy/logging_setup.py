"""Structured logging with a redaction filter as the last line of defence.

procflow's own code logs identifiers (dossier codes, agency codes), never personal values; the filter is
there for everything else — an adapter that logs a payload, an exception whose message quotes a value, a
third-party library. It masks, by pattern, 12-digit national IDs and Vietnamese phone numbers in the
message, its arguments, the exception text, the stack and every ``extra`` field, whether or not the value
came from a declared personal field. ``configure_logging`` installs it as the log-record factory, so every
record is redacted when it is created, before any handler sees it, and on its own handlers as well.

    from procflow.privacy.logging_setup import configure_logging
    configure_logging("INFO", file="procflow.log")          # JSON lines, redacted

The ``procflow`` command configures itself from ``--log-file`` / ``--log-level`` / ``--log-format`` or
``PROCFLOW_LOG_FILE`` / ``PROCFLOW_LOG_LEVEL`` / ``PROCFLOW_LOG_FORMAT``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from procflow.privacy.masking import mask_json, mask_text

__all__ = ["JsonFormatter", "RedactingFilter", "configure_from_env", "configure_logging", "install_record_factory",
           "redact", "reset_logging"]

_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "", 0, "", None, None))) | {"message", "asctime"}
_MARK = "_procflow_handler"


def redact(record: logging.LogRecord) -> logging.LogRecord:
    """Mask national IDs and phone numbers in everything ``record`` will print (in place; idempotent). At
    creation a record has no ``extra`` fields yet: the handler filter masks those."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not hide the (masked) text
        message = f"{record.msg} {record.args!r}"
    record.msg = mask_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    for key, value in list(vars(record).items()):
        if key in _STANDARD or key.startswith("_"):
            continue
        if isinstance(value, str):
            setattr(record, key, mask_text(value))
        elif isinstance(value, Mapping | list | tuple):
            setattr(record, key, mask_json(value))
    return record


class RedactingFilter(logging.Filter):
    """Masks national IDs and phone numbers in everything a record will print. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact(record)
        return True


_base_factory: Any = None


def install_record_factory() -> None:
    """Redact every log record when it is created — before ANY handler (pytest's, a library's, a handler
    someone adds later) sees it. Records are only created for enabled levels, so disabled debug logging
    costs nothing. Idempotent."""
    global _base_factory
    if _base_factory is not None:
        return
    _base_factory = logging.getLogRecordFactory()
    base = _base_factory

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact(base(*args, **kwargs))

    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC), level, logger, msg, the record's ``extra`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


def reset_logging() -> None:
    """Undo ``configure_logging``: remove its handlers and restore the previous log-record factory."""
    global _base_factory
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    if _base_factory is not None:
        logging.setLogRecordFactory(_base_factory)
        _base_factory = None
    logging.getLogger("procflow").setLevel(logging.NOTSET)


def configure_logging(level: str | int = "INFO", file: str | os.PathLike[str] | None = None, *,
                      fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """Send procflow's logs (at ``level``) and everyone's warnings to ``file`` (or ``stream``, default
    stderr), through the redaction filter. Calling it again replaces the handler it installed before."""
    install_record_factory()
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
            h.close()
    handler: logging.Handler
    if file is not None:
        handler = logging.FileHandler(os.fspath(file), encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    logging.getLogger("procflow").setLevel(level if isinstance(level, int) else level.upper())
    return handler


def configure_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """``PROCFLOW_LOG_FILE`` / ``PROCFLOW_LOG_LEVEL`` / ``PROCFLOW_LOG_FORMAT`` (json or text); nothing when
    neither a file nor a level is set."""
    env = os.environ if environ is None else environ
    file = env.get("PROCFLOW_LOG_FILE") or None
    level = env.get("PROCFLOW_LOG_LEVEL") or None
    if file is None and level is None:
        return None
    return configure_logging(level or "INFO", file, fmt=env.get("PROCFLOW_LOG_FORMAT", "json"))
