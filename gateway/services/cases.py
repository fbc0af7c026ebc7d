"""Cases: upsert from upstream, read back."""

from __future__ import annotations

from typing import Any

from gateway.errors import NotFound, ValidationFailed
from gateway.runtime import Runtime
from gateway.schemas import CaseIn, CaseOut, ContactOut
from gateway.services import outbound
from gateway.store import cases as case_store
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.keys import ApiKey
from gateway.store.tables import messages as M
from scheduler.zones import phone_record


def case_fields(body: CaseIn) -> dict[str, Any]:
    debtor = body.debtor
    debt = body.debt
    digits = "".join(ch for ch in debt.account_number if ch.isalnum())
    fields: dict[str, Any] = {
        "debtor": {
            "name": debtor.name,
            "first_name": debtor.first_name,
            # Only the fields given: an address sent as lines only reads back as it was sent.
            "postal_address": debtor.postal_address.model_dump(exclude_none=True)
            if debtor.postal_address
            else None,
        },
        "locale": debtor.locale,
        "timezone": debtor.timezone,
        "preset": body.preset,
        "collector_role": body.collector_role,
        # Only the last four digits of an account number are ever stored.
        "debt": {
            "amount": str(debt.amount),
            "currency": debt.currency,
            "due_date": debt.due_date.isoformat(),
            "days_past_due": debt.days_past_due,
            "account": digits[-4:],
            "sol_expired": debt.sol_expired,
        },
    }
    fields.update(restrictions_entry(body))
    return fields


def restrictions_entry(body: CaseIn) -> dict[str, Any]:
    """The debtor's restrictions as given, for the timeline (the evidence of what they asked)."""
    if "restrictions" not in body.model_fields_set:
        return {}
    given = body.restrictions.model_dump(exclude_none=True) if body.restrictions else {}
    return {"restrictions": given or None}


def case_contacts(body: CaseIn) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = [
        {"channel": c.channel, "address": c.address, "role": c.role}
        # A number's zones are read once, here, not for every message sent to it.
        | ({"zones": phone_record(c.address)} if c.channel == "sms" else {})
        for c in body.contacts
    ]
    if body.debtor.postal_address is not None:
        postal = body.debtor.postal_address.model_dump(exclude_none=True)
        contacts.append(
            {"channel": "letter", "address": case_store.postal_key(postal), "postal": postal}
        )
    return contacts


async def upsert(rt: Runtime, key: ApiKey, case_ref: str, body: CaseIn) -> tuple[bool, CaseOut]:
    if body.preset not in rt.presets:
        raise ValidationFailed(
            f"unknown preset {body.preset!r}; known: {', '.join(sorted(rt.presets))}",
            details=[{"field": "preset", "problem": "unknown preset", "type": "unknown_preset"}],
        )
    now = rt.clock()
    due: list[tuple[str, str]] = []
    async with rt.engine.begin() as conn:
        case_id, created, changes = await case_store.upsert(
            conn,
            tenant=key.tenant,
            case_ref=case_ref,
            fields=case_fields(body),
            contacts=case_contacts(body),
            now=now,
        )
        if "restrictions" in body.model_fields_set and not created:
            # What the debtor asked for applies before the next attempt of anything waiting.
            due = await message_store.make_due(conn, M.c.case_id == case_id, now)
            changes.append("restrictions")
        await timeline.append(
            conn,
            [
                timeline.entry(
                    case_id,
                    "case_created" if created else "case_updated",
                    now,
                    actor=f"key:{key.name}",
                    preset=body.preset,
                    changes=changes,
                    **restrictions_entry(body),
                )
            ],
        )
        out = await _read(conn, key.tenant, case_ref)
    await outbound.enqueue(rt, due)
    return created, out


async def read(rt: Runtime, tenant: str, case_ref: str) -> CaseOut:
    async with rt.engine.connect() as conn:
        return await _read(conn, tenant, case_ref)


async def _read(conn: Any, tenant: str, case_ref: str) -> CaseOut:
    case = await case_store.get(conn, tenant, case_ref)
    if case is None:
        raise NotFound(f"no case {case_ref!r}", code="unknown_case")
    contacts = await case_store.contacts_of(conn, case.id)
    debtor = dict(case.debtor)
    debtor.update(locale=case.locale, timezone=case.timezone)
    return CaseOut(
        case_ref=case.case_ref,
        state=case.state,
        state_reason=case.state_reason,
        state_until=case.state_until,
        preset=case.preset,
        collector_role=case.collector_role,
        debtor=debtor,
        debt=case.debt,
        restrictions=case.restrictions,
        contacts=[
            ContactOut(channel=c.channel, address=c.address, status=c.status, role=c.role)
            for c in contacts
        ],
        created_at=case.created_at,
        updated_at=case.updated_at,
    )
