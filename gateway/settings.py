"""The one place that reads the environment.

Every process builds a `Settings` once (`Settings.from_env()`) and passes it down; nothing else in
the code base calls `os.environ`. Defaults are safe for a laptop: SQLite and files under `./var`,
Redis on localhost, the SMS sandbox and a local SMTP catcher.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gateway import settings_checks as checks
from gateway.settings_checks import SettingsError
from gateway.settings_env import convert

__all__ = ["Settings", "SettingsError"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one gateway process. Field metadata names the environment variable."""

    data_dir: Path = field(default=Path("var"), metadata={"env": "GATEWAY_DATA_DIR"})
    # What processes keep for one another (the trained reply model); default: data_dir/cache.
    cache_dir: Path | None = field(default=None, metadata={"env": "GATEWAY_CACHE_DIR"})
    database_url: str = field(default="", metadata={"env": "DATABASE_URL"})
    redis_url: str = field(default="redis://127.0.0.1:6379/0", metadata={"env": "REDIS_URL"})
    public_url: str = field(default="http://127.0.0.1:8080", metadata={"env": "GATEWAY_PUBLIC_URL"})
    host: str = field(default="127.0.0.1", metadata={"env": "GATEWAY_HOST"})
    port: int = field(default=8080, metadata={"env": "GATEWAY_PORT"})
    # `development` (`make run`, the test suite) may use the documented default secrets; any
    # other deployment must set its own (checked when api, worker, scheduler or receiver start).
    environment: str = field(default="production", metadata={"env": "GATEWAY_ENV"})
    secret: str = field(default=checks.DEFAULT_SECRET, metadata={"env": "GATEWAY_SECRET"})
    dev_api_key: str = field(default="", metadata={"env": "GATEWAY_DEV_API_KEY"})
    log_level: str = field(default="info", metadata={"env": "LOG_LEVEL"})
    log_json: bool | None = field(default=None, metadata={"env": "LOG_JSON"})

    # Sender identity shown in templates.
    presets_dir: Path | None = field(default=None, metadata={"env": "PRESETS_DIR"})
    # Operator cadence files (YAML); one whose name is a built-in's replaces it.
    cadences_dir: Path | None = field(default=None, metadata={"env": "CADENCES_DIR"})

    collector_name: str = field(default="Acme Collections", metadata={"env": "COLLECTOR_NAME"})
    collector_phone: str = field(default="+1 800 555 0100", metadata={"env": "COLLECTOR_PHONE"})
    # The collector's privacy notice (GDPR Art. 13/14, linked from EU messages); empty: the
    # gateway's public URL + /privacy, which a deployment must serve or replace.
    privacy_url: str = field(default="", metadata={"env": "PRIVACY_NOTICE_URL"})
    sms_sender: str = field(default="+15005550006", metadata={"env": "SMS_SENDER"})

    # Providers, in order of preference per channel.
    sms_providers: list[str] = field(
        default_factory=lambda: ["sandbox"], metadata={"env": "SMS_PROVIDERS"}
    )
    email_providers: list[str] = field(
        default_factory=lambda: ["smtp"], metadata={"env": "EMAIL_PROVIDERS"}
    )
    letter_providers: list[str] = field(
        default_factory=lambda: ["folder"], metadata={"env": "LETTER_PROVIDERS"}
    )

    sms_max_parts: int = field(default=4, metadata={"env": "SMS_MAX_PARTS"})
    sandbox_secret: str = field(
        default=checks.DEFAULT_SANDBOX_SECRET, metadata={"env": "SANDBOX_SECRET"}
    )
    sandbox_receipt_delay_s: float = field(default=0.2, metadata={"env": "SANDBOX_RECEIPT_DELAY_S"})

    twilio_base_url: str = field(
        default="https://api.twilio.com", metadata={"env": "TWILIO_BASE_URL"}
    )
    twilio_account_sid: str = field(default="", metadata={"env": "TWILIO_ACCOUNT_SID"})
    twilio_auth_token: str = field(default="", metadata={"env": "TWILIO_AUTH_TOKEN"})

    aliyun_base_url: str = field(
        default="https://dysmsapi.aliyuncs.com", metadata={"env": "ALIYUN_BASE_URL"}
    )
    aliyun_access_key_id: str = field(default="", metadata={"env": "ALIYUN_ACCESS_KEY_ID"})
    aliyun_access_key_secret: str = field(default="", metadata={"env": "ALIYUN_ACCESS_KEY_SECRET"})
    aliyun_region: str = field(default="cn-hangzhou", metadata={"env": "ALIYUN_REGION"})

    # SMPP 3.4: one bound transceiver session per worker process.
    smpp_host: str = field(default="127.0.0.1", metadata={"env": "SMPP_HOST"})
    smpp_port: int = field(default=2775, metadata={"env": "SMPP_PORT"})
    smpp_system_id: str = field(default="", metadata={"env": "SMPP_SYSTEM_ID"})
    smpp_password: str = field(default="", metadata={"env": "SMPP_PASSWORD"})
    smpp_system_type: str = field(default="", metadata={"env": "SMPP_SYSTEM_TYPE"})
    smpp_source_addr: str = field(default="", metadata={"env": "SMPP_SOURCE_ADDR"})
    smpp_window: int = field(default=10, metadata={"env": "SMPP_WINDOW"})
    smpp_enquire_link_s: float = field(default=30.0, metadata={"env": "SMPP_ENQUIRE_LINK_S"})
    smpp_submit_timeout_s: float = field(default=10.0, metadata={"env": "SMPP_SUBMIT_TIMEOUT_S"})
    # How the SMSC writes ids: `same`, or `hex_to_dec` / `dec_to_hex` (submit_sm_resp → receipt).
    smpp_receipt_id_format: str = field(default="same", metadata={"env": "SMPP_RECEIPT_ID_FORMAT"})

    smtp_host: str = field(default="127.0.0.1", metadata={"env": "SMTP_HOST"})
    smtp_port: int = field(default=2525, metadata={"env": "SMTP_PORT"})
    smtp_username: str = field(default="", metadata={"env": "SMTP_USERNAME"})
    smtp_password: str = field(default="", metadata={"env": "SMTP_PASSWORD"})
    smtp_starttls: bool = field(default=False, metadata={"env": "SMTP_STARTTLS"})
    # Check the server's certificate (STARTTLS); a CA file for a private CA; false only for a lab.
    smtp_tls_verify: bool = field(default=True, metadata={"env": "SMTP_TLS_VERIFY"})
    smtp_ca_file: str = field(default="", metadata={"env": "SMTP_CA_FILE"})
    smtp_pool_size: int = field(default=8, metadata={"env": "SMTP_POOL_SIZE"})
    smtp_timeout_s: float = field(default=15.0, metadata={"env": "SMTP_TIMEOUT_S"})
    email_from: str = field(default="reminders@collector.example", metadata={"env": "EMAIL_FROM"})
    catcher_host: str = field(default="127.0.0.1", metadata={"env": "CATCHER_HOST"})
    catcher_port: int = field(default=2525, metadata={"env": "CATCHER_PORT"})

    # Mail that comes back: VERP bounces and case replies, on the gateway's own SMTP receiver.
    # An empty domain turns that address off (envelope sender EMAIL_FROM, no Reply-To).
    bounce_domain: str = field(
        default="bounces.collector.example", metadata={"env": "BOUNCE_DOMAIN"}
    )
    reply_domain: str = field(default="replies.collector.example", metadata={"env": "REPLY_DOMAIN"})
    # Whose a reply from a sender on no case is, by where it was sent (`gateway.reply_tenants`).
    reply_tenants: str = field(default="*=default", metadata={"env": "REPLY_TENANTS"})
    receiver_host: str = field(default="127.0.0.1", metadata={"env": "RECEIVER_HOST"})
    receiver_port: int = field(default=2526, metadata={"env": "RECEIVER_PORT"})
    receiver_max_bytes: int = field(
        default=10 * 1024 * 1024, metadata={"env": "RECEIVER_MAX_BYTES"}
    )

    # DKIM signing: all of selector, domain and a key (PEM text or file), or none.
    dkim_selector: str = field(default="", metadata={"env": "DKIM_SELECTOR"})
    dkim_domain: str = field(default="", metadata={"env": "DKIM_DOMAIN"})
    dkim_private_key: str = field(default="", metadata={"env": "DKIM_PRIVATE_KEY"})
    dkim_private_key_file: str = field(default="", metadata={"env": "DKIM_PRIVATE_KEY_FILE"})

    # ESP event webhooks taken in without sending through that ESP (e.g. `mailgun` as SMTP relay).
    email_webhook_providers: list[str] = field(
        default_factory=list, metadata={"env": "EMAIL_WEBHOOK_PROVIDERS"}
    )
    mailgun_webhook_signing_key: str = field(
        default="", metadata={"env": "MAILGUN_WEBHOOK_SIGNING_KEY"}
    )

    letters_dir: Path | None = field(default=None, metadata={"env": "LETTERS_DIR"})
    letter_return_address: str = field(
        default="PO Box 100, Springfield, IL 62701", metadata={"env": "LETTER_RETURN_ADDRESS"}
    )
    # Printed on envelopes: a business name and address that say nothing about debt collection.
    letter_sender_name: str = field(default="Acme Services", metadata={"env": "LETTER_SENDER_NAME"})
    letter_return_country: str = field(default="US", metadata={"env": "LETTER_RETURN_COUNTRY"})

    lob_base_url: str = field(default="https://api.lob.com", metadata={"env": "LOB_BASE_URL"})
    lob_api_key: str = field(default="", metadata={"env": "LOB_API_KEY"})
    lob_webhook_secret: str = field(default="", metadata={"env": "LOB_WEBHOOK_SECRET"})
    lob_double_sided: bool = field(default=True, metadata={"env": "LOB_DOUBLE_SIDED"})
    lob_timeout_s: float = field(default=30.0, metadata={"env": "LOB_TIMEOUT_S"})

    # Batch drop for a print house: `file:///path` or `sftp://user@host:port/path`.
    letter_drop_url: str = field(default="", metadata={"env": "LETTER_DROP_URL"})
    letter_drop_key_file: str = field(default="", metadata={"env": "LETTER_DROP_KEY_FILE"})
    letter_drop_password: str = field(default="", metadata={"env": "LETTER_DROP_PASSWORD"})
    letter_drop_known_hosts: str = field(default="", metadata={"env": "LETTER_DROP_KNOWN_HOSTS"})
    letter_drop_timeout_s: float = field(default=30.0, metadata={"env": "LETTER_DROP_TIMEOUT_S"})

    # Dispatch and scheduling.
    dispatch_chunk: int = field(default=100, metadata={"env": "DISPATCH_CHUNK"})
    send_concurrency: int = field(default=64, metadata={"env": "SEND_CONCURRENCY"})
    claim_lease_s: float = field(default=120.0, metadata={"env": "CLAIM_LEASE_S"})
    requeue_after_s: float = field(default=60.0, metadata={"env": "REQUEUE_AFTER_S"})
    pump_interval_s: float = field(default=1.0, metadata={"env": "PUMP_INTERVAL_S"})
    circuit_failures: int = field(default=5, metadata={"env": "CIRCUIT_FAILURES"})
    circuit_reset_s: float = field(default=30.0, metadata={"env": "CIRCUIT_RESET_S"})
    max_attempts: int = field(default=8, metadata={"env": "MAX_ATTEMPTS"})
    retry_base_s: float = field(default=10.0, metadata={"env": "RETRY_BASE_S"})
    retry_cap_s: float = field(default=3600.0, metadata={"env": "RETRY_CAP_S"})
    queue_prefix: str = field(default="rg", metadata={"env": "QUEUE_PREFIX"})

    # Outbound webhooks (gateway.services.webhook_delivery): the scheduler's delivery loop.
    webhook_interval_s: float = field(default=1.0, metadata={"env": "WEBHOOK_INTERVAL_S"})
    webhook_timeout_s: float = field(default=10.0, metadata={"env": "WEBHOOK_TIMEOUT_S"})
    webhook_concurrency: int = field(default=32, metadata={"env": "WEBHOOK_CONCURRENCY"})
    webhook_batch: int = field(default=500, metadata={"env": "WEBHOOK_BATCH"})
    webhook_retry_base_s: float = field(default=10.0, metadata={"env": "WEBHOOK_RETRY_BASE_S"})
    webhook_retry_cap_s: float = field(default=3600.0, metadata={"env": "WEBHOOK_RETRY_CAP_S"})
    # Whether a webhook may point at this machine or a private network (server-side request
    # forgery otherwise); unset: only in development (gateway.services.webhook_targets).
    webhook_allow_private: bool | None = field(
        default=None, metadata={"env": "WEBHOOK_ALLOW_PRIVATE"}
    )

    # Provider rate limits (gateway.ratelimit): `provider=RATE[/s|m|h][:BURST],…`; 0 or absent is
    # unlimited. Per provider, and per sender identity of a provider.
    rate_limits: str = field(default="", metadata={"env": "RATE_LIMITS"})
    sender_rate_limits: str = field(default="", metadata={"env": "SENDER_RATE_LIMITS"})
    # Longer than this until a token, a worker defers the message instead of sleeping on its claim.
    rate_limit_max_wait_s: float = field(default=10.0, metadata={"env": "RATE_LIMIT_MAX_WAIT_S"})

    # Prometheus endpoint of a worker or scheduler process (`GET /metrics`); 0: none. The API
    # serves /metrics on its own port. Empty host: GATEWAY_HOST.
    metrics_port: int = field(default=0, metadata={"env": "METRICS_PORT"})
    metrics_host: str = field(default="", metadata={"env": "METRICS_HOST"})

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
            )
        if self.letters_dir is None:
            object.__setattr__(self, "letters_dir", self.data_dir / "letters")
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", self.data_dir / "cache")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `environ` (default: the process environment) plus overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata.get("env")
            if name is None or name not in env:
                continue
            try:
                values[f.name] = convert(f.type, env[name], f.default)
            except ValueError as exc:
                raise SettingsError(f"{name}={env[name]!r} {exc}") from None
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        """Raise `SettingsError` for the first value the gateway cannot use."""
        checks.check_values(self)

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def webhooks_may_reach_private(self) -> bool:
        if self.webhook_allow_private is None:
            return self.is_development
        return self.webhook_allow_private

    def check_secrets(self) -> None:
        """Outside development, refuse the documented default secrets and short ones."""
        checks.check_secrets(self)

    @property
    def async_database_url(self) -> str:
        """The URL with an asyncio driver (aiosqlite / asyncpg) whatever the caller wrote."""
        url = self.database_url
        if url.startswith("sqlite:"):
            url = "sqlite+aiosqlite:" + url[len("sqlite:") :]
        for plain in ("postgresql:", "postgresql+psycopg2:", "postgresql+psycopg:"):
            if url.startswith(plain):
                url = "postgresql+asyncpg:" + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        assert self.letters_dir is not None
        self.letters_dir.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def documented() -> list[tuple[str, str]]:
        """(environment variable, default) for the README's configuration table."""
        out = []
        for f in fields(Settings):
            if "env" in f.metadata:
                default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
                out.append(
                    (
                        f.metadata["env"],
                        ",".join(default) if isinstance(default, list) else str(default),
                    )
                )
        return out
