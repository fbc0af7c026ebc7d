"""Optional DKIM signing (dkimpy) of the exact bytes handed to the SMTP server.

The signature covers the headers a receiver or a forwarder must not change, including
List-Unsubscribe and List-Unsubscribe-Post, which RFC 8058 requires to be signed for one-click
unsubscribe to be honoured. dkimpy does RSA in pure Python (several milliseconds a mail); at high
volume let the outgoing relay sign instead and leave DKIM_* unset here.
"""

from __future__ import annotations

import dkim

SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


class DkimSigner:
    """Signs with one selector and domain. Raises ValueError at construction for an unusable key."""

    def __init__(self, *, selector: str, domain: str, private_key: bytes):
        self.selector = selector.encode()
        self.domain = domain.encode()
        self.private_key = private_key
        try:
            self._sign(b"From: probe@example.invalid\r\n\r\nprobe\r\n", [b"from"])
        except dkim.DKIMException as exc:
            raise ValueError(f"DKIM private key unusable: {exc}") from None

    def _sign(self, data: bytes, headers: list[bytes]) -> bytes:
        return dkim.sign(
            data,
            self.selector,
            self.domain,
            self.private_key,
            include_headers=headers,
            canonicalize=(b"relaxed", b"relaxed"),
        )

    def sign(self, data: bytes, header_names: tuple[str, ...]) -> bytes:
        """The mail with a DKIM-Signature on top. `data` must be 7-bit clean (mime.build is), so
        no server on the way re-encodes it and breaks the body hash."""
        present = {name.lower() for name in header_names}
        headers = [name.lower().encode() for name in SIGNED_HEADERS if name.lower() in present]
        return self._sign(data, headers) + data
