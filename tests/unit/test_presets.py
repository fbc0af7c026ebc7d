"""Presets: the built-in files load, every rule is tagged, operator files validate and override."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from scheduler.presets import BUILTIN_DIR, PresetError, get_preset, load_presets

BUILTINS = ("US-RegF", "UK-FCA", "CN", "EU")
TAGS = {"L", "R", "S", "P"}
METADATA = {"name", "version", "jurisdiction"}


def test_every_builtin_preset_loads() -> None:
    presets = load_presets()
    assert set(BUILTINS) <= set(presets)
    for name in BUILTINS:
        preset = presets[name]
        assert preset.name == name
        assert preset.safety_margin == timedelta(minutes=15)
        assert preset.max_defer == timedelta(hours=48)
        assert preset.fallback_zones
        assert preset.on_empty_intersection in {"reroute_letter", "review"}


def _untagged(node: Any, path: str) -> list[str]:
    """Paths of rules without a basis tag: a leaf rule is a mapping with no nested mappings."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _untagged(item, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return [path]  # a bare scalar or list of scalars where a tagged rule belongs
    if "tag" in node:
        return [] if node["tag"] in TAGS else [f"{path}.tag"]
    return [p for key, value in node.items() for p in _untagged(value, f"{path}.{key}")]


@pytest.mark.parametrize("name", BUILTINS)
def test_every_value_carries_a_tag(name: str) -> None:
    raw = yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    rules = {key: value for key, value in raw.items() if key not in METADATA}
    assert _untagged(rules, name) == []


def test_section_6_3_values() -> None:
    us, uk, cn, eu = (get_preset(name) for name in BUILTINS)
    monday = us.window("sms", 0)
    assert monday is not None and monday.start == time(8)
    sunday = us.window("sms", 6)
    assert sunday is not None and (sunday.start, sunday.end, sunday.tag) == (
        time(12),
        time(21),
        "P",
    )
    assert uk.window("sms", 6) is None and eu.window("email", 6) is None
    saturday = uk.window("sms", 5)
    assert saturday is not None and (saturday.start, saturday.end) == (time(9), time(17))
    cn_sunday = cn.window("sms", 6)
    assert cn_sunday is not None and cn_sunday.end == time(21)
    assert [c.max for c in eu.caps_for("sms")] == [1, 2]
    assert [(c.max, c.window) for c in eu.caps_for("total")] == [
        (1, "rolling_24h"),
        (8, "rolling_30d"),
    ]
    assert us.caps_for("call")[0].tag == "R" and us.min_gap_minutes.value == 240
    assert cn.holidays.calendar.only == ["spring_festival_eve", "spring_festival_day_1"]


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    (tmp_path / name).write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


def test_bad_operator_field_names_file_and_path(tmp_path: Path) -> None:
    bad = {
        "name": "my-preset",
        "base": "US-RegF",
        "caps": {
            "sms": [
                {"max": 1, "window": "daily", "scope": "per_debtor", "count": "sent", "tag": "P"}
            ]
        },
    }
    with pytest.raises(PresetError) as caught:
        load_presets(_write(tmp_path, "my-preset.yaml", bad))
    assert str(caught.value) == (
        "my-preset.yaml: caps.sms[0].window: "
        "must be one of rolling_24h, rolling_7d, rolling_30d, calendar_month"
    )


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"surprise": 1}, "surprise"),  # extra="forbid"
        (
            {"windows": {"sms": [{"days": ["mon"], "start": 480, "end": "21:00", "tag": "P"}]}},
            "windows.sms[0].start",
        ),
        (
            {"windows": {"sms": [{"days": ["mon"], "start": "08:00", "end": "21:00", "tag": "X"}]}},
            "windows.sms[0].tag",
        ),
        ({"tz": {"fallback_zones": {"value": ["Mars/Olympus"], "tag": "P"}}}, "tz.fallback_zones"),
    ],
)
def test_operator_errors_carry_the_field_path(
    tmp_path: Path, override: dict[str, Any], path: str
) -> None:
    with pytest.raises(PresetError) as caught:
        load_presets(_write(tmp_path, "ops.yaml", {"name": "US-RegF", **override}))
    assert caught.value.file == "ops.yaml"
    assert caught.value.path == path


def test_operator_file_overrides_a_window(tmp_path: Path) -> None:
    override = {
        "name": "UK-FCA",
        "windows": {
            "sms": [
                {
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "start": "09:00",
                    "end": "20:00",
                    "tag": "P",
                }
            ]
        },
    }
    preset = get_preset("UK-FCA", _write(tmp_path, "uk.yml", override))
    window = preset.window("sms", 0)
    assert window is not None and (window.start, window.end) == (time(9), time(20))
    assert preset.window("sms", 5) is None  # lists replace, so Saturday went with the override
    assert preset.window("email", 5) is not None  # untouched settings come from the built-in
    assert get_preset("UK-FCA").window("sms", 0).start == time(8)  # type: ignore[union-attr]


def test_operator_file_adds_a_derived_preset(tmp_path: Path) -> None:
    extra = _write(tmp_path, "us-ma.yaml", {"name": "US-MA", "base": "US-RegF", "version": 2})
    presets = load_presets(extra)
    assert presets["US-MA"].version == 2 and presets["US-RegF"].version == 2


def test_unknown_base_and_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match=r"x\.yaml: base: unknown preset 'NOPE'"):
        load_presets(_write(tmp_path, "x.yaml", {"name": "new", "base": "NOPE"}))
    with pytest.raises(PresetError, match="does not exist"):
        load_presets(tmp_path / "absent")
