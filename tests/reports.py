"""Reports that tests leave for the end of the run (the reply corpus scores), printed in the
terminal summary so they show in `make test` and `pytest -q` without `-s`.

`make test` runs the suite in two processes (pytest-xdist): a worker's lines travel to the
controller in its `workeroutput` when it finishes, and the controller prints them all."""

from __future__ import annotations

from typing import Any

import pytest
from _pytest.terminal import TerminalReporter

REPORTS = pytest.StashKey[list[str]]()
KEY = "reminder_gateway_reports"


@pytest.fixture
def report(request: pytest.FixtureRequest) -> list[str]:
    """Lines appended here are printed once the run ends."""
    return request.config.stash.setdefault(REPORTS, [])


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # an xdist worker: hand the lines to the controller
        output[KEY] = session.config.stash.get(REPORTS, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    lines = getattr(node, "workeroutput", {}).get(KEY, [])
    node.config.stash.setdefault(REPORTS, []).extend(lines)


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(REPORTS, [])
    if lines:
        terminalreporter.section("reply classifier")
        for line in lines:
            terminalreporter.write_line(line)
