"""The README's promise: `reminder-gateway run` on a bare machine, then its curl examples work."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(heading, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


REPLIES = "# A debtor replies by SMS"


def until(predicate: Any, timeout: float, describe: Any) -> Any:
    """Poll `predicate()` until it returns something truthy; fail with `describe()` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, describe()
        time.sleep(0.3)
    return value


def run_script(script: str, cwd: Path) -> str:
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_run_then_the_readme_examples_work(tmp_path: Path) -> None:
    port, smtp = free_port(), free_port()
    key = "rg_readme_examplesecret"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "REDIS_", "DATABASE_", "SMTP_"))
    }
    env.update(
        GATEWAY_DATA_DIR=str(tmp_path / "var"),
        GATEWAY_DEV_API_KEY=key,
        CATCHER_PORT=str(smtp),
        LOG_JSON="true",
    )
    log = (tmp_path / "run.log").open("wb")  # noqa: SIM115 — the child writes to it until stopped
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Ready when the API answers and the worker and the scheduler are up: on a busy machine
        # the worker can start seconds after the API, and then the README's later steps (a reply,
        # a promise to pay) would reach the case before its first reminders were even decided.
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    healthy = json.load(resp)["status"] == "ok"
            except OSError:
                return False
            started = (tmp_path / "run.log").read_text()
            return healthy and '"worker_started"' in started and '"scheduler_role"' in started

        until(ready, 90, lambda: (tmp_path / "run.log").read_text())
        assert "unix://" in (tmp_path / "run.log").read_text(), (
            "make run should embed its own Redis"
        )

        # The README's steps in two parts, as a reader would type them: the reminders first, and
        # the debtor's reply and upstream's events once the gateway has decided those reminders.
        header = 'set -euo pipefail\ncurl() { command curl -sS --fail-with-body "$@"; }\n'
        header += f"export KEY={key}\nexport GW=http://127.0.0.1:{port}\n"
        steps = readme_block("## Try it")
        steps = steps.replace("export KEY=rg_dev_...", "").replace(
            "export GW=http://127.0.0.1:8080", ""
        )
        reminders, replies = steps.split(REPLIES, 1)
        first = run_script(header + reminders, tmp_path)
        assert '"status":"accepted"' in first

        # The reminders the README enqueued go out through the sandbox, the catcher and the letters folder.
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/cases/C-1001/timeline",
            headers={"Authorization": f"Bearer {key}"},
        )

        def timeline() -> list[dict[str, Any]]:
            with urllib.request.urlopen(req) as resp:
                return list(json.load(resp)["entries"])

        def decided(entries: list[dict[str, Any]]) -> bool:
            kinds = [e["kind"] for e in entries]
            window = any(
                e["kind"] == "deferred" and e["data"]["rule"].startswith("window.") for e in entries
            )
            return "deferred" in kinds and ("delivered" in kinds or window)

        until(lambda: decided(timeline()), 60, lambda: [e["kind"] for e in timeline()])
        second = run_script(header + REPLIES + replies, tmp_path)
        assert "gateway_messages" in second
        entries = timeline()  # the reply was stored before its callback was answered
        kinds = [e["kind"] for e in entries]
        assert "reply_received" in kinds
        # US-RegF: inside the debtor's contact window the SMS goes out and the email waits for the
        # 4-hour minimum gap; outside it both wait for the window. Either way each says why.
        # (The README's promise to pay may also defer the email, as a pause: rule hold.paused.)
        deferred = [e["data"] for e in entries if e["kind"] == "deferred"]
        rules = {d["rule"] for d in deferred}
        assert all(d["preset"] == "US-RegF" for d in deferred if d["rule"] != "hold.paused")
        if "delivered" in kinds:
            assert rules & {"cap.min_gap", "hold.paused"}
        else:
            assert rules & {"window.sms", "window.email"}
        assert not list((tmp_path / "var" / "mail").glob("*.eml"))
    finally:
        gateway.send_signal(signal.SIGINT)
        try:
            gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.kill()
    assert gateway.returncode == 0, (tmp_path / "run.log").read_text()[-3000:]
