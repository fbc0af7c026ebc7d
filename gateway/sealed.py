"""Secrets the gateway must read back, kept sealed at rest: AES-GCM under a key derived from
`GATEWAY_SECRET` (HKDF-SHA256, one key per purpose).

A webhook's signing secret has to be kept (every delivery is signed with it), but a copy of the
database alone must not give it away: whoever has the rows would forge events to upstream. A
sealed value reads `v1.` and the base64 of nonce, ciphertext and tag; a value written before
sealing existed (a `whsec_…` secret in clear) is read as it is. Changing `GATEWAY_SECRET` makes
the sealed values unreadable: register the webhooks again (their secrets are shown once anyway).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1."
NONCE_BYTES = 12


class Unsealable(ValueError):
    """A sealed value that this key cannot open (another GATEWAY_SECRET, or an edited row)."""


class Sealer:
    def __init__(self, secret: str, purpose: str):
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"reminder-gateway/{purpose}".encode(),
        ).derive(secret.encode())
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()

    def seal(self, plain: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode(), self._purpose)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # kept in clear before sealing existed
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._purpose).decode()
        except InvalidTag:
            raise Unsealable("sealed with another GATEWAY_SECRET, or altered") from None
