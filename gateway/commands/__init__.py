"""What each `reminder-gateway` command does; `gateway.cli` parses the arguments and calls one.

`serve`: the long-running processes (api, worker, scheduler, receiver, catcher, and run, which
supervises them). `admin`: one-shot commands that prepare or inspect a deployment (migrate, keys,
demo, lint-templates). `evidence`: export and verify-timeline. A command takes the parsed
arguments and the `Settings` and returns the exit status; heavy imports stay inside it, so
`reminder-gateway --help` starts fast.
"""

from __future__ import annotations

import sys

EXIT_CONFIG = 2  # a setting, a key or the environment is wrong: restarting will not help


def fail(problem: object) -> int:
    """Print one line, as argparse does for a bad option, and return the exit status."""
    print(f"reminder-gateway: error: {problem}", file=sys.stderr, flush=True)
    return EXIT_CONFIG
