"""Which providers exist, and how each is built from the settings. The one registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from channels.base import Provider
from channels.email.smtp import SmtpEmail
from channels.letter.folder import FolderLetters
from channels.letter.lob import LobLetters
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
        tls_verify=settings.smtp_tls_verify,
        ca_file=settings.smtp_ca_file,
        pool_size=settings.smtp_pool_size,
        timeout_s=settings.smtp_timeout_s,
        dkim=_dkim(settings),
    )


def _dkim(settings: Settings) -> Any:
    if not settings.dkim_selector:
        return None
    from channels.email.signing import DkimSigner

    key = settings.dkim_private_key.encode()
    if not key:
        with open(settings.dkim_private_key_file, "rb") as pem:
            key = pem.read()
    return DkimSigner(selector=settings.dkim_selector, domain=settings.dkim_domain, private_key=key)


def _mailgun(settings: Settings, redis: Redis) -> Provider:
    from channels.email.mailgun import MailgunWebhooks

    if not settings.mailgun_webhook_signing_key:
        raise ValueError("the mailgun webhook needs MAILGUN_WEBHOOK_SIGNING_KEY")
    return MailgunWebhooks(signing_key=settings.mailgun_webhook_signing_key)


def _folder(settings: Settings, redis: Redis) -> Provider:
    assert settings.letters_dir is not None
    return FolderLetters(folder=settings.letters_dir)


def _lob(settings: Settings, redis: Redis) -> Provider:
    return LobLetters(
        base_url=settings.lob_base_url,
        api_key=settings.lob_api_key,
        webhook_secret=settings.lob_webhook_secret,
        sender_name=settings.letter_sender_name,
        return_address=settings.letter_return_address,
        return_country=settings.letter_return_country,
        double_sided=settings.lob_double_sided,
        timeout_s=settings.lob_timeout_s,
    )


def _batch(settings: Settings, redis: Redis) -> Provider:
    from channels.letter.batch import BatchDropLetters, drop_target  # asyncssh: only if used

    url = settings.letter_drop_url or (settings.data_dir / "letter-drop").resolve().as_uri()
    return BatchDropLetters(
        target=drop_target(
            url,
            key_file=settings.letter_drop_key_file,
            password=settings.letter_drop_password,
            known_hosts=settings.letter_drop_known_hosts,
            timeout_s=settings.letter_drop_timeout_s,
        )
    )


def _aliyun(settings: Settings, redis: Redis) -> Provider:
    from channels.sms.aliyun import AliyunSms

    return AliyunSms(
        base_url=settings.aliyun_base_url,
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret,
        region=settings.aliyun_region,
    )


def _smpp(settings: Settings, redis: Redis) -> Provider:
    from channels.sms.smpp import SmppSms

    return SmppSms(
        host=settings.smpp_host,
        port=settings.smpp_port,
        system_id=settings.smpp_system_id,
        password=settings.smpp_password,
        system_type=settings.smpp_system_type,
        source_addr=settings.smpp_source_addr or settings.sms_sender,
        redis=redis,
        parts_key_prefix=f"{settings.queue_prefix}:smpp:part:",
        window=settings.smpp_window,
        enquire_link_s=settings.smpp_enquire_link_s,
        submit_timeout_s=settings.smpp_submit_timeout_s,
        receipt_id_format=settings.smpp_receipt_id_format,
    )


REGISTRY: dict[str, tuple[str, Factory]] = {
    "sandbox": ("sms", _sandbox),
    "twilio": ("sms", _twilio),
    "aliyun": ("sms", _aliyun),
    "smpp": ("sms", _smpp),
    "smtp": ("email", _smtp),
    "mailgun": ("email", _mailgun),
    "folder": ("letter", _folder),
    "lob": ("letter", _lob),
    "batch": ("letter", _batch),
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
    # Receipts only (an ESP used as SMTP relay): built for its webhooks, never in a send order.
    for name in settings.email_webhook_providers:
        if REGISTRY.get(name, ("", None))[0] != "email":
            raise ValueError(f"EMAIL_WEBHOOK_PROVIDERS: {name!r} is not an email provider")
        built.setdefault(name, REGISTRY[name][1](settings, redis))
    return built


def build_one(name: str, settings: Settings, redis: Redis) -> Provider:
    if name not in REGISTRY:
        raise KeyError(name)
    return REGISTRY[name][1](settings, redis)
