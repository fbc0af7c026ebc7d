"""SmtpEmail against local aiosmtpd servers that require AUTH, STARTTLS (with a certificate made
here by a throwaway CA), and against the catcher for DKIM signatures checked with dkimpy."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dkim
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from channels.base import Outgoing, TransientProviderError
from channels.email.signing import DkimSigner
from channels.email.smtp import SmtpEmail
from tests.support import free_port

USER, PASSWORD = "gateway", "s3cret-pass"


class Inbox:
    """Keeps what arrives; refuses MAIL FROM before a successful AUTH; counts logins."""

    def __init__(self) -> None:
        self.mail: list[tuple[str, list[str], bytes]] = []
        self.logins = 0
        self.tls_sessions: set[int] = set()

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            USER.encode(),
            PASSWORD.encode(),
        )
        self.logins += ok
        return AuthResult(success=ok, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if session.ssl is not None:
            self.tls_sessions.add(id(session))
        content = envelope.original_content or b""
        self.mail.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return "250 OK"


def make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1 / localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reminder-gateway test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def serve(inbox: Inbox, port: int, **options: Any) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(inbox, hostname="mx.test", authenticator=inbox.authenticator, **options),
        "127.0.0.1",
        port,
    )


@pytest.fixture
async def plain_auth_server() -> AsyncIterator[tuple[Inbox, int]]:
    """AUTH offered on a plain connection (a lab relay); MAIL refused until it succeeds."""
    inbox, port = Inbox(), free_port()
    server = await serve(inbox, port, auth_require_tls=False)
    yield inbox, port
    server.close()
    await server.wait_closed()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[Inbox, int, Path]]:
    """STARTTLS and AUTH both required, as a submission server has them."""
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    server = await serve(
        inbox, port, tls_context=context, require_starttls=True, auth_required=True
    )
    yield inbox, port, ca
    server.close()
    await server.wait_closed()


def smtp(port: int, **options: Any) -> SmtpEmail:
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "reminders@collector.example",
        "sender_name": "Acme Collections",
        "username": USER,
        "password": PASSWORD,
        "pool_size": 2,
        "timeout_s": 5.0,
    }
    return SmtpEmail(**{**defaults, **options})


def outgoing(i: int = 0, **extra: Any) -> Outgoing:
    return Outgoing(
        message_id=f"m{i:027d}",
        channel="email",
        to="jane@example.com",
        body=f"Reminder {i}: your account ending 1234 is overdue.",
        subject="About your account ending 1234",
        html=f"<p>Reminder {i}</p>",
        **extra,
    )


async def test_auth_once_per_pooled_connection(plain_auth_server: tuple[Inbox, int]) -> None:
    inbox, port = plain_auth_server
    provider = smtp(port)
    try:
        await asyncio.gather(*(provider.send(outgoing(i)) for i in range(10)))
    finally:
        await provider.close()
    assert len(inbox.mail) == 10
    assert 1 <= inbox.logins <= 2, "one AUTH per pooled connection, not per mail"


async def test_the_envelope_sender_is_the_messages_return_path(
    plain_auth_server: tuple[Inbox, int],
) -> None:
    inbox, port = plain_auth_server
    provider = smtp(port)
    verp = "bounce+m1.0123456789abcdef@bounces.collector.example"
    try:
        await provider.send(outgoing(1, envelope_from=verp))
        await provider.send(outgoing(2))
    finally:
        await provider.close()
    assert [m[0] for m in inbox.mail] == [verp, "reminders@collector.example"]
    header_from = email.message_from_bytes(inbox.mail[0][2], policy=email.policy.default)["From"]
    assert header_from == "Acme Collections <reminders@collector.example>"


async def test_wrong_password_is_transient_and_leaves_no_connection(
    plain_auth_server: tuple[Inbox, int],
) -> None:
    inbox, port = plain_auth_server
    provider = smtp(port, password="wrong")
    with pytest.raises(TransientProviderError, match="authentication failed"):
        await provider.send(outgoing())
    assert provider._idle.empty() and not inbox.mail
    await provider.close()


async def test_without_credentials_the_server_refuses(plain_auth_server: tuple[Inbox, int]) -> None:
    inbox, port = plain_auth_server
    provider = smtp(port, username="", password="")
    with pytest.raises(TransientProviderError, match=r"authentication required \(530\)"):
        await provider.send(outgoing())
    await provider.close()
    assert not inbox.mail


async def test_starttls_with_a_trusted_ca_file(tls_server: tuple[Inbox, int, Path]) -> None:
    inbox, port, ca = tls_server
    provider = smtp(port, starttls=True, ca_file=str(ca))
    try:
        for i in range(3):
            await provider.send(outgoing(i))
    finally:
        await provider.close()
    assert len(inbox.mail) == 3 and inbox.tls_sessions and inbox.logins == 1


async def test_starttls_refuses_an_untrusted_certificate(
    tls_server: tuple[Inbox, int, Path],
) -> None:
    inbox, port, _ = tls_server
    provider = smtp(port, starttls=True)  # verification on, the test CA not trusted
    with pytest.raises(TransientProviderError):
        await provider.send(outgoing())
    await provider.close()
    assert not inbox.mail and inbox.logins == 0, "no password sent to an unverified server"


async def test_starttls_without_verification_for_a_lab(
    tls_server: tuple[Inbox, int, Path],
) -> None:
    inbox, port, _ = tls_server
    provider = smtp(port, starttls=True, tls_verify=False)
    try:
        await provider.send(outgoing())
    finally:
        await provider.close()
    assert len(inbox.mail) == 1 and inbox.tls_sessions


def dkim_key() -> tuple[bytes, bytes]:
    """(private key PEM, DNS TXT record) for a fresh RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


async def test_dkim_signature_verifies_against_the_published_key(
    tmp_path: Path,
) -> None:
    from channels.email.catcher import serve as catcher

    private, txt = dkim_key()
    port = free_port()
    server = await catcher(tmp_path / "mail", "127.0.0.1", port)
    signer = DkimSigner(selector="rg2026", domain="collector.example", private_key=private)
    provider = smtp(port, username="", password="", dkim=signer)
    headers = {
        "List-Unsubscribe": "<https://gateway.example/v1/unsubscribe/t>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Reply-To": "Acme Collections <reply+1.0123456789abcdef@replies.collector.example>",
    }
    try:
        await provider.send(outgoing(1, headers=headers, envelope_from="bounce+a.b@b.example"))
        await provider.send(
            Outgoing("m2", "email", "li@example.cn", "您好，请于本周五前还款。", subject="账户提醒")
        )
    finally:
        await provider.close()
        server.close()
        await server.wait_closed()

    looked_up: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        return txt if name == b"rg2026._domainkey.collector.example." else b""

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    for path in files:
        raw = path.read_bytes()
        assert dkim.verify(raw, dnsfunc=dns), path.read_text()[:2000]
        signature = email.message_from_bytes(raw, policy=email.policy.default)["DKIM-Signature"]
        signed = {h.strip().lower() for h in signature.split("h=")[1].split(";")[0].split(":")}
        assert {"from", "subject", "message-id"} <= signed
    first = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    signature = " ".join(first["DKIM-Signature"].split())
    for header in ("list-unsubscribe", "list-unsubscribe-post", "reply-to"):
        assert header in signature
    assert looked_up

    # Tampering with a signed header breaks it.
    tampered = files[0].read_bytes().replace(b"Subject: About", b"Subject: Abort")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_an_unusable_dkim_key_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="DKIM"):
        DkimSigner(selector="s", domain="d.example", private_key=b"-----BEGIN nonsense-----")
