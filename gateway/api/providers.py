"""Provider callbacks (signature-verified), the development sandboxes, and one-click unsubscribe."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from channels.base import Callback, SignatureInvalid
from gateway.api.base import authenticate, json_response, pydantic_details, requires, runtime
from gateway.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from gateway.schemas import SandboxInboundIn, SandboxReceiptIn
from gateway.services import receipts
from gateway.services import unsubscribe as unsubscribe_service
from gateway.services.replies import inbound
from gateway.services.unsubscribe import check_unsubscribe_token

routes = web.RouteTableDef()

# Each provider's callback body schema, checked after the signature and before parsing.
RECEIPT_SCHEMAS = {"sandbox": SandboxReceiptIn}
INBOUND_SCHEMAS = {"sandbox": SandboxInboundIn}


async def _callback(request: web.Request) -> tuple[object, Callback]:
    name = request.match_info["provider"]
    provider = runtime(request).providers.get(name)
    if provider is None:
        raise NotFound(f"no provider {name!r} is configured", code="unknown_provider")
    body = await request.read()
    return provider, Callback(
        url=str(request.url),
        headers=dict(request.headers),
        body=body,
        content_type=request.content_type,
    )


def _check(schema: type | None, body: bytes) -> None:
    if schema is None:
        return
    try:
        schema.model_validate_json(body)  # type: ignore[attr-defined]
    except ValidationError as exc:
        raise ValidationFailed(
            "the callback does not match the provider's format", details=pydantic_details(exc)
        ) from None


@routes.post("/v1/providers/{provider}/receipts")
async def post_receipts(request: web.Request) -> web.Response:
    provider, callback = await _callback(request)
    try:
        provider.verify(callback)  # type: ignore[attr-defined]
    except SignatureInvalid as exc:
        raise Unauthorized(str(exc), code="bad_signature") from None
    except NotImplementedError:
        raise NotFound("this provider sends no receipts here", code="no_callbacks") from None
    _check(RECEIPT_SCHEMAS.get(request.match_info["provider"]), callback.body)
    events = provider.parse_receipts(callback)  # type: ignore[attr-defined]
    rt = runtime(request)
    async with rt.engine.begin() as conn:
        counts = await receipts.record(conn, events, rt.clock())
    return json_response({"received": len(events), **counts})


@routes.post("/v1/providers/{provider}/inbound")
async def post_inbound(request: web.Request) -> web.Response:
    provider, callback = await _callback(request)
    name = request.match_info["provider"]
    try:
        provider.verify(callback)  # type: ignore[attr-defined]
    except SignatureInvalid:
        # The sandbox also takes replies typed by a developer holding an `ops` key.
        if name != "sandbox":
            raise Unauthorized("signature missing or wrong", code="bad_signature") from None
        key = await authenticate(request)
        if "ops" not in key.scopes:
            raise Forbidden(
                "sandbox replies need a valid signature or an 'ops' key", code="missing_scope"
            ) from None
    except NotImplementedError:
        raise NotFound("this provider takes no inbound messages", code="no_callbacks") from None
    _check(INBOUND_SCHEMAS.get(name), callback.body)
    messages = provider.parse_inbound(callback)  # type: ignore[attr-defined]
    stored = await inbound.receive(runtime(request), messages)
    return json_response({"received": len(messages), "replies": stored})


@routes.get("/v1/sandbox/sms")
@requires("ops")
async def sandbox_sms(request: web.Request) -> web.Response:
    provider = runtime(request).providers.get("sandbox")
    if provider is None:
        raise NotFound("the SMS sandbox is not configured (SMS_PROVIDERS)", code="no_sandbox")
    limit = _limit(request)
    return json_response({"messages": await provider.outbox(limit)})


@routes.get("/v1/sandbox/email")
@requires("ops")
async def sandbox_email(request: web.Request) -> web.Response:
    from channels.email.catcher import list_mail

    settings = runtime(request).settings
    return json_response({"messages": list_mail(settings.data_dir / "mail", _limit(request))})


def _limit(request: web.Request) -> int:
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise ValidationFailed("limit is an integer") from None
    if not 1 <= limit <= 1000:
        raise ValidationFailed("1 ≤ limit ≤ 1000")
    return limit


@routes.get("/v1/unsubscribe/{token}")
async def unsubscribe_page(request: web.Request) -> web.Response:
    _token_message(request)
    html = (
        "<!doctype html><html><body><form method='post'><p>Stop emails about this account?</p>"
        "<button type='submit'>Unsubscribe</button></form></body></html>"
    )
    return web.Response(text=html, content_type="text/html")


@routes.post("/v1/unsubscribe/{token}")
async def unsubscribe(request: web.Request) -> web.Response:
    """RFC 8058 one-click: opts the email address the message went to out of email."""
    await unsubscribe_service.opt_out(runtime(request), _token_message(request))
    return json_response({"unsubscribed": True})


def _token_message(request: web.Request) -> str:
    message_id = check_unsubscribe_token(
        runtime(request).settings.secret, request.match_info["token"]
    )
    if message_id is None:
        raise BadRequest("this unsubscribe link is not valid", code="bad_token")
    return message_id
