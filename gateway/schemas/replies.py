"""Bodies of the operators' replies inbox: a reply as a person reads it, a page of them, a
resolution, and a reply received by letter or phone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.replies.categories import Category
from gateway.schemas.types import Date, DateTime, Line, Ref, Strict, Text

ReplyStatus = Literal["open", "resolved", "automatic"]
# How a reply an operator records reached the collector.
RecordedChannel = Literal["letter", "phone", "email", "sms"]


class ResolutionOut(BaseModel):
    category: str
    note: str
    by: str
    at: datetime
    effects: list[dict[str, Any]]


class ReplyOut(BaseModel):
    """A debtor's reply with what the gateway read and did, and its place in the inbox: `open`
    while a person must look (`review_reasons` says why), `resolved` once one has, `automatic`
    when it was acted on with nobody needed."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    case_ref: str | None
    channel: str
    from_: str = Field(alias="from")
    received_at: datetime
    body: str
    category: str
    categories: list[str]
    confidence: float | None
    facts: dict[str, Any] | None
    effects: list[dict[str, Any]]
    review_reasons: list[str]
    status: ReplyStatus
    resolution: ResolutionOut | None


class ReplyPage(BaseModel):
    replies: list[ReplyOut]
    # Pass as `cursor` for the next page; null when this one is the last.
    next_cursor: str | None


class ReplyResolveIn(Strict):
    """What a person read in a reply. Its effects are those the gateway applies to a reply of
    that category; `case_ref` puts a reply from a sender on no case on that case first;
    `promise_date` is the date of a promise to pay (default: the one the classifier read)."""

    category: Category
    note: Annotated[Text, Field(min_length=1, max_length=2000)]
    case_ref: Ref | None = None
    promise_date: Date | None = None


class ReplyRecordIn(Strict):
    """A reply received outside the gateway: a letter, a phone call, a message to a collector's
    own mailbox. `received_at` (default: now) is when it came; `from` the sender's number,
    address or postal address as written."""

    channel: RecordedChannel
    body: Annotated[Text, Field(min_length=1, max_length=20_000)]
    received_at: DateTime | None = None
    from_: Annotated[Line, Field(max_length=320)] | None = Field(default=None, alias="from")


__all__ = [
    "ReplyOut",
    "ReplyPage",
    "ReplyRecordIn",
    "ReplyResolveIn",
    "ReplyStatus",
    "ResolutionOut",
]
