"""Schema migrations through Alembic, driven programmatically (no alembic.ini to find)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from gateway.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to `revision`. Safe to run from inside or outside an event loop."""
    settings.ensure_dirs()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(settings), revision)
        return
    # Inside a loop (tests, `run`): alembic's env starts its own loop, so use a thread.
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            command.upgrade(alembic_config(settings), revision)
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
