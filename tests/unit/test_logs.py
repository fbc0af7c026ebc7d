import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from gateway import logs


@pytest.fixture
def configured_logs() -> Iterator[None]:
    """`logs.configure` binds the current stdout (capsys's): put the defaults back afterwards, so
    later tests do not log into a closed capture."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_personal_fields_are_redacted(capsys, configured_logs) -> None:
    logs.configure("info", json=True)
    structlog.get_logger().info(
        "sent", to="+14155550123", email="jane@example.com", amount="420.50", message_id="m1"
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["to"] == line["email"] == line["amount"] == "[redacted]"
    assert line["message_id"] == "m1"
