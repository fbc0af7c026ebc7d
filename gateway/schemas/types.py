"""Types shared by the API's request and response bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["sms", "email", "letter"]
Locale = Literal["en", "zh-CN"]
# Built-in presets are US-RegF, UK-FCA, CN and EU; operators may add their own (PRESETS_DIR).
Preset = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
CollectorRole = Literal["first_party", "third_party"]
Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
