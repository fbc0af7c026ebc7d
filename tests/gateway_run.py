"""`reminder-gateway run` as a real process for tests: started on free ports in a temporary data
folder, waited on until healthy, its JSON log lines read back, stopped by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import free_port


class RunningGateway:
    def __init__(self, tmp_path: Path, *args: str, key: str, **env: str) -> None:
        self.port, self.key, self.log_path = free_port(), key, tmp_path / "run.log"
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GATEWAY_", "REDIS_", "DATABASE_", "SMTP_"))
        }
        clean.update(
            GATEWAY_DATA_DIR=str(tmp_path / "var"),
            GATEWAY_DEV_API_KEY=key,
            CATCHER_PORT=str(free_port()),
            LOG_JSON="true",
            **env,
        )
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "run", "--port", str(self.port), *args],
                env=clean,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, event: str) -> list[dict[str, Any]]:
        """The run's (and its children's) JSON log lines with this event name."""
        out = []
        for line in self.log().splitlines():
            if line.startswith("{") and f'"{event}"' in line:
                record = json.loads(line)
                if record.get("event") == event:
                    out.append(record)
        return out

    def wait_until(self, what: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Poll `what()` until it returns something truthy; fail with the run's log."""
        deadline = time.monotonic() + timeout
        while True:
            found = what()
            if found:
                return found
            assert self.process.poll() is None or found, f"run exited\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"timed out\n{self.log()[-3000:]}"
            time.sleep(0.2)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                    return bool(json.load(resp)["status"] == "ok")
            except OSError:
                return False

        self.wait_until(healthy, timeout)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
