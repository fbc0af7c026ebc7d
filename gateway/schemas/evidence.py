"""One line of an evidence export (`GET /v1/cases/{case_ref}/export`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class EvidenceLine(BaseModel):
    """Every line has a `type`, a time `at` (the gateway's clock) and the case; the rest of its
    fields depend on the type (see `gateway.services.evidence`)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["case", "message", "receipt", "reply", "timeline", "chain"]
    at: datetime
    case_ref: str
