"""Twilio's request signature (`X-Twilio-Signature`): how a callback proves it came from Twilio,
and the forms of the public URL Twilio may have signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature: base64(HMAC-SHA1(token, url + sorted name+value pairs))."""
    # As Twilio's own validator: pairs sorted by name then value, repeated identical pairs once.
    payload = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def port_variants(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed: Twilio signs either form."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
    if parts.port is None and default is not None:
        return [url, f"{parts.scheme}://{prefix}{host}:{default}{rest}"]
    if parts.port == default:
        return [url, f"{parts.scheme}://{prefix}{host}{rest}"]
    return [url]
