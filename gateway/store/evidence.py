"""What an evidence export reads: each kind of record of a case (or of a tenant since a time),
as one query ordered by the gateway's own clock — the order the records are merged in.

Every time used is the gateway's (when it accepted a message, took a receipt or a reply, wrote
an entry), never a provider's, so the export's order is the order things reached the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import delivery_events as DE
from gateway.store.tables import messages as M
from gateway.store.tables import replies as R
from gateway.store.tables import template_versions as TV
from gateway.store.tables import timeline as T


@dataclass(frozen=True)
class Scope:
    """One case (`case_id`), or every case of `tenant` from `since` on."""

    tenant: str
    case_id: int | None = None
    since: datetime | None = None


def _where(query: sa.Select, scope: Scope, case_id: sa.ColumnElement, at: sa.ColumnElement):  # type: ignore[no-untyped-def,type-arg]
    if scope.case_id is not None:
        query = query.where(case_id == scope.case_id)
    else:
        query = query.where(C.c.tenant == scope.tenant)
    if scope.since is not None:
        query = query.where(at >= scope.since)
    return query


def cases(scope: Scope) -> sa.Select:  # type: ignore[type-arg]
    query = sa.select(C).order_by(C.c.created_at, C.c.id)
    return _where(query, scope, C.c.id, C.c.created_at)


def messages(scope: Scope) -> sa.Select:  # type: ignore[type-arg]
    query = (
        sa.select(
            M,
            C.c.case_ref,
            TV.c.key.label("template_key"),
            TV.c.channel.label("template_channel"),
            TV.c.locale.label("template_locale"),
            TV.c.version.label("template_version"),
            CP.c.address.label("to_address"),
        )
        .join(C, C.c.id == M.c.case_id)
        .outerjoin(TV, TV.c.id == M.c.template_id)
        .outerjoin(CP, CP.c.id == M.c.contact_id)
        .order_by(M.c.created_at, M.c.id)
    )
    return _where(query, scope, M.c.case_id, M.c.created_at)


def receipts(scope: Scope) -> sa.Select:  # type: ignore[type-arg]
    query = (
        sa.select(DE, M.c.case_id, C.c.case_ref)
        .join(M, M.c.id == DE.c.message_id)
        .join(C, C.c.id == M.c.case_id)
        .order_by(DE.c.received_at, DE.c.id)
    )
    return _where(query, scope, M.c.case_id, DE.c.received_at)


def replies(scope: Scope) -> sa.Select:  # type: ignore[type-arg]
    query = (
        sa.select(R, C.c.case_ref).join(C, C.c.id == R.c.case_id).order_by(R.c.received_at, R.c.id)
    )
    return _where(query, scope, R.c.case_id, R.c.received_at)


def timeline(scope: Scope) -> sa.Select:  # type: ignore[type-arg]
    query = sa.select(T, C.c.case_ref).join(C, C.c.id == T.c.case_id).order_by(T.c.at, T.c.id)
    return _where(query, scope, T.c.case_id, T.c.at)
