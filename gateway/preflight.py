"""What a command checks before it starts: providers and their credentials, files, secrets, and
that the database and Redis answer. A problem is a `StartupError` the command line prints as one
line (`reminder-gateway: error: <what is wrong>; <how to fix it>`) instead of a traceback later.
"""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway import providers
from gateway.settings import Settings
from gateway.store import keys

# Commands that serve (and sign links, verify callbacks) with the deployment's secrets.
SERVING = frozenset({"api", "worker", "scheduler", "receiver"})
# Commands that need the database at the schema's head, and those that only need to reach it.
MIGRATED = SERVING | {"keys", "export", "verify-timeline"}
REACHES_DATABASE = MIGRATED | {"migrate", "run"}
REACHES_REDIS = frozenset({"api", "worker", "scheduler"})
PROBE_TIMEOUT_S = 5.0

KINDS = {"sms": "an SMS", "email": "an email", "letter": "a letter"}
CHANNEL_VARIABLES = {
    "sms": "SMS_PROVIDERS",
    "email": "EMAIL_PROVIDERS",
    "letter": "LETTER_PROVIDERS",
}
# What a configured provider cannot work without: (variable, Settings field).
CREDENTIALS = {
    "twilio": [
        ("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
        ("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
    ],
    "aliyun": [
        ("ALIYUN_ACCESS_KEY_ID", "aliyun_access_key_id"),
        ("ALIYUN_ACCESS_KEY_SECRET", "aliyun_access_key_secret"),
    ],
    "lob": [("LOB_API_KEY", "lob_api_key")],
    "mailgun": [("MAILGUN_WEBHOOK_SIGNING_KEY", "mailgun_webhook_signing_key")],
}


class StartupError(Exception):
    """A command cannot start: what is wrong and how to fix it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")


def check(settings: Settings, command: str) -> None:
    """Everything `command` needs that can be known before it starts; raise `StartupError`."""
    _check_providers(settings)
    _check_files(settings)
    if command == "run" and settings.dev_api_key and not keys.well_formed(settings.dev_api_key):
        raise StartupError(
            "GATEWAY_DEV_API_KEY is not an API key",
            f"write it as {keys.FORMAT}, e.g. rg_dev_5f2b9c0d7e1a4b38, or unset it to get one",
        )
    if command in SERVING or command == "run":
        settings.check_secrets()
    if command in REACHES_REDIS or (command == "run" and "REDIS_URL" in os.environ):
        _probe_redis(settings)
    if command in REACHES_DATABASE:
        asyncio.run(_probe_database(settings, migrated=command in MIGRATED))


def _check_providers(settings: Settings) -> None:
    for channel, names in (
        ("sms", settings.sms_providers),
        ("email", settings.email_providers),
        ("letter", settings.letter_providers),
    ):
        variable = CHANNEL_VARIABLES[channel]
        known = sorted(name for name, (kind, _) in providers.REGISTRY.items() if kind == channel)
        for name in names:
            if providers.REGISTRY.get(name, ("", None))[0] != channel:
                raise StartupError(
                    f"{variable} names {name!r}, which is not {KINDS[channel]} provider",
                    f"use {', '.join(known)}",
                )
    for name in settings.email_webhook_providers:
        if providers.REGISTRY.get(name, ("", None))[0] != "email":
            raise StartupError(
                f"EMAIL_WEBHOOK_PROVIDERS names {name!r}, which is not an email provider",
                "use mailgun, or leave it empty",
            )
    used = {*settings.sms_providers, *settings.email_providers, *settings.letter_providers}
    used |= set(settings.email_webhook_providers)
    for name in sorted(used & CREDENTIALS.keys()):
        for variable, attribute in CREDENTIALS[name]:
            if not getattr(settings, attribute):
                raise StartupError(
                    f"the {name} provider is configured but {variable} is empty",
                    f"set {variable}, or take {name} out of the provider list",
                )


def _check_files(settings: Settings) -> None:
    files = [
        ("SMTP_CA_FILE", settings.smtp_ca_file),
        ("LETTER_DROP_KEY_FILE", settings.letter_drop_key_file),
        ("LETTER_DROP_KNOWN_HOSTS", settings.letter_drop_known_hosts),
    ]
    if settings.dkim_selector and not settings.dkim_private_key:
        files.append(("DKIM_PRIVATE_KEY_FILE", settings.dkim_private_key_file))
    for variable, path in files:
        if path and not os.access(path, os.R_OK):
            raise StartupError(
                f"{variable} names {path}, which does not exist or cannot be read",
                "fix the path or the file's permissions",
            )


def where(url: str) -> str:
    """host:port of a URL, for messages: never the user name or password it may carry."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).splitlines()[0] if str(cause) else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


async def _probe_database(settings: Settings, *, migrated: bool) -> None:
    if settings.is_sqlite:
        path = settings.async_database_url.split("///", 1)[-1]
        # Never create the file here: a refused start writes nothing.
        if migrated and not os.path.exists(path):
            raise StartupError(
                f"the database {path} does not exist yet", "run `reminder-gateway migrate` first"
            )
        if not migrated:
            return
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(
        settings.async_database_url,
        **({} if settings.is_sqlite else {"connect_args": {"timeout": PROBE_TIMEOUT_S}}),
    )
    try:
        async with engine.connect() as conn:
            if not migrated:
                return
            version = await conn.run_sync(_schema_version)
    except Exception as exc:  # noqa: BLE001 — any driver error is "cannot connect"
        raise StartupError(
            f"cannot connect to the database at {where(settings.database_url)} ({_reason(exc)})",
            "start it, or fix DATABASE_URL (host, port, user, password, database)",
        ) from None
    finally:
        await engine.dispose()
    head = _head()
    if version != head:
        raise StartupError(
            f"the database schema is at {version or 'nothing'}, not {head}",
            "run `reminder-gateway migrate`",
        )


def _schema_version(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(sa.text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _head() -> str | None:
    from alembic.script import ScriptDirectory

    from gateway.store.migrate import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _probe_redis(settings: Settings) -> None:
    import redis

    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StartupError(
            f"cannot reach Redis at {where(settings.redis_url)} ({_reason(exc)})",
            "start Redis, or fix REDIS_URL",
        ) from None
    finally:
        client.close()
