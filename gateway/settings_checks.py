"""Checks of the values `Settings` holds: numbers in range, URLs that can be used. Every message
says what is wrong and, after "; ", how to fix it; none repeats a URL (it may carry a password)."""

from __future__ import annotations

import math
from dataclasses import Field
from typing import Any
from urllib.parse import urlsplit

PORTS = frozenset({"port", "smpp_port", "smtp_port", "catcher_port", "receiver_port"})
# Numbers for which 0 means something (no delay, never wait); every other one must be positive.
ZERO_ALLOWED = frozenset(
    {"sandbox_receipt_delay_s", "rate_limit_max_wait_s", "retry_base_s", "metrics_port"}
)


class SettingsError(ValueError):
    """An environment variable holds a value the gateway cannot use. The message says what is
    wrong, then (after "; ") how to fix it."""


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
    """Every URL setting of `s` (the `Settings`, not imported here: settings imports this module) has a scheme the gateway speaks and a usable host and port."""
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
