"""Upstream facts about a case (`POST /v1/cases/{case_ref}/events`): payment, promise to pay,
dispute, holds, cease, close, release. Re-exported by `gateway.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.schemas.types import Amount, Date, Strict, Text

HoldKind = Literal[
    "dispute", "bankruptcy", "breathing_space", "attorney", "deceased", "capacity", "legal"
]


def _when_type(kind: str, then: dict[str, Any], otherwise: dict[str, Any] | None = None) -> Any:
    rule: dict[str, Any] = {"if": {"properties": {"type": {"const": kind}}}, "then": then}
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def _required(field: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": [field], "properties": {field: schema}}


class CaseEventIn(Strict):
    """An upstream fact about a case. Which fields apply depends on `type`."""

    # The rules of `_fields_for_type`, stated in the document so a client (or a fuzzer) that
    # follows it is not refused.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when_type(
                    "promise_to_pay",
                    _required("promised_date", {"type": "string", "format": "date"}),
                ),
                _when_type(
                    "hold",
                    _required("hold", {"enum": list(get_args(HoldKind))}),
                    {"properties": {"hold": {"type": "null"}}},
                ),
                _when_type(
                    "close",
                    _required("reason", {"enum": ["paid", "settled", "written_off", "other"]}),
                ),
            ]
        }
    )

    type: Literal[
        "payment_received", "promise_to_pay", "dispute", "hold", "release", "close", "cease"
    ]
    amount: Amount | None = None
    full: bool = True
    promised_date: Date | None = None
    hold: HoldKind | None = None
    reason: Literal["paid", "settled", "written_off", "other"] | None = None
    note: Annotated[Text, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> CaseEventIn:
        if self.type == "promise_to_pay" and self.promised_date is None:
            raise ValueError("promise_to_pay needs promised_date")
        if self.type == "hold" and self.hold is None:
            raise ValueError("hold needs hold (the kind of hold)")
        if self.type != "hold" and self.hold is not None:
            raise ValueError("hold is only for type=hold")
        if self.type == "close" and self.reason is None:
            raise ValueError("close needs reason")
        return self


class CaseEventOut(BaseModel):
    case_ref: str
    state: str
    state_reason: str | None
    state_until: datetime | None
    pending_reevaluated: int
