from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError


def test_defaults_are_local_and_safe() -> None:
    s = Settings.from_env({})
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.sms_providers == ["sandbox"] and s.email_providers == ["smtp"]


def test_environment_values_are_converted() -> None:
    s = Settings.from_env(
        {
            "SMTP_PORT": "1025",
            "SMTP_STARTTLS": "yes",
            "SMS_PROVIDERS": "twilio, sandbox",
            "GATEWAY_DATA_DIR": "/tmp/x",
            "RETRY_BASE_S": "2.5",
        }
    )
    assert (s.smtp_port, s.smtp_starttls, s.sms_providers, s.retry_base_s) == (
        1025,
        True,
        ["twilio", "sandbox"],
        2.5,
    )
    assert s.data_dir == Path("/tmp/x") and s.letters_dir == Path("/tmp/x/letters")


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SMTP_PORT": "many"}, "SMTP_PORT"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_postgres_urls_get_the_async_driver() -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"})
    assert s.async_database_url == "postgresql+asyncpg://u@h/db"


def test_every_setting_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name, _ in Settings.documented() if f"`{name}`" not in readme]
    assert not missing, f"README configuration table lacks {missing}"


@pytest.mark.parametrize("raw", ["nine", "-1", "65536"])
def test_metrics_port_must_be_a_port(raw: str) -> None:
    with pytest.raises(SettingsError, match="METRICS_PORT"):
        Settings.from_env({"METRICS_PORT": raw})


def test_metrics_endpoint_is_off_unless_asked_for() -> None:
    assert Settings.from_env({}).metrics_port == 0
    s = Settings.from_env({"METRICS_PORT": "9101", "METRICS_HOST": "0.0.0.0"})
    assert (s.metrics_port, s.metrics_host) == (9101, "0.0.0.0")


def test_only_development_may_use_the_documented_secrets() -> None:
    Settings.from_env({"GATEWAY_ENV": "development"}).check_secrets()
    assert Settings.from_env({}).environment == "production"
    with pytest.raises(SettingsError, match="GATEWAY_SECRET is the documented default"):
        Settings.from_env({}).check_secrets()
    with pytest.raises(SettingsError, match="GATEWAY_SECRET is too short"):
        Settings.from_env({"GATEWAY_SECRET": ""}).check_secrets()
    strong = {"GATEWAY_SECRET": "9d1f" * 8}
    with pytest.raises(SettingsError, match="SANDBOX_SECRET"):
        Settings.from_env(strong).check_secrets()
    # The sandbox's key matters only where the sandbox takes callbacks.
    Settings.from_env({**strong, "SMS_PROVIDERS": "twilio"}).check_secrets()
    Settings.from_env({**strong, "SANDBOX_SECRET": "0e7a" * 8}).check_secrets()


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GATEWAY_ENV": "staging"}, "GATEWAY_ENV"),
        ({"GATEWAY_PORT": "0"}, "GATEWAY_PORT"),
        ({"SMTP_POOL_SIZE": "0"}, "SMTP_POOL_SIZE"),
        ({"CLAIM_LEASE_S": "inf"}, "CLAIM_LEASE_S"),
        ({"REDIS_URL": "redis://h:port/0"}, "REDIS_URL"),
        ({"GATEWAY_PUBLIC_URL": "ftp://x"}, "GATEWAY_PUBLIC_URL"),
        ({"LETTER_DROP_URL": "s3://bucket"}, "LETTER_DROP_URL"),
    ],
)
def test_every_message_says_what_and_how_to_fix(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    what, sep, fix = str(caught.value).partition("; ")
    assert name in what and sep and fix


def test_a_password_in_a_url_is_never_in_a_message() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_URL": "redis://:hunter2@h:port/0"})
    assert "hunter2" not in str(caught.value)
