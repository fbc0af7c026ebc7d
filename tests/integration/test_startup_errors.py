"""Start-up errors of every command: one line `reminder-gateway: error: <what>; <how to fix it>`
on stderr, exit status 2, no traceback, nothing written (real subprocesses)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

pytestmark = pytest.mark.slow

CLEARED = (
    "GATEWAY_",
    "DATABASE_",
    "REDIS_",
    "SMTP_",
    "SMS_",
    "PRESETS_",
    "CADENCES_",
    "LOG_",
    "DKIM_",
)


def gateway(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    base.update({"GATEWAY_DATA_DIR": str(tmp_path / "var"), "GATEWAY_ENV": "development", **env})
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *mentions: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert line.startswith("reminder-gateway: error: "), line
    what, sep, fix = line.removeprefix("reminder-gateway: error: ").partition("; ")
    assert sep and what and fix, f"no '<what is wrong>; <how to fix it>' in {line!r}"
    for mention in mentions:
        assert mention in line, f"{mention!r} not in {line!r}"
    return line


def bad_presets(tmp_path: Path) -> Path:
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "acme.yaml").write_text("name: ACME\nbase: NOWHERE\n")
    return folder


CASES = [
    pytest.param(["run"], {"GATEWAY_DEV_API_KEY": "secret"}, ["GATEWAY_DEV_API_KEY"], id="dev-key"),
    pytest.param(["migrate"], {"SMTP_PORT": "lots"}, ["SMTP_PORT", "'lots'"], id="integer"),
    pytest.param(["migrate"], {"RETRY_BASE_S": "nan"}, ["RETRY_BASE_S"], id="not-finite"),
    pytest.param(["scheduler"], {"PUMP_INTERVAL_S": "0"}, ["PUMP_INTERVAL_S"], id="zero-interval"),
    pytest.param(["api"], {"GATEWAY_PORT": "99999"}, ["GATEWAY_PORT"], id="port-range"),
    pytest.param(["receiver"], {"RECEIVER_PORT": "-1"}, ["RECEIVER_PORT"], id="negative-port"),
    pytest.param(["migrate"], {"DATABASE_URL": "mysql://x/y"}, ["DATABASE_URL"], id="db-scheme"),
    pytest.param(
        ["migrate"],
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"},
        ["DATABASE_URL", "127.0.0.1:1"],
        id="db-unreachable",
    ),
    pytest.param(
        ["migrate"],
        {"DATABASE_URL": "postgresql://gw:hunter2@127.0.0.1:1/nothing"},
        ["DATABASE_URL"],
        id="db-password-not-printed",
    ),
    pytest.param(
        ["worker", "--burst"], {"REDIS_URL": "localhost:6379"}, ["REDIS_URL"], id="redis-scheme"
    ),
    pytest.param(
        ["worker", "--burst"],
        {"REDIS_URL": "redis://127.0.0.1:1/0"},
        ["REDIS_URL"],
        id="redis-down",
    ),
    pytest.param(
        ["api"], {"GATEWAY_PUBLIC_URL": "gateway.example"}, ["GATEWAY_PUBLIC_URL"], id="public-url"
    ),
    pytest.param(["migrate"], {"LOG_LEVEL": "loud"}, ["LOG_LEVEL"], id="log-level"),
    pytest.param(
        ["keys", "create", "--all-scopes"],
        {"PRESETS_DIR": "/nonexistent"},
        ["PRESETS_DIR"],
        id="presets-dir",
    ),
    pytest.param(
        ["worker", "--burst"], {"SMS_PROVIDERS": "twilo"}, ["SMS_PROVIDERS", "twilo"], id="provider"
    ),
    pytest.param(
        ["worker", "--burst"],
        {"SMS_PROVIDERS": "twilio"},
        ["TWILIO_ACCOUNT_SID"],
        id="provider-credentials",
    ),
    pytest.param(
        ["worker", "--burst"],
        {
            "DKIM_SELECTOR": "s1",
            "DKIM_DOMAIN": "collector.example",
            "DKIM_PRIVATE_KEY_FILE": "/nope",
        },
        ["DKIM_PRIVATE_KEY_FILE"],
        id="dkim-file",
    ),
    pytest.param(["migrate"], {"GATEWAY_ENV": "staging"}, ["GATEWAY_ENV"], id="environment"),
]


@pytest.mark.parametrize(("args", "env", "mentions"), CASES)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], mentions: list[str]
) -> None:
    line = assert_one_line_error(gateway(tmp_path, *args, **env), *mentions)
    assert "hunter2" not in line, "a password in a URL is never printed"
    assert not (tmp_path / "var" / "gateway.db").exists(), "a refused start writes nothing"


def test_a_bad_presets_file_names_the_file(tmp_path: Path) -> None:
    result = gateway(tmp_path, "migrate", PRESETS_DIR=str(bad_presets(tmp_path)))
    assert_one_line_error(result, "acme.yaml", "NOWHERE")


def test_a_bad_cadence_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "cadences"
    folder.mkdir()
    (folder / "acme.yaml").write_text(
        "name: acme\nsteps:\n  - {name: a, dpd: 1, channel: sms, template: frist_notice}\n"
    )
    result = gateway(tmp_path, "migrate", CADENCES_DIR=str(folder))
    line = assert_one_line_error(result, "CADENCES_DIR", "acme.yaml", "steps[0].template")
    assert "frist_notice" in line and "first_notice" in line
    assert not (tmp_path / "var" / "gateway.db").exists(), "a refused start writes nothing"
    missing = gateway(tmp_path, "migrate", CADENCES_DIR=str(tmp_path / "nowhere"))
    assert_one_line_error(missing, "CADENCES_DIR", "does not exist")


def test_a_bad_port_option_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(gateway(tmp_path, "api", "--port", "99999"), "--port")


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    assert gateway(tmp_path, "migrate").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = gateway(tmp_path, "api", "--port", str(port))
    assert_one_line_error(result, str(port), "in use")


def test_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    result = gateway(tmp_path, "worker", "--burst", GATEWAY_PORT=str(free_port()))
    assert_one_line_error(result, "reminder-gateway migrate")


def test_an_unknown_scope_is_one_line(tmp_path: Path) -> None:
    assert gateway(tmp_path, "migrate").returncode == 0
    result = gateway(tmp_path, "keys", "create", "--scope", "everything")
    assert_one_line_error(result, "unknown scope", "everything")


@pytest.mark.parametrize("command", ["api", "worker", "scheduler", "receiver"])
def test_a_deployment_with_the_documented_secrets_does_not_start(
    tmp_path: Path, command: str
) -> None:
    assert gateway(tmp_path, "migrate").returncode == 0
    # GATEWAY_ENV unset: a deployment, unless it says it is a laptop.
    result = gateway(tmp_path, command, GATEWAY_ENV="")
    assert "GATEWAY_ENV=''" in result.stderr or "GATEWAY_SECRET" in result.stderr
    default = gateway(tmp_path, command, GATEWAY_ENV="production")
    assert_one_line_error(default, "GATEWAY_SECRET", "GATEWAY_ENV=development")
    sandbox = gateway(tmp_path, command, GATEWAY_ENV="production", GATEWAY_SECRET="9d1f" * 8)
    assert_one_line_error(sandbox, "SANDBOX_SECRET")
