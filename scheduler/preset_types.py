"""The building blocks of a preset's data: the basis tag every rule carries (L, R, S, P), a
tagged scalar rule (`{value: …, tag: …}`), and the check that purposes named are known ones."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from scheduler.decisions import PURPOSES

Tag = Literal["L", "R", "S", "P"]
T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Value(Model, Generic[T]):
    value: T
    tag: Tag


def known_purposes(purposes: list[str]) -> list[str]:
    """`purposes`, or ValueError naming the first one no message can have."""
    unknown = sorted(set(purposes) - set(PURPOSES))
    if unknown:
        raise ValueError(f"unknown purpose {unknown[0]!r}; known: {', '.join(PURPOSES)}")
    return purposes
