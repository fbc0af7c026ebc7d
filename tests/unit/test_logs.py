import json

import structlog

from gateway import logs


def test_personal_fields_are_redacted(capsys) -> None:
    logs.configure("info", json=True)
    structlog.get_logger().info(
        "sent", to="+14155550123", email="jane@example.com", amount="420.50", message_id="m1"
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["to"] == line["email"] == line["amount"] == "[redacted]"
    assert line["message_id"] == "m1"
