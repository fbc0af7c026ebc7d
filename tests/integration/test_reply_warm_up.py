"""The reply classifier is warmed up when a process that reads replies starts: the API app and
the SMTP receiver load (or train, then keep in the data directory) the model in a thread at
start-up, so the first reply does not wait for it, and the loop goes on serving meanwhile
(/healthz answers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gateway import receiver as receiver_module
from gateway.api.app import WARM_UP, create_app
from gateway.replies import blend, model_ready, model_store
from gateway.settings import Settings


@pytest.fixture
def untrained() -> Iterator[None]:
    """This process as if it had never trained the model."""
    blend._trained_model.cache_clear()
    yield


async def test_the_api_app_trains_the_model_at_start_up_off_the_loop(
    untrained: None, settings: Settings, aiohttp_client: Any
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    warming = app[WARM_UP]
    # Started with the app, and the app answers while it runs.
    health = await client.get("/healthz")
    assert health.status == 200
    await asyncio.wait_for(warming, 60)
    assert model_ready()
    # Kept for the next process of this deployment (`replies.model_store`).
    assert model_store.path_in(settings.cache_dir).is_file()


async def test_the_smtp_receiver_trains_the_model_at_start_up(
    untrained: None, receiver: int
) -> None:
    assert receiver_module.WARMING or model_ready()
    await asyncio.wait_for(asyncio.gather(*receiver_module.WARMING), 60)
    assert model_ready()
