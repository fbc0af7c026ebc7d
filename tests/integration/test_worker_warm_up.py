"""A worker builds what its first batch would otherwise build while holding that batch: the
presets' holiday calendars and the ZIP code index (`bootstrap.open_runtime` with providers)."""

from __future__ import annotations

from gateway.bootstrap import open_runtime
from gateway.settings import Settings
from scheduler import us_states, windows


async def test_a_worker_runtime_indexes_zip_codes_and_calendars_before_its_first_batch(
    settings: Settings,
) -> None:
    us_states._zip_states.cache_clear()
    windows._calendar.cache_clear()
    api = await open_runtime(settings)  # the API does not dispatch: it builds neither
    await api.close()
    assert us_states._zip_states.cache_info().currsize == 0
    worker = await open_runtime(settings, with_providers=True)
    try:
        assert us_states._zip_states.cache_info().currsize == 1
        assert windows._calendar.cache_info().currsize > 0
        assert us_states.zip_state("10118") == "NY"
    finally:
        await worker.close()
