"""Template versions: the built-in pack loaded from files, and resolution of published versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ValidationFailed
from gateway.render import check_syntax
from gateway.store.tables import template_versions as TV
from scheduler.decisions import PURPOSES
from templates import ROOT as PACK_ROOT

CHANNELS = ("sms", "email", "letter")
LOCALES = ("en", "zh-CN")
DEFAULT_LOCALE = "en"
BUILTIN_AUTHOR = "builtin"

# The parts each channel's template is made of, and the column each part is stored in.
PARTS: dict[str, dict[str, str]] = {
    "sms": {"body": "body"},
    "email": {"subject": "subject", "txt": "body", "html": "html"},
    "letter": {"html": "body"},
}


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    id: int
    key: str
    channel: str
    locale: str
    version: int
    subject: str | None
    body: str
    html: str | None
    meta: dict[str, Any]


def _row_to_version(row: Any) -> TemplateVersion:
    return TemplateVersion(
        row.id,
        row.key,
        row.channel,
        row.locale,
        row.version,
        row.subject,
        row.body,
        row.html,
        row.meta or {},
    )


def load_pack(root: Path = PACK_ROOT) -> list[dict[str, Any]]:
    """Every template of the pack as `{key, channel, locale, subject, body, html, meta}`.

    An optional `<key>.meta.yaml` beside the parts carries data about the template, e.g. the
    pre-approved provider templates (`provider_templates`) that some SMS platforms require.
    """
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for channel, parts in PARTS.items():
        for path in sorted((root / channel).glob("*/*.j2")):
            locale = path.parent.name
            key, _, part = path.name[: -len(".j2")].rpartition(".")
            if part not in parts:
                raise ValueError(f"{path}: unknown part {part!r} for {channel}")
            item = found.setdefault(
                (key, channel, locale),
                {
                    "key": key,
                    "channel": channel,
                    "locale": locale,
                    "subject": None,
                    "body": None,
                    "html": None,
                    "meta": _meta(path.parent / f"{key}.meta.yaml"),
                },
            )
            source = path.read_text(encoding="utf-8").strip()
            check_syntax(source, html=part == "html")
            item[parts[part]] = source
    for (key, channel, locale), item in found.items():
        missing = [part for part, column in PARTS[channel].items() if item[column] is None]
        if missing:
            raise ValueError(
                f"template {key} ({channel}, {locale}) lacks part(s): {', '.join(missing)}"
            )
    return list(found.values())


@lru_cache(maxsize=4)
def pack_purposes(root: Path = PACK_ROOT) -> dict[tuple[str, str], str]:
    """(channel, key) → purpose of every template in the pack: what a cadence's steps may name.
    The pack is files shipped with the code, so a process reads it once."""
    return {
        (item["channel"], item["key"]): item["meta"].get("purpose", "reminder")
        for item in load_pack(root)
    }


def _meta(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a mapping")
    purpose = meta.get("purpose", "reminder")
    if purpose not in PURPOSES:
        raise ValueError(f"{path}: purpose {purpose!r} is not one of {', '.join(PURPOSES)}")
    for provider, spec in (meta.get("provider_templates") or {}).items():
        if (
            not isinstance(spec, dict)
            or not spec.get("code")
            or not isinstance(spec.get("params", {}), dict)
        ):
            raise ValueError(
                f"{path}: provider_templates.{provider} needs a code and a params mapping"
            )
        for name, source in spec.get("params", {}).items():
            try:
                check_syntax(str(source))
            except ValidationFailed as exc:
                raise ValueError(
                    f"{path}: provider_templates.{provider}.params.{name}: {exc.message}"
                ) from None
    return meta


async def install_pack(conn: AsyncConnection, now: datetime, root: Path = PACK_ROOT) -> int:
    """Publish version 1 of every pack template that has no version yet; return how many.

    Templates that operations already edited are never overwritten by the pack.
    """
    existing = {
        (r.key, r.channel, r.locale)
        for r in await conn.execute(sa.select(TV.c.key, TV.c.channel, TV.c.locale).distinct())
    }
    rows = [
        {
            **item,
            "version": 1,
            "status": "published",
            "meta": {**item["meta"], "source": "pack"},
            "author": BUILTIN_AUTHOR,
            "created_at": now,
            "published_at": now,
        }
        for item in load_pack(root)
        if (item["key"], item["channel"], item["locale"]) not in existing
    ]
    if rows:
        await conn.execute(sa.insert(TV), rows)
    return len(rows)


async def published(conn: AsyncConnection) -> dict[tuple[str, str, str], int]:
    """(key, channel, locale) → id of the newest published version."""
    latest = (
        sa.select(TV.c.key, TV.c.channel, TV.c.locale, sa.func.max(TV.c.version).label("version"))
        .where(TV.c.status == "published")
        .group_by(TV.c.key, TV.c.channel, TV.c.locale)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(TV.c.id, TV.c.key, TV.c.channel, TV.c.locale).join(
            latest,
            sa.and_(
                TV.c.key == latest.c.key,
                TV.c.channel == latest.c.channel,
                TV.c.locale == latest.c.locale,
                TV.c.version == latest.c.version,
            ),
        )
    )
    return {(r.key, r.channel, r.locale): r.id for r in rows}


def pick(
    published: dict[tuple[str, str, str], int], key: str, channel: str, locale: str
) -> int | None:
    """The published version of a template for the debtor's locale, else the default locale's."""
    return published.get((key, channel, locale)) or published.get((key, channel, DEFAULT_LOCALE))


async def by_ids(conn: AsyncConnection, ids: set[int]) -> dict[int, TemplateVersion]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(TV).where(TV.c.id.in_(sorted(ids))))
    return {r.id: _row_to_version(r) for r in rows}


async def keys(conn: AsyncConnection) -> set[str]:
    return {r[0] for r in await conn.execute(sa.select(TV.c.key).distinct())}
