"""Reports that unit tests leave for the end of the run (the reply corpus scores), printed in the
terminal summary so they show in `make test` and `pytest -q` without `-s`."""

from __future__ import annotations

import pytest
from _pytest.terminal import TerminalReporter

REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> list[str]:
    """Lines appended here are printed once the run ends."""
    return request.config.stash.setdefault(REPORTS, [])


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(REPORTS, [])
    if lines:
        terminalreporter.section("reply classifier")
        for line in lines:
            terminalreporter.write_line(line)
