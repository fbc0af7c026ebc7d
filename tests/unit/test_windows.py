"""Time-zone resolution and allowed intervals: the worked checks of compliance.md §6.4 and §6.9."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

from scheduler import windows
from scheduler.presets import Preset, get_preset, load_presets
from scheduler.windows import allowed_intervals, local_window, next_allowed
from scheduler.zones import candidate_zones, phone_zones, postal_zones, zone_country

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
NY, LA, HON = ZoneInfo(ET), ZoneInfo(PT), ZoneInfo("Pacific/Honolulu")
US = get_preset("US-RegF")
CN = get_preset("CN")
EU = get_preset("EU")
UK = get_preset("UK-FCA")


def _day(
    spans: list[tuple[datetime, datetime]], tz: ZoneInfo, day: date
) -> list[tuple[time, time]]:
    """The intervals starting on a local date, as local wall-clock times."""
    return [
        (s.astimezone(tz).time(), e.astimezone(tz).time())
        for s, e in spans
        if s.astimezone(tz).date() == day
    ]


def _variant(tmp_path: Path, base: str, **override: Any) -> Preset:
    """A preset derived from a built-in through an operator file, as production would load it."""
    (tmp_path / "variant.yaml").write_text(
        yaml.safe_dump({"name": "variant", "base": base, **override}), encoding="utf-8"
    )
    return load_presets(tmp_path)["variant"]


# --- candidate zones (§6.4 steps 1–3) ---------------------------------------------------------


def test_candidate_zones_from_address_and_phone() -> None:
    zones = candidate_zones(None, {"country": "US", "region": "CA"}, ["+12125550123"], US)
    assert zones == [PT, ET]
    assert postal_zones({"country": "US", "line": "Springfield, IL 62701"}) == [CT]
    assert set(postal_zones({"country": "US"})) >= {ET, CT, MT, PT, "Pacific/Honolulu"}
    assert postal_zones({"country": "DE"}) == ["Europe/Berlin", "Europe/Busingen"]


def test_candidate_zones_fallback_and_stated_override(tmp_path: Path) -> None:
    assert candidate_zones(None, None, [], US) == [ET, CT, MT, PT]
    assert candidate_zones(None, None, ["not a number"], US) == [ET, CT, MT, PT]
    stated = _variant(
        tmp_path, "US-RegF", tz={"mode": {"value": "consumer_stated_overrides", "tag": "P"}}
    )
    assert candidate_zones(PT, None, ["+12125550123"], stated) == [PT]
    assert candidate_zones(PT, None, ["+12125550123"], US) == [PT, ET]
    with pytest.raises(ValueError, match="unknown IANA zone"):
        candidate_zones("Mars/Olympus", None, [], US)


def test_phone_zones_by_prefix_and_unknown() -> None:
    assert phone_zones("+8613812345678") == ["Asia/Shanghai"]
    assert phone_zones("+12125550123") == [ET]
    # A mobile in a multi-zone country maps to all of that country's zones.
    assert "Australia/Perth" in phone_zones("+61412345678")
    # Non-geographic (+800) answers Etc/Unknown with no country: it contributes nothing.
    assert phone_zones("+80012345678") == []


def test_old_zone_names_phonenumbers_uses_keep_their_country() -> None:
    # Every Indian number maps to "Asia/Calcutta", a name zone.tab no longer lists: its country,
    # hence India's holidays under a preset that blocks each foreign zone's own, was lost.
    assert phone_zones("+918123456789") == ["Asia/Calcutta"]
    assert zone_country("Asia/Calcutta") == "IN"
    assert local_window("Asia/Calcutta", date(2026, 1, 26), "sms", CN) is None  # Republic Day
    named = {z for zs in TIMEZONE_DATA.values() for z in zs} - {"Etc/Unknown"}
    assert {z for z in named if zone_country(z) is None} == set()


def test_a_number_mapped_to_another_countrys_zone_adds_its_own_country() -> None:
    # phonenumbers answers Europe/Paris for Algeria, which keeps CET all year: in summer 08:00 in
    # Paris is 07:00 in Algiers. Ireland's numbers map to Europe/London (UK holidays only).
    assert set(phone_zones("+213551234567")) == {"Europe/Paris", "Africa/Algiers"}
    assert "Europe/Dublin" in phone_zones("+353850123456")
    assert phone_zones("+447400123456") == [
        "Europe/Guernsey",
        "Europe/Isle_of_Man",
        "Europe/Jersey",
        "Europe/London",
    ]
    zones = candidate_zones(None, None, ["+213551234567"], CN)
    spans = allowed_intervals(zones, "sms", CN, datetime(2026, 6, 10, tzinfo=UTC), days=1)
    assert spans[0][0] == datetime(2026, 6, 10, 8, tzinfo=ZoneInfo("Africa/Algiers"))


# --- worked checks (§6.4 step 7) ---------------------------------------------------------------

WED = date(2026, 6, 10)  # an ordinary summer Wednesday


def test_et_mobile_and_pt_address_give_11_to_21_et() -> None:
    spans = allowed_intervals([ET, PT], "sms", US, datetime(2026, 6, 10, 4, tzinfo=UTC))
    assert _day(spans, NY, WED) == [(time(11), time(20, 45))]  # 21:00 minus the 15-minute margin


def test_us_fallback_gives_11_to_21_et() -> None:
    spans = allowed_intervals(US.fallback_zones, "email", US, datetime(2026, 6, 10, 4, tzinfo=UTC))
    assert _day(spans, NY, WED) == [(time(11), time(20, 45))]


def test_adding_hawaii_gives_14_to_21_edt() -> None:
    zones = [*US.fallback_zones, "Pacific/Honolulu"]
    spans = allowed_intervals(zones, "sms", US, datetime(2026, 6, 10, 4, tzinfo=UTC))
    assert _day(spans, NY, WED) == [(time(14), time(20, 45))]
    assert _day(spans, HON, WED) == [(time(8), time(14, 45))]


def test_eu_fallback_gives_09_to_18_utc_in_winter() -> None:
    spans = allowed_intervals(EU.fallback_zones, "sms", EU, datetime(2026, 1, 12, tzinfo=UTC))
    assert _day(spans, ZoneInfo("UTC"), date(2026, 1, 12)) == [(time(9), time(17, 45))]


@pytest.mark.parametrize(
    ("preset", "zones"), [(UK, ["Europe/London", ET]), (EU, EU.fallback_zones)]
)
def test_sunday_in_any_candidate_zone_is_blocked(preset: Preset, zones: list[str]) -> None:
    spans = allowed_intervals(zones, "sms", preset, datetime(2026, 1, 12, tzinfo=UTC), days=14)
    assert spans
    for s, e in spans:
        for moment in (s, e - timedelta(microseconds=1)):
            for zone in zones:
                assert moment.astimezone(ZoneInfo(zone)).weekday() != 6


def test_acceptance_1_sms_at_2050_pt_defers_to_11_et_next_day() -> None:
    zones = candidate_zones(None, {"country": "US", "region": "CA"}, ["+12125550123"], US)
    now = datetime(2026, 6, 10, 20, 50, tzinfo=LA)
    assert next_allowed(zones, "sms", US, now) == datetime(2026, 6, 11, 11, tzinfo=NY)


def test_next_allowed_is_now_inside_a_window() -> None:
    now = datetime(2026, 6, 10, 15, tzinfo=NY)
    assert next_allowed([ET, PT], "sms", US, now) == now.astimezone(UTC)
    assert next_allowed([ET, PT], "sms", US, datetime(2026, 6, 10, 20, 46, tzinfo=NY)) == datetime(
        2026, 6, 11, 11, tzinfo=NY
    )


def test_acceptance_7_shanghai_and_los_angeles_overlap_despite_the_spec() -> None:
    # §6.9 #7 expects an empty intersection, but two 13-hour windows always overlap: zones d hours
    # apart share 13 - max(d, 24 - d) hours, here Shanghai 08:00–12:00 = LA 17:00–21:00 (PDT).
    # Reported to the lead as a spec error; the empty case is tested below with real data.
    zones = candidate_zones(None, {"country": "US", "region": "CA"}, ["+8613812345678"], CN)
    assert zones == ["America/Los_Angeles", "Asia/Shanghai"]
    spans = allowed_intervals(zones, "sms", CN, datetime(2026, 6, 10, tzinfo=UTC))
    assert _day(spans, ZoneInfo("Asia/Shanghai"), date(2026, 6, 11)) == [(time(8), time(11, 45))]


def test_empty_intersection_gives_none() -> None:
    # Paris (CET) and Auckland (NZDT) are 12 h apart in January: 11-hour windows cannot meet.
    now = datetime(2026, 1, 12, tzinfo=UTC)
    assert allowed_intervals(["Europe/Paris", "Pacific/Auckland"], "sms", EU, now) == []
    assert next_allowed(["Europe/Paris", "Pacific/Auckland"], "sms", EU, now) is None
    assert EU.on_empty_intersection == "reroute_letter"


def test_a_full_window_memo_drops_other_hours_before_this_hours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Clearing the whole memo when full dropped the current hour's windows too: every zone set
    # met again in that hour was computed again (a burst of ~1 ms each, in the benchmark).
    monkeypatch.setattr(windows, "_SPANS", {})
    monkeypatch.setattr(windows, "_SPANS_MAX", 3)
    now = datetime(2026, 6, 10, 15, 5, tzinfo=UTC)
    next_allowed([ET], "sms", US, now - timedelta(hours=3))
    next_allowed([ET], "sms", US, now)
    next_allowed([PT], "sms", US, now)
    next_allowed([CT], "sms", US, now)  # full: the older hour's entry makes room
    assert {(key[0], key[3]) for key in windows._SPANS} == {
        ((zone,), datetime(2026, 6, 10, 15, tzinfo=UTC)) for zone in (ET, PT, CT)
    }


def test_open_time_counts_only_the_allowed_intervals_and_stops_once_past_enough() -> None:
    # US-RegF weekdays in New York: 08:00–20:45 after the margin, 12.75 h a day.
    tuesday = datetime(2026, 6, 9, 10, 0, tzinfo=NY)
    two_days = timedelta(hours=48)
    thursday = tuesday + timedelta(days=2)
    assert windows.open_time([ET], "sms", US, tuesday, thursday, two_days) == timedelta(hours=25.5)
    # Night to morning: nothing was open.
    night = datetime(2026, 6, 9, 21, 0, tzinfo=NY)
    assert windows.open_time([ET], "sms", US, night, night + timedelta(hours=11), two_days) == (
        timedelta(0)
    )
    # A month-long wait is counted only until it is known to be longer than `enough`: a week.
    counted = windows.open_time([ET], "sms", US, tuesday, tuesday + timedelta(days=30), two_days)
    assert two_days < counted < timedelta(days=7)


def test_counting_long_waits_leaves_the_current_hour_s_windows_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The waits counted are of messages due in past hours; their windows have a memo of their
    # own, so they never push the hour's windows (that every decision reads) out of the memo.
    monkeypatch.setattr(windows, "_SPANS", {})
    monkeypatch.setattr(windows, "_OPEN", {})
    monkeypatch.setattr(windows, "_SPANS_MAX", 2)
    now = datetime(2026, 6, 10, 15, 5, tzinfo=UTC)
    next_allowed([ET], "sms", US, now)
    for days in range(1, 6):
        due = now - timedelta(days=days)
        windows.open_time([ET], "sms", US, due, now, timedelta(hours=48))
    assert [key[3] for key in windows._SPANS] == [datetime(2026, 6, 10, 15, tzinfo=UTC)]
    assert 0 < len(windows._OPEN) <= 2


def test_channel_without_window_and_naive_now_are_errors() -> None:
    with pytest.raises(ValueError, match="no time window"):
        next_allowed([ET], "letter", US, datetime(2026, 6, 10, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        next_allowed([ET], "sms", US, datetime(2026, 6, 10))
    with pytest.raises(ValueError, match="at least one zone"):
        allowed_intervals([], "sms", US, datetime(2026, 6, 10, tzinfo=UTC))


# --- holidays ----------------------------------------------------------------------------------


def test_cn_spring_festival_eve_and_day_1_blocked_and_tiaoxiu_saturday_allowed(
    tmp_path: Path,
) -> None:
    sh = "Asia/Shanghai"
    assert local_window(sh, date(2026, 2, 16), "sms", CN) is None  # 除夕
    assert local_window(sh, date(2026, 2, 17), "sms", CN) is None  # 春节 day 1
    assert local_window(sh, date(2026, 2, 18), "sms", CN) is not None  # other days: allowed by law
    assert local_window(sh, date(2026, 2, 14), "sms", CN) is not None  # 调休 Saturday
    # With weekends blocked, the make-up Saturday still follows the working-day window.
    weekdays = {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "18:00",
        "tag": "P",
    }
    strict = _variant(tmp_path, "CN", windows={"sms": [weekdays], "email": [weekdays]})
    assert local_window(sh, date(2026, 2, 14), "sms", strict) is not None
    assert local_window(sh, date(2026, 2, 21), "sms", strict) is None  # an ordinary Saturday
    spans = allowed_intervals([sh], "sms", strict, datetime(2026, 2, 13, tzinfo=UTC), days=7)
    starts = {s.astimezone(ZoneInfo(sh)).date() for s, _ in spans}
    assert date(2026, 2, 14) in starts and date(2026, 2, 16) not in starts


def test_us_federal_holiday_blocked() -> None:
    spans = allowed_intervals([ET], "sms", US, datetime(2026, 11, 24, tzinfo=UTC), days=4)
    days = {s.astimezone(NY).date() for s, _ in spans}
    assert date(2026, 11, 26) not in days  # Thanksgiving
    assert {date(2026, 11, 25), date(2026, 11, 27)} <= days


def test_uk_bank_holiday_blocked() -> None:
    assert (
        local_window("Europe/London", date(2026, 8, 31), "sms", UK) is None
    )  # summer bank holiday
    assert local_window("Europe/London", date(2026, 9, 1), "sms", UK) is not None


# --- DST -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "zone", "day", "start", "end"),
    [
        (
            US,
            ET,
            date(2026, 3, 8),
            datetime(2026, 3, 8, 16, tzinfo=UTC),
            datetime(2026, 3, 9, 0, 45, tzinfo=UTC),
        ),
        (
            US,
            ET,
            date(2026, 11, 1),
            datetime(2026, 11, 1, 17, tzinfo=UTC),
            datetime(2026, 11, 2, 1, 45, tzinfo=UTC),
        ),
        (
            CN,
            "Europe/London",
            date(2026, 3, 29),
            datetime(2026, 3, 29, 7, tzinfo=UTC),
            datetime(2026, 3, 29, 19, 45, tzinfo=UTC),
        ),
        (
            CN,
            "Europe/London",
            date(2026, 10, 25),
            datetime(2026, 10, 25, 8, tzinfo=UTC),
            datetime(2026, 10, 25, 20, 45, tzinfo=UTC),
        ),
    ],
)
def test_windows_on_dst_change_days(
    preset: Preset, zone: str, day: date, start: datetime, end: datetime
) -> None:
    spans = allowed_intervals(
        [zone],
        "sms",
        preset,
        datetime.combine(day, time(), tzinfo=UTC) - timedelta(hours=14),
        days=2,
    )
    assert (start, end) in spans


def test_nonexistent_and_ambiguous_local_times_shrink_the_window(tmp_path: Path) -> None:
    # 01:30 in London does not exist on 2026-03-29 and happens twice on 2026-10-25.
    rule = {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "01:30",
        "end": "09:00",
        "tag": "P",
    }
    early = _variant(tmp_path, "CN", windows={"sms": [rule], "email": [rule]})
    spring = allowed_intervals(
        ["Europe/London"], "sms", early, datetime(2026, 3, 29, tzinfo=UTC), days=1
    )
    assert spring[0][0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # = 02:30 BST, not 00:30 UTC
    autumn = allowed_intervals(
        ["Europe/London"], "sms", early, datetime(2026, 10, 25, tzinfo=UTC), days=1
    )
    assert autumn[0][0] == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # the later 01:30 (GMT)


# --- properties -----------------------------------------------------------------------------------

ZONES = [
    ET,
    CT,
    MT,
    PT,
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Helsinki",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]
DST_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 4, 5),
    date(2027, 3, 14),
    date(2027, 3, 28),
    date(2027, 10, 31),
    date(2027, 11, 7),
]
PRESETS = [US, UK, CN, EU]

instants = st.one_of(
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda day, minutes: datetime.combine(day, time(), tzinfo=UTC) + timedelta(minutes=minutes),
        st.sampled_from(DST_DAYS),
        st.integers(min_value=-3 * 1440, max_value=3 * 1440),
    ),
)


def _assert_allowed(moment: datetime, zones: list[str], channel: str, preset: Preset) -> None:
    """An instant lies in every zone's local window for its local date, clear of the margin."""
    for zone in zones:
        tz = ZoneInfo(zone)
        local = moment.astimezone(tz)
        rule = local_window(zone, local.date(), channel, preset)
        assert rule is not None, (zone, local)
        assert rule.start <= local.time(), (zone, local)
        last = (moment + preset.safety_margin).astimezone(tz)
        assert last.date() == local.date() and last.time() <= rule.end, (zone, local)
        if preset is US:  # an independent holiday check: US federal calendar, local date
            assert local.date() not in holidays.country_holidays("US", years=local.year)


@settings(max_examples=200, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
    preset=st.sampled_from(PRESETS),
    channel=st.sampled_from(["sms", "email"]),
    now=instants,
)
def test_every_allowed_instant_is_inside_every_zone_window(
    zones: list[str], preset: Preset, channel: str, now: datetime
) -> None:
    spans = allowed_intervals(zones, channel, preset, now)
    for (_s, e), nxt in zip(spans, spans[1:], strict=False):
        assert e < nxt[0]  # sorted and disjoint
    for s, e in spans:
        assert s.tzinfo is UTC and e.tzinfo is UTC and now <= s < e
        for moment in (s, s + (e - s) / 2, e - timedelta(microseconds=1)):
            _assert_allowed(moment, zones, channel, preset)
    first = next_allowed(zones, channel, preset, now)
    if first is None:
        assert spans == []
    else:
        assert first >= now and first == spans[0][0]
        _assert_allowed(first, zones, channel, preset)


def test_next_allowed_looks_no_further_than_its_horizon() -> None:
    # Tokyo and New York under EU (Mon–Sat, 11-hour windows) meet only on a few days; in the week
    # from 1 November 2027 they do not, and an instant on the eighth day is not an answer.
    zones, now = ["Asia/Tokyo", "America/New_York"], datetime(2027, 11, 1, 1, tzinfo=UTC)
    spans = allowed_intervals(zones, "sms", EU, now)
    first = next_allowed(zones, "sms", EU, now)
    assert first == (spans[0][0] if spans else None)
    assert next_allowed(zones, "sms", EU, now, days=14) is not None


def test_a_chinese_address_is_on_beijing_time() -> None:
    # The tz database also lists Asia/Urumqi (Xinjiang's unofficial UTC+6) for China; China's
    # legal time, and the hours of its collection rules, are Beijing time.
    zones = candidate_zones(None, {"country": "CN"}, ["+8613812345678"], CN)
    assert zones == ["Asia/Shanghai"]
    eight = datetime(2026, 6, 10, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert next_allowed(zones, "sms", CN, eight) == eight.astimezone(UTC)
