"""`reminder-gateway run` gives the scheduler and each worker its own metrics port (free ones, or
numbered from METRICS_PORT) and prints where each one is."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("numbered", [True, False], ids=["from METRICS_PORT", "free ports"])
def test_run_serves_the_scheduler_and_each_worker_on_its_own_port(
    tmp_path: Path, numbered: bool
) -> None:
    port, smtp, base = free_port(), free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "REDIS_", "DATABASE_", "SMTP_", "METRICS_"))
    }
    env.update(GATEWAY_DATA_DIR=str(tmp_path / "var"), CATCHER_PORT=str(smtp), LOG_JSON="true")
    if numbered:
        env["METRICS_PORT"] = str(base)
    log_path = tmp_path / "run.log"
    log = log_path.open("wb")  # noqa: SIM115 — the child writes to it until stopped
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"metrics: .*\n", log_path.read_text()):
            assert time.monotonic() < deadline and gateway.poll() is None, log_path.read_text()
            time.sleep(0.2)
        line = re.search(r"metrics: (.*)\n", log_path.read_text()).group(1)
        urls = dict(re.findall(r"(scheduler|worker \d+) (http://\S+/metrics)", line))
        assert set(urls) == {"scheduler", "worker 1", "worker 2"}, line
        assert len(set(urls.values())) == 3, urls
        if numbered:
            assert urls["scheduler"].endswith(f":{base}/metrics"), urls  # the first port is free

        bodies: dict[str, str] = {}
        while len(bodies) < len(urls):
            for name, url in urls.items():
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        bodies[name] = resp.read().decode()
                except OSError:
                    pass  # that process is still starting
            assert time.monotonic() < deadline, (sorted(bodies), log_path.read_text()[-3000:])
            time.sleep(0.2)
        assert "gateway_scheduler_leader" in bodies["scheduler"]
        for name in ("worker 1", "worker 2"):
            assert "gateway_claims_total" in bodies[name]
            assert "gateway_scheduler_leader" not in bodies[name]
    finally:
        gateway.send_signal(signal.SIGINT)
        try:
            gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.kill()
        log.close()
    assert gateway.returncode == 0, log_path.read_text()[-3000:]
