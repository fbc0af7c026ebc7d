"""Child processes of `reminder-gateway run`, kept running: a child that dies is started again
after a backoff, unless it keeps dying (a restart storm) or says its configuration is wrong, and
then the whole gateway stops with one line saying which child and why.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

log = structlog.get_logger()

EXIT_CONFIG = 2  # the command line's status for a setting or key that is wrong
POLL_S = 0.2
STOP_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """At most `max_restarts` restarts of one child within `window_s`; the n-th restart in the
    window waits `backoff_s * 2**(n-1)`, at most `backoff_cap_s`."""

    max_restarts: int = 5
    window_s: float = 60.0
    backoff_s: float = 0.5
    backoff_cap_s: float = 10.0


class RestartBudget:
    """How one child's exits are answered. Pure: the caller passes the (monotonic) time."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.restarts: deque[float] = deque()

    def on_exit(self, now: float) -> float | None:
        """Seconds to wait before the restart, or None: too many restarts within the window."""
        while self.restarts and self.restarts[0] <= now - self.policy.window_s:
            self.restarts.popleft()
        if len(self.restarts) >= self.policy.max_restarts:
            return None
        self.restarts.append(now)
        delay = self.policy.backoff_s * 2 ** (len(self.restarts) - 1)
        return float(min(self.policy.backoff_cap_s, delay))


def describe(code: int) -> str:
    """An exit status as people read it: `code 1`, `killed by SIGKILL`."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"code {code}"


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    budget: RestartBudget
    process: subprocess.Popen[bytes] | None = None
    restart_at: float = 0.0
    started: int = 0


class Supervisor:
    """Start `commands` ((name, argv, environment) triples), restart them per `policy` until
    `stop` is set; `run()` returns the gateway's exit status."""

    def __init__(
        self,
        commands: Sequence[tuple[str, list[str], dict[str, str]]],
        policy: RestartPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.children = [
            Child(name, argv, env, RestartBudget(policy)) for name, argv, env in commands
        ]
        self.stop = threading.Event()

    def run(self) -> int:
        try:
            for child in self.children:
                self._start(child)
            while not self.stop.is_set():
                code = self._tend(self.clock())
                if code is not None:
                    return code
                self.stop.wait(POLL_S)
            return 0
        finally:
            self._stop_all()

    def _tend(self, now: float) -> int | None:
        """Restart what is due; the exit status to stop with, or None to go on."""
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at and not self.stop.is_set():
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.process = None
            how = describe(code)
            if code == EXIT_CONFIG:
                return self._give_up(f"the {child.name} process refused to start ({how})", code)
            delay = child.budget.on_exit(now)
            if delay is None:
                policy = child.budget.policy
                return self._give_up(
                    f"the {child.name} process exited {policy.max_restarts + 1} times within "
                    f"{policy.window_s:g} s (last: {how})",
                    1,
                )
            log.warning("gateway_process_exited", process=child.name, exit=how, restart_in_s=delay)
            child.restart_at = now + delay
        return None

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=child.env)
        child.started += 1
        log.info(
            "gateway_process_started",
            process=child.name,
            pid=child.process.pid,
            restarts=child.started - 1,
        )

    def _give_up(self, what: str, code: int) -> int:
        print(
            f"reminder-gateway: error: {what}; stopping the gateway — see that process's log "
            "above, fix the cause and start it again",
            file=sys.stderr,
            flush=True,
        )
        return code

    def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
