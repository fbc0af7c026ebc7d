"""Policy decisions per second over debtors with a realistic contact history (issue 4 point 11).

Pure CPU in this process, no gateway processes: the calls the dispatcher makes for each message
(gateway/services/dispatch.py), timed one by one over a day of messages in time order, so the
per-hour window memo sees what a worker sees. Debtors mix the four presets, have 1–3 phone
numbers (sometimes a foreign one), postal addresses across US states (split states, Hawaii,
Alaska, Arizona) and abroad, and 0–30 touches over the last 30 days on SMS, email and letter,
some with exempt purposes. Figures, one JSON line each:

- policy_zones_cold_per_s: candidate zones from stated zone, address and phones, no memo;
- policy_zones_memoized_per_s: the same through the dispatcher's per-process memo;
- policy_decide_per_s: decide() alone, zones already resolved;
- policy_decisions_per_s: decide() then, when it allows, caps.check() over the debtor's touches,
  and the maximum deferral (counted in open window time) on what defers.

Each figure gives decisions (or debtors) per second and p50/p99 µs per call. The two decision
figures are the steady state, every zone set's windows memoized for the hour; `first_in_hour_*`
beside them times the same messages as they first come, each window computed once per hour.

Alone: `python -m bench.policy` (BENCH_SCALE as for the whole bench; 20,000 debtors at 1).
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from gateway.services.policy_facts import debtor_zones
from scheduler.caps import CapPolicy, check
from scheduler.decisions import Touch, Verdict
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, bounded, decide
from scheduler.policy_config import cap_policy
from scheduler.presets import Preset, load_presets
from scheduler.zones import candidate_zones

# A Wednesday with no holiday in any preset's calendar: every window opens and closes once.
DAY = datetime(2026, 6, 10, tzinfo=UTC)
PRESET_MIX = {"US-RegF": 45, "UK-FCA": 20, "CN": 20, "EU": 15}
# (state, city line, area code): split states, Hawaii, Alaska, Arizona included.
US_PLACES = [
    ("NY", "New York, NY 10001", "212"),
    ("CA", "Los Angeles, CA 90012", "213"),
    ("IL", "Chicago, IL 60606", "312"),
    ("TX", "Houston, TX 77002", "713"),
    ("TX", "El Paso, TX 79901", "915"),
    ("FL", "Miami, FL 33101", "305"),
    ("FL", "Pensacola, FL 32501", "850"),
    ("AZ", "Phoenix, AZ 85001", "602"),
    ("CO", "Denver, CO 80202", "303"),
    ("WA", "Seattle, WA 98101", "206"),
    ("HI", "Honolulu, HI 96813", "808"),
    ("AK", "Anchorage, AK 99501", "907"),
    ("GA", "Atlanta, GA 30303", "404"),
    ("TN", "Nashville, TN 37201", "615"),
    ("IN", "Indianapolis, IN 46204", "317"),
    ("MI", "Detroit, MI 48226", "313"),
    ("OR", "Portland, OR 97204", "503"),
    ("NV", "Las Vegas, NV 89101", "702"),
]
# (country, address line, mobile prefix, digits after it) per preset outside the US.
ABROAD = {
    "UK-FCA": [("GB", "Leeds LS1 1AA", "+447700", 6), ("GB", "Glasgow G1 1AA", "+447911", 6)],
    "CN": [
        ("CN", "Chaoyang District, Beijing", "+86138", 8),
        ("CN", "Pudong, Shanghai", "+86139", 8),
    ],
    "EU": [
        ("DE", "10115 Berlin", "+49151", 8),
        ("FR", "75001 Paris", "+336", 8),
        ("ES", "28001 Madrid", "+346", 8),
        ("IE", "Dublin 2", "+35385", 7),
        ("FI", "00100 Helsinki", "+35840", 7),
    ],
}
FOREIGN = ["+5215512345678", "+353851234567", "+8613812345678", "+447700900123", "+61412345678"]
HISTORY_CHANNELS = {"sms": 50, "email": 35, "letter": 15}
HISTORY_PURPOSES = {
    "reminder": 80,
    "statutory_notice": 5,
    "reply_to_inbound": 8,
    "opt_out_confirmation": 4,
    "payment_receipt_requested": 3,
}
MESSAGE_CHANNELS = {"sms": 55, "email": 35, "letter": 10}
MESSAGE_PURPOSES = {"reminder": 90, "statutory_notice": 5, "reply_to_inbound": 5}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class Debtor:
    preset: Preset
    row: Any  # what the dispatcher reads: debtor (postal address), timezone
    identity: frozenset[str]  # phone numbers and email address
    touches: list[tuple[str, int, str]]  # (channel, seconds before the day, purpose), oldest first
    state: tuple[str, str | None, timedelta | None] = ("active", None, None)  # pause: from the day
    zones: tuple[str, ...] = ()

    def history(self, day: datetime) -> list[Touch]:
        return [Touch(channel, day - timedelta(seconds=s), p) for channel, s, p in self.touches]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _us_phone(rng: random.Random, area: str) -> str:
    return f"+1{area}{rng.randint(2, 9)}{_digits(rng, 2)}{_digits(rng, 4)}"


def make_debtors(n: int, seed: int = 4) -> list[Debtor]:
    """n debtors with addresses, phones and a contact history over the 30 days before a day."""
    rng = random.Random(seed)
    presets = load_presets()
    debtors = []
    for i in range(n):
        name = _pick(rng, PRESET_MIX)
        count = rng.choice((1, 1, 1, 2, 2, 3))
        if name == "US-RegF":
            _, line, area = rng.choice(US_PLACES)
            country, stated_zone = "US", None
            # Most keep a local number; some moved and kept the old one.
            areas = [area] + [rng.choice(US_PLACES)[2] for _ in range(count - 1)]
            phones = [_us_phone(rng, a) for a in areas]
        else:
            country, line, prefix, width = rng.choice(ABROAD[name])
            stated_zone = "Asia/Shanghai" if name == "CN" and rng.random() < 0.3 else None
            phones = [prefix + _digits(rng, width) for _ in range(count)]
        if rng.random() < 0.05:
            phones.append(rng.choice(FOREIGN))
        debtor = {"postal_address": {"lines": [f"{i} Main Street", line], "country": country}}
        touches = [
            (_pick(rng, HISTORY_CHANNELS), rng.randint(1, 30 * 86400), _pick(rng, HISTORY_PURPOSES))
            for _ in range(min(30, int(rng.expovariate(1 / 8))))  # 7 on average, at most 30
        ]
        touches.sort(key=lambda t: -t[1])
        roll = rng.random()
        state: tuple[str, str | None, timedelta | None] = (
            ("hold", "dispute", None)
            if roll < 0.03
            else ("paused", "promise_to_pay", timedelta(days=2))
            if roll < 0.05
            else ("active", None, None)
        )
        debtors.append(
            Debtor(
                presets[name],
                SimpleNamespace(debtor=debtor, timezone=stated_zone),
                frozenset([*phones, f"debtor{i}@example.com"]),
                touches,
                state,
            )
        )
    return debtors


def _timed(n: int, call: Callable[[int], object]) -> tuple[float, list[int]]:
    """(wall seconds, nanoseconds of each call) for call(0) … call(n - 1)."""
    each = []
    clock = time.perf_counter_ns
    began = time.perf_counter()
    for i in range(n):
        t0 = clock()
        call(i)
        each.append(clock() - t0)
    return time.perf_counter() - began, each


def _percentiles(each: list[int]) -> tuple[float, float]:
    """p50 and p99 in microseconds of durations in nanoseconds."""
    ordered = sorted(each)
    p99 = ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return round(ordered[len(ordered) // 2] / 1000, 2), round(p99 / 1000, 2)


def _figure(name: str, unit: str, wall: float, each: list[int], **context: Any) -> dict[str, Any]:
    p50, p99 = _percentiles(each)
    n = len(each)
    return {"figure": name, "value": round(n / wall, 1), "unit": unit, "p50_us": p50,
            "p99_us": p99, "n": n, **context}  # fmt: skip


def run_all(scale: float = 1.0) -> list[dict[str, Any]]:
    """Every figure of this benchmark, the headline (decide + caps) last."""
    debtors = make_debtors(max(1000, int(20_000 * scale)))
    _settle()
    figures = []

    def cold(i: int) -> tuple[str, ...]:
        d = debtors[i]
        postal = d.row.debtor["postal_address"]
        address = {"country": postal["country"], "line": postal["lines"][-1]}
        phones = sorted(a for a in d.identity if a.startswith("+"))
        return tuple(candidate_zones(d.row.timezone, address, phones, d.preset))

    wall, each = _timed(len(debtors), cold)
    figures.append(_figure("policy_zones_cold_per_s", "debtors/s", wall, each))
    for d in debtors:  # the first message of each debtor fills the memo
        d.zones = debtor_zones(d.row, d.identity, d.preset)
    wall, each = _timed(
        len(debtors), lambda i: debtor_zones(debtors[i].row, debtors[i].identity, debtors[i].preset)
    )
    zones_mean = sum(len(d.zones) for d in debtors) / len(debtors)
    figures.append(
        _figure(
            "policy_zones_memoized_per_s",
            "debtors/s",
            wall,
            each,
            zones_per_debtor_mean=round(zones_mean, 2),
        )
    )

    # decide() computes a zone set's windows once per hour and channel (scheduler.windows memo).
    # So each hour's messages are timed twice: first as they come (every window computed once),
    # then again (all memoized: the steady state of a worker with more messages that hour). Each
    # timing runs over a day of its own, so that neither starts with the other's windows.
    verdicts: Counter[str] = Counter()
    day = _messages(debtors, DAY)
    _settle()

    def decide_only(i: int) -> Verdict:
        preset, message, case, contact, now, _, _ = day[i]
        return decide(message, case, contact, now, preset).verdict

    first, again = _per_hour(day, decide_only)
    verdicts.update(v.value for v in first.results)
    figures.append(
        first.figure("policy_decide_per_s", again, verdicts=dict(verdicts), **_sets(day))
    )

    outcomes: Counter[str] = Counter()
    day = _messages(debtors, DAY + timedelta(days=7))
    _settle()

    def decide_and_cap(i: int) -> str:
        preset, message, case, contact, now, history, caps = day[i]
        decision = decide(message, case, contact, now, preset)
        if decision.verdict is Verdict.ALLOW:
            capped = check(message.channel, message.purpose, history, now, caps, preset.name)
            decision = capped or decision
        decision = bounded(decision, message, case, preset)
        return f"{decision.verdict.value} {decision.rule.split('.')[0]}".strip()

    first, again = _per_hour(day, decide_and_cap)
    outcomes.update(first.results)
    touches = sum(len(d.touches) for d in debtors) / len(debtors)
    figures.append(
        first.figure(
            "policy_decisions_per_s",
            again,
            debtors=len(debtors),
            touches_per_debtor_mean=round(touches, 1),
            presets=dict(Counter(d.preset.name for d in debtors)),
            outcomes=dict(outcomes),
            **_sets(day),
        )
    )
    gc.unfreeze()
    return figures


@dataclass
class Timing:
    wall: float = 0.0
    each: list[int] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    def figure(self, name: str, warm: Timing, **context: Any) -> dict[str, Any]:
        """The steady state (`warm`: windows memoized) as the figure, this first pass beside."""
        p50, p99 = _percentiles(self.each)
        return _figure(
            name,
            "decisions/s",
            warm.wall,
            warm.each,
            first_in_hour_per_s=round(len(self.each) / self.wall, 1),
            first_in_hour_p50_us=p50,
            first_in_hour_p99_us=p99,
            **context,
        )


def _settle() -> None:
    """Collect, then exempt what exists from later collections: the data set stands for what a
    worker holds for long (read once from the database), so the garbage collector's passes over
    it would be an artefact of the benchmark, not a cost of the decisions."""
    gc.collect()
    gc.freeze()


def _per_hour(day: list[Message], call: Callable[[int], Any]) -> tuple[Timing, Timing]:
    """Time every message of each hour as it comes, then all of that hour's once more."""
    first, again = Timing(), Timing()
    clock = time.perf_counter_ns
    start = 0
    while start < len(day):
        hour = day[start][4].replace(minute=0, second=0, microsecond=0)
        end = start
        while end < len(day) and day[end][4] - hour < timedelta(hours=1):
            end += 1
        for timing in (first, again):
            began = time.perf_counter()
            for i in range(start, end):
                t0 = clock()
                result = call(i)
                timing.each.append(clock() - t0)
                timing.results.append(result)
            timing.wall += time.perf_counter() - began
        start = end
    return first, again


def _sets(day: list[Message]) -> dict[str, Any]:
    """How many zone sets' windows a worker computes per hour (once per channel and preset)."""
    keys = {
        (case.zones, message.channel, preset.name, now.replace(minute=0, second=0, microsecond=0))
        for preset, message, case, _, now, _, _ in day
        if message.channel in ("sms", "email")
    }
    return {"window_sets_per_hour": round(len(keys) / 24, 1)}


Message = tuple[Preset, MessageFacts, CaseFacts, ContactFacts, datetime, list[Touch], CapPolicy]


def _messages(debtors: list[Debtor], day: datetime) -> list[Message]:
    """Two messages per debtor spread over `day`, in time order, with everything the dispatcher
    has in hand when it decides: facts, the debtor's touches (read from the database), caps."""
    rng = random.Random(11)
    caps = {name: cap_policy(p) for name, p in load_presets().items()}
    count = 2 * len(debtors)
    step = timedelta(seconds=86400 / count)
    out = []
    for i in range(count):
        d = debtors[rng.randrange(len(debtors))]
        channel = _pick(rng, MESSAGE_CHANNELS)
        state, reason, pause = d.state
        case = CaseFacts(
            state, reason, day + pause if pause else None, d.preset.name, zones=d.zones
        )
        status = "opted_out" if rng.random() < 0.02 else "active"
        out.append(
            (
                d.preset,
                MessageFacts(channel, _pick(rng, MESSAGE_PURPOSES), scheduled_at=day + step * i),
                case,
                ContactFacts(channel, status),
                day + step * i,
                d.history(day),
                caps[d.preset.name],
            )
        )
    return out


async def scenario(run: Any) -> dict[str, Any]:
    """For `python -m bench`: prints the detail figures, returns the headline for it to print."""
    figures = run_all(run.scale)
    for figure in figures[:-1]:
        print(json.dumps(figure), flush=True)
    return figures[-1]


def main() -> None:
    for figure in run_all(float(os.environ.get("BENCH_SCALE", "1"))):
        print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
