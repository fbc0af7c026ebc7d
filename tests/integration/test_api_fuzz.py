"""Every operation of the served /openapi.json, fuzzed by schemathesis: schema-valid and invalid
requests, checked for server errors, undocumented status codes, content types and response bodies
that do not match the document, and 405 answers without `Allow`.

Deterministic (derandomized, no example database) and bounded (a few dozen examples per operation
and mode, no shrinking), on SQLite: the subject is the handlers and the document, not the database.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.api.app import create_app
from gateway.settings import Settings
from tests.support import case_body

EXAMPLES = 20
# positive_data_acceptance is left out: some refusals of schema-valid requests are the business,
# not the document (an unknown preset, an unsubscribe token we did not sign, expires_at before
# not_before). What JSON Schema can state (path patterns, which fields a type needs), it states.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "missing_required_header",
    "ignored_auth",
]


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, str]]:
    """The API on its port in a thread of its own (schemathesis calls are blocking); its base URL
    and an all-scopes key. One case exists, so reads of it get past the 404."""
    from aiohttp import web

    from gateway.setup import create_key
    from gateway.store.keys import SCOPES

    key = asyncio.run(create_key(settings, scopes=list(SCOPES), name="fuzz"))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(settings))
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", settings.port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the API did not start"
    base = f"http://127.0.0.1:{settings.port}"
    import requests

    created = requests.put(
        f"{base}/v1/cases/FUZZ-1",
        json=case_body(),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    yield base, key
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


# A batch over 1,000 items is a 413 (too large), a refusal like any other 4xx.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422]
"""


def _schemathesis(
    base: str, key: str, folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).with_name("st")
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG)
    return subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{base}/openapi.json",
            "--header",
            f"Authorization: Bearer {key}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES),
            "--generation-deterministic",
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            "--warnings",
            "off",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_operation_survives_fuzzing(served: tuple[str, str], tmp_path: Path) -> None:
    base, key = served
    run = _schemathesis(base, key, tmp_path, "--checks", ",".join(CHECKS))
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_replies_inbox_survives_fuzzing(served: tuple[str, str], tmp_path: Path) -> None:
    """The inbox's operations again, with open replies to list, read and resolve (a letter
    recorded on the case, a text from a sender on no case)."""
    import requests

    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    letter = {"channel": "letter", "body": "I dispute this debt, I never had this account"}
    for _ in range(3):
        resp = requests.post(
            f"{base}/v1/cases/FUZZ-1/replies", json=letter, headers=auth, timeout=120
        )
        assert resp.status_code == 201, resp.text
    stray = {
        "from": "+14155550999",
        "to": "+15005550006",
        "body": "who is this? what is this about",
    }
    resp = requests.post(
        f"{base}/v1/providers/sandbox/inbound", json=stray, headers=auth, timeout=120
    )
    assert resp.status_code == 200, resp.text
    run = _schemathesis(
        base, key, tmp_path, "--checks", ",".join(CHECKS), "--include-path-regex", "replies"
    )
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
    assert "Tested: 4" in run.stdout, run.stdout
