"""The cadences the gateway knows, as the API shows them, and the error for a name it does not
know (the closest name and every known one, as for an unknown template)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from gateway.errors import NotFound
from gateway.runtime import Runtime
from gateway.schemas import CadenceListOut, CadenceOut, CadenceStepOut
from scheduler.cadence import WATCH, Cadence, Fallback, format_duration


def describe(cadence: Cadence) -> CadenceOut:
    return CadenceOut(
        name=cadence.name,
        description=cadence.description,
        counts_from=cadence.counts_from,
        stop_on=list(cadence.stop_on),
        steps=[
            CadenceStepOut.model_validate(
                {
                    "name": step.name,
                    "dpd": step.dpd,
                    "after_start": format_duration(step.after_start)
                    if step.after_start is not None
                    else None,
                    "after_previous": format_duration(step.after_previous)
                    if step.after_previous is not None
                    else None,
                    "channel": step.channel,
                    "template": step.template,
                    "purpose": step.purpose,
                    "unless": step.unless,
                    "if": {
                        "previous_not_delivered_within": format_duration(
                            step.if_.previous_not_delivered_within
                        )
                    }
                    if step.if_ is not None
                    else None,
                    "states": list(step.states) if step.states is not None else None,
                    "fallback": _fallback(step.channel, step.fallback),
                }
            )
            for step in cadence.steps
        ],
    )


def _fallback(channel: str, link: Fallback | None) -> dict[str, Any] | None:
    """A step's fallback chain as the file states it, each `after` as in effect."""
    if link is None:
        return None
    after = link.after or WATCH[channel]
    return {
        "channel": link.channel,
        "template": link.template,
        "after": format_duration(after),
        "fallback": _fallback(link.channel, link.fallback),
    }


def listing(rt: Runtime) -> CadenceListOut:
    return CadenceListOut(cadences=[describe(rt.cadences[n]) for n in sorted(rt.cadences)])


def get(rt: Runtime, name: str) -> Cadence:
    """The cadence `name`; NotFound naming the closest and the known ones otherwise."""
    cadence = rt.cadences.get(name)
    if cadence is None:
        raise NotFound(unknown_cadence(name, rt.cadences), code="unknown_cadence")
    return cadence


def unknown_cadence(name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    parts = [f"no cadence {name!r}"] + [f"did you mean {c!r}?" for c in close]
    parts.append(f"known cadences: {', '.join(names) or 'none'}")
    return "; ".join(parts)
