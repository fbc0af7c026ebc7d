"""One-click unsubscribe (RFC 8058): the email address a message went to is opted out of email."""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa

from gateway.errors import NotFound
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.states import ContactStatus
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.tables import messages as M


def unsubscribe_token(secret: str, message_id: str) -> str:
    sig = hmac.new(
        secret.encode(), f"unsubscribe:{message_id}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"{message_id}.{sig}"


def check_unsubscribe_token(secret: str, token: str) -> str | None:
    """The message id the token was made for, or None if it was not made by us."""
    message_id, _, _ = token.partition(".")
    expected = unsubscribe_token(secret, message_id)
    # Bytes: compare_digest refuses a str with non-ASCII characters, which a link can carry.
    same = hmac.compare_digest(expected.encode(), token.encode("utf-8", "surrogatepass"))
    return message_id if message_id and same else None


def unsubscribe_link(settings: Settings, message_id: str) -> str:
    """The one-click unsubscribe link of a message (emails' List-Unsubscribe header too)."""
    return f"{settings.public_url}/v1/unsubscribe/{unsubscribe_token(settings.secret, message_id)}"


async def opt_out(rt: Runtime, message_id: str) -> None:
    """Opt out the contact point of `message_id` (once: a second click changes nothing)."""
    now = rt.clock()
    async with rt.engine.begin() as conn:
        row = (
            await conn.execute(sa.select(M.c.case_id, M.c.contact_id).where(M.c.id == message_id))
        ).first()
        if row is None:
            raise NotFound("unknown link", code="unknown_message")
        changed = await case_store.set_contact_status(
            conn, row.contact_id, ContactStatus.OPTED_OUT, now=now, reason="one-click unsubscribe"
        )
        if changed is not None:
            entry = timeline.entry(
                row.case_id,
                "opted_out",
                now,
                message_id=message_id,
                actor="debtor:email",
                channel="email",
                source="list-unsubscribe",
            )
            await timeline.append(conn, [entry])
