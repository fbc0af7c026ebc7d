"""`POST /v1/policy/evaluate`: "when could I send this to that debtor?" — without sending anything.

The same facts and the same pure rules as dispatch: the case's state and preset, the contact
point, the debtor's candidate zones and their contact history across cases.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from gateway.api.schemas import PolicyEvaluateIn, PolicyEvaluateOut
from gateway.bootstrap import Runtime
from gateway.errors import NotFound, ValidationFailed
from gateway.services.dispatch import debtor_zones
from gateway.store import cases as case_store
from gateway.store import history as history_store
from gateway.store.keys import ApiKey
from scheduler.caps import check as check_caps
from scheduler.decisions import CaseFacts, ContactFacts, MessageFacts, Verdict
from scheduler.policy import decide


async def evaluate(rt: Runtime, key: ApiKey, body: PolicyEvaluateIn) -> PolicyEvaluateOut:
    at: datetime = body.at or rt.clock()
    async with rt.engine.connect() as conn:
        case = await case_store.get(conn, key.tenant, body.case_ref)
        if case is None:
            raise NotFound(f"no case {body.case_ref!r}", code="unknown_case")
        contacts = [
            c for c in await case_store.contacts_of(conn, case.id) if c.channel == body.channel
        ]
        if not contacts:
            raise ValidationFailed(
                f"the case has no {body.channel} contact point", code="no_contact_point"
            )
        contact = next((c for c in contacts if c.status == case_store.ACTIVE), contacts[0])
        identity = (await history_store.identities(conn, [case.id]))[case.id]
        touches = history_store.for_debtor(
            await history_store.touches(conn, identity, at), identity
        )
    preset = rt.presets.get(case.preset)
    row = SimpleNamespace(debtor=case.debtor, timezone=case.timezone)
    facts = CaseFacts(
        case.state,
        case.state_reason,
        case.state_until,
        case.preset,
        zones=debtor_zones(row, identity, preset),
    )
    message = MessageFacts(body.channel, body.purpose, None)
    decision = decide(message, facts, ContactFacts(body.channel, contact.status), at, preset=preset)
    if decision.verdict is Verdict.ALLOW:
        decision = (
            check_caps(
                body.channel, body.purpose, touches, at, rt.cap_policy(case.preset), case.preset
            )
            or decision
        )
    return PolicyEvaluateOut(
        decision=decision.verdict.value,
        until=decision.until,
        reason=decision.reason or None,
        rule=decision.rule or None,
        preset=case.preset,
        zones=list(facts.zones),
        at=at,
    )
