"""`POST /v1/policy/evaluate`: "when could I send this to that debtor?" — without sending anything.

The same facts and the same pure rules as dispatch: the case's state and preset, the contact
point, the debtor's candidate zones and their contact history across cases. A deferral answers
the next instant the message may go (a pause that ends at night waits for the window too) and,
separately, whether a message accepted now would expire on the way (the maximum deferral).
"""

from __future__ import annotations

from datetime import datetime

from gateway.errors import NotFound, ValidationFailed
from gateway.runtime import Runtime
from gateway.schemas import PolicyEvaluateIn, PolicyEvaluateOut
from gateway.services.policy_facts import case_facts, contact_facts, zone_sources
from gateway.store import cases as case_store
from gateway.store import history as history_store
from gateway.store.keys import ApiKey
from scheduler.decisions import Decision, MessageFacts
from scheduler.deferral import expiry, last_deferral
from scheduler.policy import pipeline


async def evaluate(rt: Runtime, key: ApiKey, body: PolicyEvaluateIn) -> PolicyEvaluateOut:
    at: datetime = body.at or rt.clock()
    async with rt.engine.connect() as conn:
        case = await case_store.get(conn, key.tenant, body.case_ref)
        if case is None:
            raise NotFound(f"no case {body.case_ref!r}", code="unknown_case")
        contacts = [
            c
            for c in await case_store.contacts_of(conn, case.id)
            if c.channel == body.channel and c.role != "third_party"
        ]
        if not contacts:
            raise ValidationFailed(
                f"the case has no {body.channel} contact point", code="no_contact_point"
            )
        contact = next((c for c in contacts if c.status == case_store.ACTIVE), contacts[0])
        identity = (await history_store.identities(conn, [case.id]))[case.id]
        touches = history_store.for_debtor(
            await history_store.touches(conn, identity, at, rt.cap_lookback), identity
        )
        inbound = (await history_store.inbound_facts(conn, [contact.id])).get(contact.id)
    preset = rt.presets.get(case.preset)
    facts = case_facts(case, identity, preset)
    message = MessageFacts(body.channel, body.purpose, None, scheduled_at=at)
    point = contact_facts(body.channel, contact.status, contact.role, inbound)

    def decide_at(moment: datetime) -> Decision:
        # What a worker would decide at `moment`: the same rules, then the caps over the history.
        caps = rt.cap_policy(case.preset)
        return pipeline(message, facts, point, moment, preset, caps=caps, history=touches)

    decision = decide_at(at)
    last = last_deferral(decision, decide_at)
    dropped = expiry(last, message, facts, preset)
    return PolicyEvaluateOut(
        decision=decision.verdict.value,
        until=last.until,
        reason=decision.reason or None,
        rule=decision.rule or None,
        preset=case.preset,
        preset_version=preset.version if preset else None,
        zones=list(facts.zones),
        zones_note=facts.zones_note or None,
        zone_sources=zone_sources(case, identity, preset),
        at=at,
        would_expire=dropped is not None,
        expiry_reason=dropped.reason if dropped is not None else None,
    )
