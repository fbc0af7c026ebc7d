"""The states the gateway keeps: a message's (with the transitions allowed between them and how
receipts map onto them), a case's and a contact point's.

Each has one writer: `gateway.store.messages.transition()` changes a message's state and refuses
any pair not listed in `ALLOWED`; `gateway.store.cases.set_state()` a case's;
`gateway.store.cases.set_contact_status()` a contact point's.
"""

from __future__ import annotations

from enum import StrEnum

from channels.events import DeliveryEventType


class State(StrEnum):
    ACCEPTED = "accepted"
    DISPATCHING = "dispatching"
    DEFERRED = "deferred"
    RETRY_WAIT = "retry_wait"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    RETURNED = "returned"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


S = State


class CaseState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # until `state_until` (a promise to pay, an upstream pause)
    HOLD = "hold"  # `state_reason`: dispute, bankruptcy, breathing_space, attorney, deceased…
    CEASED = "ceased"
    CLOSED = "closed"


class ContactStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # no longer sent by upstream; a later PUT that names it revives it
    OPTED_OUT = "opted_out"  # sticky: only the debtor (START) or ops revive it
    INVALID = "invalid"  # sticky: the provider said the address does not work or is not theirs


# States a dispatch job may claim from.
CLAIMABLE = (S.ACCEPTED, S.DEFERRED, S.RETRY_WAIT)
# States a message waits in for the scheduler's pump.
WAITING = CLAIMABLE
# Held by a worker under a lease.
CLAIMED = (S.DISPATCHING, S.SENDING)
# Handed to a provider: only receipts move it further.
HANDED_OVER = (S.SENT, S.DELIVERED, S.UNDELIVERED, S.BOUNCED, S.RETURNED)
# Nothing more will be attempted by the gateway itself.
FINAL = (*HANDED_OVER, S.SUPPRESSED, S.FAILED, S.EXPIRED, S.CANCELLED)
# States in which a message keeps its `next_attempt_at`: waiting, or claimed by a worker. Any
# other state clears it, so the pump's index holds only live work and updates after the hand-over
# change no indexed column (see migration 0007).
LIVE = (*WAITING, *CLAIMED)

# What a dispatch batch decides for a message it holds: wait, go to the provider, or stop.
_DECIDED = frozenset({S.DEFERRED, S.SENDING, S.SUPPRESSED, S.EXPIRED, S.FAILED})

ALLOWED: dict[State, frozenset[State]] = {
    # On PostgreSQL a batch holds its messages by row lock, in the transaction that decides them,
    # so they go from waiting to decided directly; on SQLite the claim is the `dispatching` lease.
    S.ACCEPTED: _DECIDED | {S.DISPATCHING, S.CANCELLED},
    S.DEFERRED: _DECIDED | {S.DISPATCHING, S.CANCELLED},
    S.RETRY_WAIT: _DECIDED | {S.DISPATCHING, S.CANCELLED},
    S.DISPATCHING: _DECIDED | {S.RETRY_WAIT, S.CANCELLED},
    # A worker that dies while `sending` may or may not have handed the message over: `unknown`.
    S.SENDING: frozenset({S.SENT, S.RETRY_WAIT, S.FAILED, S.UNKNOWN}),
    # Receipts, applied monotonically (see RANK).
    S.SENT: frozenset({S.DELIVERED, S.UNDELIVERED, S.BOUNCED, S.RETURNED, S.FAILED}),
    S.UNKNOWN: frozenset({S.SENT, S.DELIVERED, S.UNDELIVERED, S.BOUNCED, S.RETURNED, S.FAILED}),
    S.DELIVERED: frozenset({S.BOUNCED, S.RETURNED}),
    S.UNDELIVERED: frozenset({S.DELIVERED}),
    S.BOUNCED: frozenset(),
    S.RETURNED: frozenset(),
    S.SUPPRESSED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}


def sources_of(target: State) -> tuple[State, ...]:
    """Every state from which `target` may be reached."""
    return tuple(s for s, targets in ALLOWED.items() if target in targets)


E = DeliveryEventType

# The message state a receipt moves a handed-over message to; events not listed only annotate.
EVENT_TO_STATE: dict[DeliveryEventType, State] = {
    E.SENT: S.SENT,
    E.DELIVERED: S.DELIVERED,
    E.UNDELIVERED: S.UNDELIVERED,
    E.EXPIRED: S.UNDELIVERED,
    E.BOUNCED: S.BOUNCED,
    E.REJECTED: S.FAILED,
    E.FAILED: S.FAILED,
    E.RETURNED: S.RETURNED,
}
