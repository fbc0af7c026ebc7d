"""The error tree. The API middleware maps each class to one HTTP status and a JSON body."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, details: list[dict[str, Any]] | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(GatewayError):
    status = 400
    code = "bad_request"


class ValidationFailed(GatewayError):
    status = 422
    code = "validation_failed"


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    code = "conflict"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class Unavailable(GatewayError):
    status = 503
    code = "unavailable"
