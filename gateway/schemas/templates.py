"""The body and answer of `POST /v1/templates/lint`: a template checked against a preset's content
rules. Re-exported by `gateway.schemas`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.schemas.types import Channel, CollectorRole, Line, Locale, Preset, Strict, Text
from scheduler.decisions import PURPOSES


class TemplateLintIn(Strict):
    """A template to check against a preset's content rules, rendered with sample case data."""

    # `_parts_for_channel` in the document: an email has a subject; the other channels only a body.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"channel": {"const": "email"}}},
            "then": {"required": ["subject"], "properties": {"subject": {"type": "string"}}},
            "else": {"properties": {"subject": {"type": "null"}, "html": {"type": "null"}}},
        }
    )

    channel: Channel
    locale: Locale
    preset: Preset
    collector_role: CollectorRole = "first_party"
    purpose: Annotated[str, Field(min_length=1, max_length=32)] = "reminder"
    subject: Annotated[Line, Field(min_length=1, max_length=1000)] | None = None
    # The SMS text, the email's text part, or the letter's HTML.
    body: Annotated[Text, Field(min_length=1, max_length=100_000)]
    html: Annotated[Text, Field(min_length=1, max_length=200_000)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    sol_expired: bool = False

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, value: str) -> str:
        if value not in PURPOSES:
            raise ValueError(f"unknown purpose; known: {', '.join(PURPOSES)}")
        return value

    @model_validator(mode="after")
    def _parts_for_channel(self) -> TemplateLintIn:
        if self.channel == "email" and self.subject is None:
            raise ValueError("an email template needs a subject")
        if self.channel != "email" and (self.subject is not None or self.html is not None):
            raise ValueError(f"a {self.channel} template has only a body")
        if len(repr(self.data)) > 8000:
            raise ValueError("data is limited to 8000 characters")
        return self


class TemplateProblemOut(BaseModel):
    rule: Literal["content.required", "content.forbidden", "content.masking"]
    block: str | None = None
    phrase: str | None = None
    part: str | None = None
    message: str


class TemplateLintOut(BaseModel):
    ok: bool
    problems: list[TemplateProblemOut]
    preset: str
    rendered: dict[str, Any]
