"""Contact windows under load, with real worker and scheduler processes on the real clock.

Workers read the wall clock, so the windows here are real: an operator preset written at test
time opens or closes its window at a minute boundary a little ahead of now, in a fixed-offset zone
where that minute is around midday (so no window ever straddles local midnight). Each debtor
states that zone and the preset lets a stated zone override the others, so it is the only one.

A local Twilio-compatible server stands in for the provider and records when each message reaches
it: that, not the gateway's own bookkeeping, is when a message left. Its rate limit is a token
bucket in Redis shared by four worker processes; the scheduler process runs with the production
pump interval, so "within a few seconds of the opening" is measured as deployed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiohttp import web

from gateway.settings import Settings
from gateway.store.tables import messages as M
from gateway.store.tables import timeline as T
from tests.support import (
    ApiClient,
    case_body,
    free_port,
    reminder,
    settings_env,
    start_worker,
    workers_waiting,
)

pytestmark = pytest.mark.slow

SID, TOKEN = "AC" + "2" * 32, "window-load-token"
RATE, BURST = 20, 10  # the provider's rate limit: tokens a second, bucket size
# Token times are Redis server time, arrivals the test's clock: the same machine's, read a moment
# apart.
CLOCKS = timedelta(milliseconds=50)
MARGIN = timedelta(minutes=1)  # the presets' safety margin
# A send that started just before the cutoff may reach the provider a moment after it.
ON_THE_WIRE = timedelta(seconds=1)
SPAN = timedelta(hours=6)  # how long each day's window is
DEFAULTS = {f.name: f.default for f in fields(Settings)}
ALL_DAYS = "[mon, tue, wed, thu, fri, sat, sun]"


@dataclass(frozen=True)
class Window:
    """One day's window in `zone`: [start, end), sending allowed until `end - MARGIN`."""

    preset: str
    zone: str
    start: datetime  # UTC
    end: datetime  # UTC

    @property
    def cutoff(self) -> datetime:
        return self.end - MARGIN

    def yaml(self, *, caps: bool) -> str:
        tz = ZoneInfo(self.zone)
        start, end = self.start.astimezone(tz), self.end.astimezone(tz)
        assert start.date() == end.date(), "the window must not straddle local midnight"
        window = f'{{days: {ALL_DAYS}, start: "{start:%H:%M}", end: "{end:%H:%M}", tag: P}}'
        text = (
            f"name: {self.preset}\nbase: US-RegF\n"
            f"windows:\n  sms:\n    - {window}\n  email:\n    - {window}\n"
            f"safety_margin_min: {{value: {MARGIN.seconds // 60}, tag: P}}\n"
            "holidays:\n  mode: {value: allow, tag: P}\n"
            "tz:\n  mode: {value: consumer_stated_overrides, tag: P}\n"
        )
        if not caps:
            text += "caps: {sms: [], email: [], total: []}\nmin_gap_minutes: {value: 0, tag: P}\n"
        return text


def minute_ahead(lead_s: float) -> datetime:
    """The first whole minute at least `lead_s` seconds from now."""
    earliest = datetime.now(UTC) + timedelta(seconds=lead_s)
    boundary = earliest.replace(second=0, microsecond=0)
    return boundary if boundary >= earliest else boundary + timedelta(minutes=1)


def midday_zone(instant: datetime) -> str:
    """A fixed-offset zone where `instant` falls around noon (Etc/GMT-N is UTC+N)."""
    offset = 12 - instant.hour  # from -11 to +12, all of them real zones
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture
def windows(tmp_path: Path) -> dict[str, Window]:
    """Two operator presets: LOAD-CLOSE stops sending at a minute ≥ 55 s ahead (no caps);
    LOAD-OPEN opens at a minute ≥ 40 s ahead (US-RegF's caps). The lead covers starting the
    gateway's processes and the test's set-up on a loaded machine."""
    cutoff = minute_ahead(55)
    closing = Window("LOAD-CLOSE", midday_zone(cutoff), cutoff + MARGIN - SPAN, cutoff + MARGIN)
    opening_at = minute_ahead(40)
    opening = Window("LOAD-OPEN", midday_zone(opening_at), opening_at, opening_at + SPAN)
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "load-close.yaml").write_text(closing.yaml(caps=False))
    (folder / "load-open.yaml").write_text(opening.yaml(caps=True))
    return {"close": closing, "open": opening}


@pytest.fixture
def settings(settings: Settings, windows: dict[str, Window], tmp_path: Path) -> Settings:
    return settings.with_(
        presets_dir=tmp_path / "presets",
        sms_providers=["twilio"],
        twilio_base_url=f"http://127.0.0.1:{free_port()}",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        rate_limits=f"twilio={RATE}/s:{BURST}",
    )


class RecordingTwilio:
    """Twilio's Messages resource; remembers when each message arrived and for whom."""

    def __init__(self) -> None:
        self.received: dict[str, tuple[datetime, str]] = {}  # sid → (arrival, To)

    async def create(self, request: web.Request) -> web.Response:
        arrived = datetime.now(UTC)
        form = await request.post()
        sid = f"SM{len(self.received):032d}"
        self.received[sid] = (arrived, str(form["To"]))
        return web.json_response({"sid": sid, "status": "queued", "num_segments": "1"}, status=201)

    def arrivals(self) -> list[datetime]:
        return sorted(at for at, _ in self.received.values())


@pytest.fixture
async def twilio(settings: Settings, aiohttp_server: Any) -> RecordingTwilio:
    fake = RecordingTwilio()
    app = web.Application()
    app.router.add_post(f"/2010-04-01/Accounts/{SID}/Messages.json", fake.create)
    await aiohttp_server(app, port=int(settings.twilio_base_url.rsplit(":", 1)[1]))
    return fake


def start_scheduler(settings: Settings) -> Any:
    """A real `reminder-gateway scheduler` with the production pump interval and requeue age."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.data_dir / "scheduler.log", "wb")  # noqa: SIM115 — the child owns it
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "scheduler"],
        env=settings_env(
            settings,
            PUMP_INTERVAL_S=str(DEFAULTS["pump_interval_s"]),
            REQUEUE_AFTER_S=str(DEFAULTS["requeue_after_s"]),
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    return process


def start_gateway(settings: Settings) -> list[Any]:
    """Four workers and a scheduler, as `reminder-gateway run` would start them."""
    return [start_worker(settings) for _ in range(4)] + [start_scheduler(settings)]


def stop(processes: list[Any]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def add_debtors(api: ApiClient, window: Window, count: int, first: int) -> list[str]:
    """`count` debtors (one case each) stating the window's zone, with a phone and no address."""

    async def one(i: int) -> str:
        ref = f"{window.preset}-{i}"
        body = case_body(
            preset=window.preset, phone=f"+1415555{first + i:04d}", email=None, postal=False
        )
        body["debtor"]["timezone"] = window.zone
        assert (await api.put(f"/v1/cases/{ref}", body, check=False)).status in (200, 201)
        return ref

    refs: list[str] = []
    for chunk in range(0, count, 25):
        refs += await asyncio.gather(*(one(i) for i in range(chunk, min(count, chunk + 25))))
    return refs


async def submit(api: ApiClient, items: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for chunk in range(0, len(items), 1000):
        resp = await api.post("/v1/reminders/batch", {"items": items[chunk : chunk + 1000]})
        assert resp.status == 202, resp
        ids += [r["id"] for r in resp.body["results"]]
    return ids


async def rows(runtime: Any) -> list[Any]:
    """Every message's state and times (not its content: this is polled)."""
    c = M.c
    wanted = (c.id, c.state, c.state_reason, c.next_attempt_at, c.attempted_at, c.sent_at)
    async with runtime.engine.connect() as conn:
        return list(await conn.execute(sa.select(*wanted, c.provider_ref)))


async def entries(runtime: Any, kind: str) -> list[Any]:
    async with runtime.engine.connect() as conn:
        return list(await conn.execute(sa.select(T).where(T.c.kind == kind)))


def standing(got: list[Any]) -> str:
    """Where the messages stand: how many per state, rule and next attempt."""
    counts = Counter(
        (
            r.state,
            (r.state_reason or "").split(":")[0],
            r.next_attempt_at and f"{r.next_attempt_at:%H:%M:%S}",
        )
        for r in got
    )
    return ", ".join(f"{n}× {key}" for key, n in counts.most_common())


async def until_rows(runtime: Any, done: Any, timeout: float, what: str) -> list[Any]:
    """Poll every message row until `done(rows)`; on timeout, fail saying where they stand."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await rows(runtime)
        if done(got):
            return got
        if loop.time() > deadline:
            raise AssertionError(f"{what} not within {timeout}s: {standing(got)}")
        await asyncio.sleep(0.5)


async def sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


HANDED_OVER = ("sent", "delivered")
CAP_RULES = {"cap.sms.rolling_24h", "cap.total.rolling_24h", "cap.min_gap"}


async def test_nothing_leaves_after_the_window_closes_under_load_with_four_workers(
    api: ApiClient, runtime: Any, twilio: RecordingTwilio, windows: dict[str, Window]
) -> None:
    window = windows["close"]
    # The processes start while the debtors are added (both take a while on a loaded machine).
    processes = start_gateway(runtime.settings)
    try:
        # 3,000 SMS over 300 debtors, ten each, at 20/s: far more than fits before the close.
        refs = await add_debtors(api, window, 300, first=1000)
        items = [reminder(ref, "sms", key=f"{ref}-{n}") for ref in refs for n in range(10)]
        await workers_waiting(runtime, len(processes) - 1)  # the last is the scheduler
        ids = await submit(api, items)
        ahead = (window.cutoff - datetime.now(UTC)).total_seconds()
        assert ahead > 15, "set-up took too long"
        await sleep_until(window.cutoff)
        flowing = len(twilio.received)
        # Claims still waiting for a token at the cutoff go back to be decided again, and
        # everything left is deferred to tomorrow.
        next_opening = window.start + timedelta(days=1)

        final = await until_rows(
            runtime,
            lambda got: all(
                r.state in HANDED_OVER
                or (r.state == "deferred" and r.next_attempt_at == next_opening)
                for r in got
            ),
            timeout=60,
            what="every message sent or deferred to tomorrow",
        )
        settling = (datetime.now(UTC) - window.cutoff).total_seconds()
        await asyncio.sleep(2)  # anything still on its way would reach the provider now
    finally:
        stop(processes)

    assert len(final) == len(ids) == 3000
    sent = [r for r in final if r.state in HANDED_OVER]
    waiting = [r for r in final if r.state == "deferred"]
    assert sent and waiting, "the close did not interrupt a flowing backlog"
    assert flowing > 200, "the backlog was not flowing when the window closed"
    last_second = [t for t in twilio.arrivals() if t >= window.cutoff - timedelta(seconds=1)]
    assert last_second, "nothing was sent in the last second before the cutoff"
    logs = [p.log_path.read_text() for p in processes[:4]]
    assert all('"event": "dispatched"' in log for log in logs), "a worker had nothing to do"
    # Every send was decided strictly before the cutoff (window end minus the safety margin),
    # and no send started after it: a worker waits for a token only until the cutoff, so what
    # reaches the provider after it is at most a request already on the wire.
    assert max(r.attempted_at for r in sent) < window.cutoff
    arrivals = twilio.arrivals()
    assert len(arrivals) == len(sent), "the provider got messages the gateway did not record"
    assert {r.provider_ref for r in sent} == set(twilio.received)
    assert arrivals[-1] < window.cutoff + ON_THE_WIRE < window.end
    assert max(r.sent_at for r in sent) < window.cutoff + ON_THE_WIRE
    timeline_sent = await entries(runtime, "sent")
    assert len(timeline_sent) == len(sent) and max(e.at for e in timeline_sent) < window.end
    # The rest wait for tomorrow's opening, explained on the timeline as the window rule.
    assert {r.state_reason.split(":")[0] for r in waiting} == {"window.sms"}
    deferred = {
        e.message_id: e.data
        for e in await entries(runtime, "deferred")
        if e.data["rule"] == "window.sms"
    }
    for r in waiting:
        assert deferred[r.id]["until"] == next_opening.isoformat()
        assert deferred[r.id]["preset"] == window.preset
    overshoot = (arrivals[-1] - window.cutoff).total_seconds()
    print(
        f"window close: {len(sent)} sent ({flowing} by the cutoff), {len(waiting)} deferred; last "
        f"arrival {overshoot:+.2f}s after the cutoff; set-up ended {ahead:.1f}s before the "
        f"cutoff; settled {settling:.1f}s after it"
    )


async def test_a_backlog_released_at_the_opening_flows_at_the_rate_within_caps(
    api: ApiClient, runtime: Any, twilio: RecordingTwilio, windows: dict[str, Window]
) -> None:
    window = windows["open"]
    processes = start_gateway(runtime.settings)
    try:
        # 200 debtors: half have one reminder waiting, half have four. US-RegF allows each one
        # SMS a day, so exactly 200 may leave, at 20/s: about ten seconds of flow.
        refs = await add_debtors(api, window, 200, first=3000)
        items = [
            reminder(ref, "sms", key=f"{ref}-{n}")
            for i, ref in enumerate(refs)
            for n in range(1 if i % 2 else 4)
        ]
        await workers_waiting(runtime, len(processes) - 1)  # the last is the scheduler
        ids = await submit(api, items)

        before = await until_rows(
            runtime,
            lambda got: all(r.state == "deferred" for r in got),
            # Until just before the opening: after it, they would rightly not be deferred.
            timeout=max(1.0, (window.start - datetime.now(UTC)).total_seconds() - 0.5),
            what="every message deferred",
        )
        ahead = (window.start - datetime.now(UTC)).total_seconds()
        assert ahead > 0, "set-up took too long"
        # Deferred to the opening exactly, by the window rule.
        assert {r.next_attempt_at for r in before} == {window.start}
        assert {r.state_reason.split(":")[0] for r in before} == {"window.sms"}
        assert not twilio.received

        await sleep_until(window.start)
        final = await until_rows(
            runtime,
            lambda got: (
                len(twilio.received) >= len(refs)
                and all(r.state in (*HANDED_OVER, "deferred") for r in got)
            ),
            timeout=60,
            what="one SMS to every debtor, the rest deferred",
        )
        await asyncio.sleep(2)  # a second send to anyone would have arrived by now
    finally:
        stop(processes)

    assert len(final) == len(ids) == 500
    arrivals = twilio.arrivals()
    first = (arrivals[0] - window.start).total_seconds()
    assert 0 <= first <= 5, f"first send {first:.2f}s after the opening"
    # At the provider's rate: no send reaches it before its token was due. The bucket is full
    # at the opening, so the n-th send (counting from 1) can leave no earlier than (n - BURST) /
    # RATE seconds after it. A worker that wakes late only sends later than its token, so this
    # holds however loaded the machine is (late wake-ups can bunch sends together, which the
    # busiest second printed below shows, but never bring one forward).
    early = [
        (n, (at - window.start).total_seconds())
        for n, at in enumerate(arrivals, start=1)
        if at < window.start + timedelta(seconds=max(0, n - BURST) / RATE) - CLOCKS
    ]
    assert not early, f"sends ahead of the rate (n, seconds after the opening): {early[:5]}"
    busiest = max(
        sum(1 for t in arrivals[i:] if t < start + timedelta(seconds=1))
        for i, start in enumerate(arrivals)
    )
    span = (arrivals[-1] - arrivals[0]).total_seconds()
    # Caps still hold: every debtor got exactly one SMS; the rest wait for the cap.
    per_phone = Counter(to for _, to in twilio.received.values())
    assert len(per_phone) == len(refs) and set(per_phone.values()) == {1}
    waiting = [r for r in final if r.state == "deferred"]
    assert len(waiting) == 300
    assert {r.state_reason.split(":")[0] for r in waiting} <= CAP_RULES
    print(
        f"window open: first send {first:.2f}s after the opening; {len(arrivals)} sends over "
        f"{span:.2f}s ({(len(arrivals) - BURST) / span:.1f}/s after the burst); busiest second "
        f"{busiest}; set-up ended {ahead:.1f}s before the opening"
    )
