"""What JSON columns store (`gateway.store.engine.json_dumps`): the values `json.dumps` stores,
refused where it refuses them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway.store.engine import json_dumps, json_loads


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Zoë 张伟", "amount": "12.50", "n": 3, "ok": True, "none": None},
        {"big": 2**70, "list": [1, 2.5, "x"]},  # beyond orjson's 64 bits: json.dumps writes it
        {1: "an integer key, written as a string"},
        [],
    ],
)
def test_values_read_back_as_json_dumps_would_store_them(value: object) -> None:
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


def test_what_json_dumps_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        json_dumps({"at": datetime(2026, 12, 3, tzinfo=UTC)})
    with pytest.raises(TypeError):
        json_dumps({"set": {1, 2}})


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Zo\\u00eb", "amount": "12.50", "n": 3, "f": 2.5, "ok": true, "none": null}',
        '{"big": 1180591620717411303424, "neg": -12345678901234567890}',  # read exactly
        '{"pi": 3.14159265358979323846264}',
        '{"nan": NaN}',  # json reads it; orjson refuses
        '[1, 2, {"a": [true, false]}]',
    ],
)
def test_stored_text_reads_back_as_json_loads_reads_it(text: str) -> None:
    got, expected = json_loads(text), json.loads(text)
    assert repr(got) == repr(expected)
    assert json_loads(text.encode()) == expected or "NaN" in text
