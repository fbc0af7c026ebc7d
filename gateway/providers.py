"""Which providers exist, and how each is built from the settings. The one registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from channels.base import Provider
from channels.email.smtp import SmtpEmail
from channels.letter.folder import FolderLetters
from channels.sms.sandbox import SandboxSms
from channels.sms.twilio import TwilioSms
from gateway.redis_keys import Keys
from gateway.settings import Settings

Factory = Callable[[Settings, Redis], Provider]


def _sandbox(settings: Settings, redis: Redis) -> Provider:
    return SandboxSms(
        redis=redis,
        outbox_key=Keys(settings.queue_prefix).sandbox_sms,
        secret=settings.sandbox_secret,
        receipts_url=f"{settings.public_url}/v1/providers/sandbox/receipts",
        receipt_delay_s=settings.sandbox_receipt_delay_s,
    )


def _twilio(settings: Settings, redis: Redis) -> Provider:
    return TwilioSms(
        base_url=settings.twilio_base_url,
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        sender=settings.sms_sender,
        public_url=settings.public_url,
    )


def _smtp(settings: Settings, redis: Redis) -> Provider:
    return SmtpEmail(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.email_from,
        sender_name=settings.collector_name,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        pool_size=settings.smtp_pool_size,
        timeout_s=settings.smtp_timeout_s,
    )


def _folder(settings: Settings, redis: Redis) -> Provider:
    assert settings.letters_dir is not None
    return FolderLetters(folder=settings.letters_dir)


def _aliyun(settings: Settings, redis: Redis) -> Provider:
    from channels.sms.aliyun import AliyunSms

    return AliyunSms(
        base_url=settings.aliyun_base_url,
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret,
        region=settings.aliyun_region,
    )


REGISTRY: dict[str, tuple[str, Factory]] = {
    "sandbox": ("sms", _sandbox),
    "twilio": ("sms", _twilio),
    "aliyun": ("sms", _aliyun),
    "smtp": ("email", _smtp),
    "folder": ("letter", _folder),
}


def register(name: str, channel: str, factory: Factory) -> None:
    REGISTRY[name] = (channel, factory)


def configured(settings: Settings) -> dict[str, list[str]]:
    """channel → provider names in order of preference, checked against the registry."""
    out = {
        "sms": settings.sms_providers,
        "email": settings.email_providers,
        "letter": settings.letter_providers,
    }
    for channel, names in out.items():
        for name in names:
            if name not in REGISTRY:
                raise ValueError(
                    f"unknown {channel} provider {name!r}; known: {', '.join(sorted(REGISTRY))}"
                )
            if REGISTRY[name][0] != channel:
                raise ValueError(
                    f"provider {name!r} is a {REGISTRY[name][0]} provider, not {channel}"
                )
    return out


def build_all(settings: Settings, redis: Redis) -> dict[str, Any]:
    """Every configured provider, built once (per process)."""
    built: dict[str, Any] = {}
    for names in configured(settings).values():
        for name in names:
            built[name] = REGISTRY[name][1](settings, redis)
    return built


def build_one(name: str, settings: Settings, redis: Redis) -> Provider:
    if name not in REGISTRY:
        raise KeyError(name)
    return REGISTRY[name][1](settings, redis)
