"""`reminder-gateway run` keeps its processes running: a worker killed with SIGKILL is started
again and the next reminder still goes out; a process that keeps dying stops the whole gateway
with one line; SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.gateway_run import RunningGateway
from tests.support import case_body, reminder

pytestmark = pytest.mark.slow
PRESETS = Path(__file__).resolve().parents[1] / "fixtures" / "presets"


def started(gateway: RunningGateway, process: str) -> list[int]:
    return [e["pid"] for e in gateway.events("gateway_process_started") if e["process"] == process]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_worker_is_restarted_and_the_next_reminder_goes_out(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path, key="rg_supervised_examplesecret", PRESETS_DIR=str(PRESETS))
    try:
        gateway.wait_healthy()
        [worker] = gateway.wait_until(lambda: started(gateway, "worker"))
        os.kill(worker, signal.SIGKILL)

        pids = gateway.wait_until(
            lambda: len(started(gateway, "worker")) == 2 and started(gateway, "worker")
        )
        assert pids[1] != worker and alive(pids[1])
        [exited] = gateway.events("gateway_process_exited")
        assert exited["process"] == "worker" and exited["exit"] == "killed by SIGKILL"

        gateway.call("PUT", "/v1/cases/S-1", case_body())  # TEST-OPEN: no contact window
        accepted = gateway.call("POST", "/v1/reminders", reminder("S-1", "sms"))
        gateway.wait_until(
            lambda: (
                gateway.call("GET", f"/v1/messages/{accepted['id']}")["state"]
                in ("sent", "delivered")
            )
        )
        children = [e["pid"] for e in gateway.events("gateway_process_started")]
    finally:
        code = gateway.stop(signal.SIGTERM)
    assert code == 0, gateway.log()[-3000:]
    assert not [pid for pid in children if alive(pid)], "SIGTERM stops every process"


def test_a_process_that_keeps_dying_stops_the_gateway_with_one_line(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path, "--max-restarts", "1", key="rg_storm_examplesecret")
    try:
        gateway.wait_healthy()
        [first] = gateway.wait_until(lambda: started(gateway, "worker"))
        os.kill(first, signal.SIGKILL)
        second = gateway.wait_until(
            lambda: len(started(gateway, "worker")) == 2 and started(gateway, "worker")[1]
        )
        os.kill(second, signal.SIGKILL)
        code = gateway.process.wait(timeout=30)
    finally:
        gateway.stop()
    assert code != 0
    [line] = [line for line in gateway.log().splitlines() if "reminder-gateway: error:" in line]
    assert "the worker process exited 2 times within 60 s (last: killed by SIGKILL)" in line
    children = [e["pid"] for e in gateway.events("gateway_process_started")]
    assert len(children) == 6 and not [pid for pid in children if alive(pid)]
