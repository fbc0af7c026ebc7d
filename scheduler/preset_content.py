"""The content rules of a preset (compliance §6.8): the blocks every message on a channel must
carry, the phrases none may contain, account masking, and how a block is recognised."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_core.core_schema import ValidationInfo

from scheduler.blocks import BLOCKS, normalize
from scheduler.preset_types import Model, Tag, Value, known_purposes

# When a content rule applies, from the case and contact facts (see scheduler/content.py).
Condition = Literal["always", "sol_expired", "first_party", "third_party", "unverified_owner"]
ContentChannel = Literal["sms", "email", "letter"]


class Required(Model):
    """Blocks every message on a channel must carry; `when` narrows a block to a condition
    (e.g. `{mini_miranda: third_party}`), the others always apply. A condition on a block that
    is not listed has no effect, so an override may replace `value` alone."""

    value: list[str]
    when: dict[str, Condition] = {}
    tag: Tag


class Forbidden(Model):
    """Phrases no message may contain when `when` holds. Latin-script phrases match whole words,
    case-insensitively (a trailing * matches any ending: lawsuit*), CJK phrases anywhere."""

    when: Condition
    locale: str = Field(min_length=2)  # en matches en and en-*; zh matches zh-CN
    channels: list[ContentChannel] = []  # empty: every channel
    phrases: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    tag: Tag


class Masking(Model):
    account_digits_visible: int = Field(ge=0, le=8)
    mask_char: str = Field(min_length=1, max_length=1)
    tag: Tag


class Detector(Model):
    """How a block is recognised (scheduler/content_blocks.yaml has the built-in ones): per
    locale, regular expressions, or lists of expressions that must all match."""

    patterns: dict[str, list[str | list[str]]]
    tag: Tag


class Content(Model):
    # Before `required`, whose validation needs the names of the preset's own blocks.
    detectors: dict[str, Detector] = {}
    required: dict[ContentChannel, Required]
    # Purposes that carry no required blocks (they carry no collection content); forbidden
    # phrases and masking still apply to them.
    exempt_purposes: Value[list[str]] = Value[list[str]](
        value=["opt_out_confirmation", "inbound_acknowledgement"], tag="P"
    )
    forbidden: list[Forbidden]
    masking: Masking

    @field_validator("detectors")
    @classmethod
    def _patterns_compile(cls, detectors: dict[str, Detector]) -> dict[str, Detector]:
        for block, detector in detectors.items():
            normalize(detector.patterns, f"{block}.patterns")
        return detectors

    @field_validator("required")
    @classmethod
    def _known_blocks(
        cls, required: dict[str, Required], info: ValidationInfo
    ) -> dict[str, Required]:
        known = BLOCKS | set(info.data.get("detectors") or {})
        for channel, rule in required.items():
            unknown = sorted({*rule.value, *rule.when} - known)
            if unknown:
                raise ValueError(
                    f"{channel}: unknown block {unknown[0]!r}; known: {', '.join(sorted(known))} "
                    "(or define it under content.detectors)"
                )
        return required

    @field_validator("exempt_purposes")
    @classmethod
    def _known_purposes(cls, purposes: Value[list[str]]) -> Value[list[str]]:
        known_purposes(purposes.value)
        return purposes
