"""Checks of the values `Settings` holds: choices that exist, numbers in range, URLs that can be
used, settings that only work together, and secrets fit for production. Every message says what
is wrong and, after "; ", how to fix it; none repeats a URL (it may carry a password) or a secret.

The checks take the `Settings` as `s` without importing it: settings imports this module."""

from __future__ import annotations

import math
from dataclasses import Field, fields
from typing import Any
from urllib.parse import urlsplit

from gateway import reply_tenants
from gateway.ratelimit import parse_rate_limits

ENVIRONMENTS = ("development", "production")
LOG_LEVELS = ("debug", "info", "warning", "error")
# The secrets README documents as defaults: anyone can read them, so only a laptop may use them.
DEFAULT_SECRET = "change-me-in-production"
DEFAULT_SANDBOX_SECRET = "sandbox-dev-secret"
MIN_SECRET_LENGTH = 16
PORTS = frozenset({"port", "smpp_port", "smtp_port", "catcher_port", "receiver_port"})
# Numbers for which 0 means something (no delay, never wait); every other one must be positive.
ZERO_ALLOWED = frozenset(
    {"sandbox_receipt_delay_s", "rate_limit_max_wait_s", "retry_base_s", "metrics_port"}
)


class SettingsError(ValueError):
    """An environment variable holds a value the gateway cannot use. The message says what is
    wrong, then (after "; ") how to fix it."""


def check_values(s: Any) -> None:
    """Raise `SettingsError` for the first value of `s` the gateway cannot use."""
    if s.environment not in ENVIRONMENTS:
        raise SettingsError(
            f"GATEWAY_ENV={s.environment!r} is not an environment; "
            f"set it to {' or '.join(ENVIRONMENTS)}"
        )
    if s.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(
            f"LOG_LEVEL={s.log_level!r} is not a level; use one of {', '.join(LOG_LEVELS)}"
        )
    for f in fields(s):
        check_number(f, getattr(s, f.name))
    check_urls(s)
    if s.dispatch_chunk > 1000:
        raise SettingsError("DISPATCH_CHUNK: must be between 1 and 1000; lower it")
    dkim = [s.dkim_selector, s.dkim_domain, s.dkim_private_key or s.dkim_private_key_file]
    if any(dkim) and not all(dkim):
        raise SettingsError(
            "DKIM signing is half configured; set all of DKIM_SELECTOR, DKIM_DOMAIN and "
            "DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE), or none of them"
        )
    if s.smpp_receipt_id_format not in ("same", "hex_to_dec", "dec_to_hex"):
        raise SettingsError(
            f"SMPP_RECEIPT_ID_FORMAT={s.smpp_receipt_id_format!r} is not a format; "
            "use same, hex_to_dec or dec_to_hex"
        )
    try:
        parse_rate_limits(s.rate_limits, "RATE_LIMITS")
        parse_rate_limits(s.sender_rate_limits, "SENDER_RATE_LIMITS")
    except ValueError as exc:
        raise SettingsError(
            f"{exc}; write provider=RATE[/s|m|h][:BURST],… e.g. twilio=50/s:100"
        ) from None
    try:
        reply_tenants.parse(s.reply_tenants)
    except ValueError as exc:
        raise SettingsError(f"{exc}; e.g. +15005550006=acme,@replies.acme.example=acme") from None
    if s.rate_limit_max_wait_s < 0:
        raise SettingsError("RATE_LIMIT_MAX_WAIT_S is negative; set 0 or more seconds")
    if not 0 <= s.metrics_port <= 65535:
        raise SettingsError(
            f"METRICS_PORT={s.metrics_port} is not a TCP port; set 1–65535, or 0 for none"
        )


def check_secrets(s: Any) -> None:
    """Outside development, refuse the documented default secrets (and empty or short ones):
    with them anyone could forge unsubscribe links, reply addresses and sandbox receipts."""
    if s.is_development:
        return
    wanted = [("GATEWAY_SECRET", s.secret, DEFAULT_SECRET)]
    if "sandbox" in s.sms_providers:
        wanted.append(("SANDBOX_SECRET", s.sandbox_secret, DEFAULT_SANDBOX_SECRET))
    for name, value, default in wanted:
        if value == default or len(value) < MIN_SECRET_LENGTH:
            problem = "is the documented default" if value == default else "is too short"
            raise SettingsError(
                f"{name} {problem}, which only GATEWAY_ENV=development may use; set {name} "
                f"to a random value of at least {MIN_SECRET_LENGTH} characters "
                "(e.g. `openssl rand -hex 32`)"
            )


def check_number(f: Field[Any], value: Any) -> None:
    """A number setting in its range: ports 1–65535, some may be 0, the rest positive."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    name = f.metadata.get("env", f.name)
    if not math.isfinite(value):
        raise SettingsError(f"{name}={value!r} is not a finite number; write e.g. 2.5")
    if f.name in PORTS:
        if not 1 <= value <= 65535:
            raise SettingsError(f"{name}={value!r} is not a port; use one from 1 to 65535")
    elif f.name in ZERO_ALLOWED:
        if value < 0:
            raise SettingsError(f"{name}={value!r} is negative; use 0 or more")
    elif value <= 0:
        raise SettingsError(f"{name}={value!r} must be positive; use a number above 0")


def check_urls(s: Any) -> None:
    """Every URL setting of `s` has a scheme the gateway speaks and a usable host and port."""
    if not (s.database_url.startswith("sqlite") or s.database_url.startswith("postgresql")):
        raise SettingsError(
            f"DATABASE_URL has the scheme {urlsplit(s.database_url).scheme!r}, which the gateway "
            "does not support; use sqlite:///path or postgresql://user@host/db"
        )
    check_url("DATABASE_URL", s.database_url, ("postgresql",), required=False)
    redis = urlsplit(s.redis_url)
    if redis.scheme == "unix":
        if not redis.path:
            raise SettingsError("REDIS_URL names no socket; write unix:///path/to/redis.sock")
    else:
        check_url("REDIS_URL", s.redis_url, ("redis", "rediss"), example="redis://host:6379/0")
    web = ("http", "https")
    check_url("GATEWAY_PUBLIC_URL", s.public_url, web, example="https://gateway.example.com")
    for name, url in [
        ("PRIVACY_NOTICE_URL", s.privacy_url),
        ("TWILIO_BASE_URL", s.twilio_base_url),
        ("ALIYUN_BASE_URL", s.aliyun_base_url),
        ("LOB_BASE_URL", s.lob_base_url),
    ]:
        if url:
            check_url(name, url, web, example="https://host.example")
    if s.letter_drop_url and urlsplit(s.letter_drop_url).scheme not in ("file", "sftp"):
        raise SettingsError(
            "LETTER_DROP_URL is neither file:// nor sftp://; "
            "write file:///path or sftp://user@host:port/path"
        )


def check_url(
    name: str, url: str, schemes: tuple[str, ...], *, example: str = "", required: bool = True
) -> None:
    """A URL with one of `schemes`, a host and a numeric port if any. Messages never repeat the
    URL, which may carry a password."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in schemes:
        if not required:
            return
        raise SettingsError(
            f"{name} is not a {' or '.join(schemes)} URL; write it as {example or schemes[0] + '://host'}"
        )
    try:
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError:
        raise SettingsError(f"{name} has a port that is not a number; fix the port") from None
    if not parts.hostname and scheme not in ("postgresql",):
        raise SettingsError(f"{name} names no host; write it as {example}")
