"""RQ job functions. Each runs a coroutine on the worker's long-lived event loop."""

from __future__ import annotations

import structlog

from gateway.services import dispatch as dispatch_service
from gateway.worker import current


def dispatch(message_ids: list[str]) -> dict[str, int]:
    """Dispatch a chunk of messages (the payload is ids only)."""
    worker = current()
    structlog.contextvars.bind_contextvars(messages=len(message_ids))
    return worker.run(dispatch_service.dispatch(worker.runtime, list(message_ids)))
