"""structlog, configured once per process.

JSON lines when stdout is not a terminal, coloured console lines when it is. A redaction processor
is the safety net behind the rule that no log call ever passes personal data: any field whose name
says phone, email, address, name or amount is replaced, whatever the caller meant.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset(
    {
        "to",
        "from",
        "from_",
        "phone",
        "email",
        "address",
        "addresses",
        "recipient",
        "recipients",
        "name",
        "debtor",
        "debtor_name",
        "amount",
        "balance",
        "body",
        "subject",
        "postal_address",
        "account",
        "text",
        "html",
    }
)
REDACTED = "[redacted]"


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = REDACTED
    return event


def configure(level: str = "info", json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger. Call once at process start."""
    as_json = (not sys.stdout.isatty()) if json is None else json
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
