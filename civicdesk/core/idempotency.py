"""Idempotency keys for money-moving API requests (docs/api.md, "Idempotency keys").

A client sends `Idempotency-Key: <1-255 visible ASCII characters>` with a POST (or PUT, PATCH,
DELETE). The first request with a key runs; a retry with the same key and the same request gets
the stored answer again, marked `Idempotent-Replayed: true`, and nothing runs twice. The same key
with a different request answers 422; the same key while the first request still runs, 409 with
`Retry-After`. A missing (where required) or malformed key is a 400 naming the header. Keys belong
to the caller (`user:<id>`: anonymous requests cannot use them, they get 401) and are kept for
settings.IDEMPOTENCY_KEY_TTL (48 hours by default, never less than 24).

Usage on an APIView (the schema documents the header, its 409 and 422 and the replay header)::

    from civicdesk.core.idempotency import idempotent

    class PaymentCreateView(APIView):
        @extend_schema(request=PaymentIn, responses={201: PaymentOut})  # optional, either order
        @idempotent
        def post(self, request):
            serializer = PaymentIn(data=request.data)
            serializer.is_valid(raise_exception=True)
            payment = payment_record(actor=request.user, **serializer.validated_data)
            return Response(PaymentOut(payment).data, status=201)

and on a viewset action: `@idempotent` goes ABOVE `@action` (like `@extend_schema`; `@action`
replaces the attributes that carry the schema annotation, and the endpoint refuses to run, with
ImproperlyConfigured, when that happened)::

    class RefundViewSet(GenericViewSet):
        @extend_schema(request=None, responses={200: RefundOut})
        @idempotent
        @action(detail=True, methods=["post"])
        def approve(self, request, pk=None):
            ...

Options: `@idempotent(required=False)` makes the header optional (without it the request runs
unprotected); `@idempotent(atomic=False)` is for endpoints that must commit part of their work
before they answer (e.g. record an intent before calling a payment gateway).

How it works. The claim (an `in_flight` row, unique per caller and key) is committed in its own
short transaction before the view runs, so a concurrent duplicate sees it and gets 409. With
`atomic=True` (the default) the view then runs inside one transaction that locks the claim and, on
success, stores the answer on it: the side effects and the stored answer commit together. A
request that died half-way (worker killed, lost connection) therefore left nothing behind but its
`in_flight` claim, and a retry takes that over once it is IN_FLIGHT_TIMEOUT old and nobody holds
it. With `atomic=False` a claim left behind by a dead request keeps answering 409 until it
expires, because nobody can know whether its work committed.

An answer with status < 500 is stored and replayed, except 409 and 429 (retry-later answers: the
key is released, as it is after a 5xx or an exception, whose writes are rolled back with
`atomic=True`). An exception that the API turns into a 4xx (a ValidationError: 422, Http404...)
is such an answer: the view's writes are rolled back and the 4xx is stored.

The claim is only visible to other requests once committed: inside an enclosing transaction
(ATOMIC_REQUESTS, which this project does not use) a concurrent duplicate waits for the first
request's commit and then gets the replay instead of a 409, and a 4xx that the view raised is not
stored (DRF rolls the whole request back, the claim included), so a retry runs again.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions

from civicdesk.core.api import PROBLEM_CONTENT_TYPE
from civicdesk.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Visible ASCII, "!" (0x21) to "~" (0x7e): no spaces, which HTTP would trim or a list would split.
KEY_PATTERN = f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"
_KEY_RE = re.compile(KEY_PATTERN)
MIN_TTL = timedelta(hours=24)
DEFAULT_TTL = timedelta(hours=48)
# How old an in-flight claim of an atomic endpoint must be before a retry may take it over. A live
# request keeps its claim locked (PostgreSQL) or the database's write lock (SQLite), so a
# takeover can never run beside it; the timeout only spares it the attempt.
IN_FLIGHT_TIMEOUT = timedelta(seconds=60)
# Response headers replayed with the stored body.
STORED_HEADERS = ("Content-Type", "Location")
# Answers that mean "try again later" are not stored: the key is released.
RELEASED_STATUSES = frozenset({409, 429})
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_CLAIM_ATTEMPTS = 5
_HASH_CHUNK = 64 * 1024


# --- errors ---------------------------------------------------------------------------------


class IdempotencyKeyInFlight(exceptions.APIException):
    """409: a request with this key is still running (or another took its claim over)."""

    status_code = 409
    default_detail = _(
        "A request with this Idempotency-Key is still being processed. Retry after it finishes."
    )
    default_code = "idempotency_key_in_flight"
    wait = 1  # DRF's exception handler turns it into Retry-After: 1


class IdempotencyKeyMismatch(exceptions.APIException):
    """422: the key was used before with a different method, path, query or body."""

    status_code = 422
    default_detail = _("This Idempotency-Key was used with a different request.")
    default_code = "idempotency_key_mismatch"


def _header_error(message, code: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({HEADER: [exceptions.ErrorDetail(str(message), code=code)]})


# --- the request: key, caller, digest ----------------------------------------------------------


def read_key(request, *, required: bool = True) -> str | None:
    """The request's Idempotency-Key, or None when it has none and none is required.

    Raises a DRF ValidationError (400 problem+json naming the header) when it is missing but
    required, or not 1-255 visible ASCII characters."""
    value = request.headers.get(HEADER)
    if value is None or value == "":
        if required:
            raise _header_error(_("This operation requires an Idempotency-Key header."), "required")
        return None
    if not _KEY_RE.fullmatch(value):
        raise _header_error(
            _(
                "An Idempotency-Key is 1 to %(max)d visible ASCII characters, without spaces; "
                "a UUID is a good choice."
            )
            % {"max": MAX_KEY_LENGTH},
            "invalid",
        )
    return value


def caller_scope(request) -> str:
    """Whose keys these are: `user:<id>`. Anonymous callers cannot use keys (401/403)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    return f"user:{user.pk}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot digest a {type(value).__name__}")


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no insignificant whitespace: equal documents, equal bytes."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    ).encode()


def _file_summary(upload: UploadedFile) -> dict[str, Any]:
    digest = hashlib.sha256()
    for chunk in upload.chunks(_HASH_CHUNK):  # chunks() starts at the beginning
        digest.update(chunk)
    upload.seek(0)  # the view reads it again
    return {
        "file": {
            "name": upload.name,
            "content_type": upload.content_type,
            "size": upload.size,
            "sha256": digest.hexdigest(),
        }
    }


def _canonical_multidict(data: MultiValueDict) -> list[list[Any]]:
    """Form fields (and files) sorted by name; repeated values keep their order."""
    return [
        [
            name,
            [
                _file_summary(value) if isinstance(value, UploadedFile) else value
                for value in data.getlist(name)
            ],
        ]
        for name in sorted(data.keys())
    ]


def canonical_body(data: Any) -> Any:
    """A JSON-able, order-independent form of a parsed request body (DRF's `request.data`):
    JSON as it is (canonical_json sorts its keys), forms and multipart as sorted fields with
    each uploaded file reduced to its name, type, size and SHA-256."""
    if isinstance(data, MultiValueDict):
        return {"form": _canonical_multidict(data)}
    return {"json": data}


def request_digest(*, method: str, path: str, query: Mapping[str, Any], data: Any) -> str:
    """SHA-256 (hex) over the method, path, query string and canonical body of a request. The
    same JSON with its keys in another order or other whitespace has the same digest."""
    query_fields = (
        _canonical_multidict(query)
        if isinstance(query, MultiValueDict)
        else sorted([str(k), [v]] for k, v in query.items())
    )
    document = {
        "method": method.upper(),
        "path": path,
        "query": query_fields,
        "body": canonical_body(data),
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


# --- claims ------------------------------------------------------------------------------------


def key_ttl() -> timedelta:
    """How long keys are kept: settings.IDEMPOTENCY_KEY_TTL, never less than 24 hours."""
    return max(getattr(settings, "IDEMPOTENCY_KEY_TTL", DEFAULT_TTL), MIN_TTL)


class Outcome(enum.Enum):
    RUN = "run"  # the caller owns the claim: run the view
    REPLAY = "replay"  # completed before: answer the stored response
    MISMATCH = "mismatch"  # used before with another request: 422
    IN_FLIGHT = "in_flight"  # another request holds it: 409


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    record: IdempotencyKey | None = None


def _claimed(record: IdempotencyKey) -> Claim:
    return Claim(Outcome.RUN, record)


def _take_over(record: IdempotencyKey, now: datetime) -> Claim | None:
    """Take an abandoned in-flight claim of an atomic endpoint. None: it changed, look again."""
    try:
        with transaction.atomic():
            # PostgreSQL: a live owner holds this row locked for its whole run, so NOWAIT fails
            # at once. SQLite ignores FOR UPDATE, but this transaction's BEGIN IMMEDIATE waits
            # until the owner's transaction ends (and fails after the busy timeout).
            held = list(
                IdempotencyKey.objects.select_for_update(nowait=True)
                .filter(
                    pk=record.pk,
                    claim_token=record.claim_token,
                    state=IdempotencyKey.State.IN_FLIGHT,
                )
                .values_list("pk", flat=True)
            )
            if not held:
                return None
            token = uuid.uuid4()
            IdempotencyKey.objects.filter(pk=record.pk).update(claim_token=token, claimed_at=now)
    except OperationalError:
        return Claim(Outcome.IN_FLIGHT, record)
    record.claim_token, record.claimed_at = token, now
    return _claimed(record)


def _find(scope: str, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(scope=scope, key=key).first()


def idempotency_key_claim(
    *,
    scope: str,
    key: str,
    method: str,
    path: str,
    digest: str,
    recoverable: bool = True,
    now: datetime | None = None,
) -> Claim:
    """Claim (scope, key) for a request, or say why not.

    The claim is committed in its own transaction before this returns (unless the caller is
    itself inside a transaction), so concurrent requests see it. Expired keys are treated as
    unused. `recoverable` claims (atomic endpoints) left by a dead request are taken over once
    IN_FLIGHT_TIMEOUT old."""
    now = now or timezone.now()
    for _attempt in range(_CLAIM_ATTEMPTS):
        record = _find(scope, key)
        if record is None:
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        scope=scope,
                        key=key,
                        method=method.upper(),
                        path=path[:500],
                        request_digest=digest,
                        recoverable=recoverable,
                        claimed_at=now,
                        created_at=now,
                        expires_at=now + key_ttl(),
                    )
            except IntegrityError:
                continue  # someone claimed it first: look at theirs
            return _claimed(record)
        if record.expires_at <= now:
            IdempotencyKey.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.request_digest != digest:
            return Claim(Outcome.MISMATCH, record)
        if record.state == IdempotencyKey.State.COMPLETED:
            return Claim(Outcome.REPLAY, record)
        if record.recoverable and record.claimed_at <= now - IN_FLIGHT_TIMEOUT:
            claim = _take_over(record, now)
            if claim is None:
                continue
            return claim
        return Claim(Outcome.IN_FLIGHT, record)
    return Claim(Outcome.IN_FLIGHT)


def _hold(record: IdempotencyKey) -> bool:
    """Inside the work transaction: lock our claim; False when another request took it over."""
    return bool(
        list(
            IdempotencyKey.objects.select_for_update()
            .filter(
                pk=record.pk,
                claim_token=record.claim_token,
                state=IdempotencyKey.State.IN_FLIGHT,
            )
            .values_list("pk", flat=True)
        )
    )


def idempotency_key_complete(*, record: IdempotencyKey, response: HttpResponseBase) -> bool:
    """Store a rendered response on our claim and mark it completed. False if it was not ours."""
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    return bool(
        IdempotencyKey.objects.filter(
            pk=record.pk,
            claim_token=record.claim_token,
            state=IdempotencyKey.State.IN_FLIGHT,
        ).update(
            state=IdempotencyKey.State.COMPLETED,
            response_status=response.status_code,
            response_body=response.content.decode(response.charset or "utf-8"),
            response_headers=headers,
            completed_at=timezone.now(),
        )
    )


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Give up our in-flight claim, so that a retry with the same key runs again."""
    IdempotencyKey.objects.filter(
        pk=record.pk, claim_token=record.claim_token, state=IdempotencyKey.State.IN_FLIGHT
    ).delete()


def idempotency_keys_purge(now: datetime | None = None) -> int:
    """Delete expired keys (Celery beat runs it hourly). Returns how many were deleted."""
    now = now or timezone.now()
    deleted, _by_model = IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    return deleted


def replay_response(record: IdempotencyKey) -> HttpResponse:
    """The stored answer again, marked as a replay."""
    stored = dict(record.response_headers)
    content_type = stored.pop("Content-Type", None)
    response = HttpResponse(record.response_body.encode("utf-8"), status=record.response_status)
    if content_type is None:
        del response["Content-Type"]  # e.g. a 204 had none
    else:
        response["Content-Type"] = content_type
    for name, value in stored.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


# --- the decorator -----------------------------------------------------------------------------


def _parameters(required: bool) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            name=HEADER,
            type={
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_KEY_LENGTH,
                "pattern": KEY_PATTERN,
            },
            location=OpenApiParameter.HEADER,
            required=required,
            description=_(
                "A key you choose for this operation (1-255 visible ASCII characters; a UUID is "
                "a good choice), kept for at least 24 hours. Retrying with the same key and the "
                "same request returns the first answer again, with `Idempotent-Replayed: true`, "
                "and nothing is done twice. The same key with a different request answers 422; "
                "while the first request is still being processed, 409 with Retry-After."
            ),
        ),
        OpenApiParameter(
            name=REPLAYED_HEADER,
            type={"type": "string", "enum": ["true"]},
            location=OpenApiParameter.HEADER,
            response=True,
            description=_("Present when this is the stored answer to an earlier request."),
        ),
    ]


_RESPONSE_NOTES = {
    "409": _(
        "Conflict, e.g. a request with this Idempotency-Key is still being processed: retry "
        "after Retry-After seconds with the same key."
    ),
    "422": _(
        "Unprocessable content: a rule refuses the request, or the Idempotency-Key was already "
        "used with a different request."
    ),
}
_RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 0},
    "description": _("Seconds to wait before retrying."),
}


class IdempotentSchemaMixin:
    """drf-spectacular AutoSchema mixin (added by @idempotent): says on the operation's 409 and
    422 responses what they mean for the key. The problem+json content refers to the `Problem`
    component that core.api.add_problem_responses declares."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if not operation or method.upper() not in UNSAFE_METHODS:
            return operation
        responses = operation.setdefault("responses", {})
        for code, note in _RESPONSE_NOTES.items():
            response = responses.setdefault(
                code,
                {
                    "description": "",
                    "content": {
                        PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    },
                },
            )
            response["description"] = " ".join(
                part for part in (response.get("description", ""), str(note)) if part
            )
        responses["409"].setdefault("headers", {}).setdefault("Retry-After", dict(_RETRY_AFTER))
        return operation


def _check_annotated(wrapper: Callable, view, handler: Callable) -> None:
    schema = getattr(wrapper, "kwargs", {}).get("schema")
    if schema is None or not issubclass(get_class(schema), IdempotentSchemaMixin):
        raise ImproperlyConfigured(
            f"{type(view).__name__}.{handler.__name__}: put @idempotent above @action (and "
            "@extend_schema above both); the Idempotency-Key header is missing from the schema."
        )


def _render(view, request, response, args, kwargs) -> HttpResponseBase:
    response = view.finalize_response(request, response, *args, **kwargs)
    if hasattr(response, "render"):
        response.render()
    if response.streaming:
        raise ImproperlyConfigured("an @idempotent endpoint cannot answer with a stream")
    return response


def _stored(status_code: int) -> bool:
    return status_code < 500 and status_code not in RELEASED_STATUSES


def _finish(view, request, record, response, args, kwargs) -> HttpResponseBase:
    """Outside any work transaction: store a storable response, else release the key."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and connection.needs_rollback:
        # DRF marked an enclosing transaction (ATOMIC_REQUESTS) for rollback after an
        # exception: the claim goes with it, and nothing more can be written.
        return response
    if _stored(response.status_code):
        response = _render(view, request, response, args, kwargs)
        idempotency_key_complete(record=record, response=response)
    else:
        idempotency_key_release(record=record)
    return response


def _handle_failure(view, request, record, exc, args, kwargs) -> HttpResponseBase:
    """The view raised. An exception the API answers with a 4xx is that answer; any other one
    (a 500) releases the key and propagates."""
    try:
        response = view.handle_exception(exc)
        return _finish(view, request, record, response, args, kwargs)
    except BaseException:
        idempotency_key_release(record=record)
        raise


def _run_atomic(handler, view, request, record, args, kwargs) -> HttpResponseBase:
    failure: Exception | None = None
    response = None
    try:
        with transaction.atomic():
            if not _hold(record):
                raise IdempotencyKeyInFlight()  # taken over by a retry: that one answers
            try:
                with transaction.atomic():  # the view's writes, undone if it raises
                    response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                failure = exc
            else:
                if _stored(response.status_code):
                    response = _render(view, request, response, args, kwargs)
                    idempotency_key_complete(record=record, response=response)
                    return response  # side effects and stored answer commit together
                transaction.set_rollback(True)  # 5xx, 409, 429: undo the writes, free the key
    except IdempotencyKeyInFlight:
        raise
    except BaseException:
        idempotency_key_release(record=record)
        raise
    if failure is not None:
        return _handle_failure(view, request, record, failure, args, kwargs)
    idempotency_key_release(record=record)
    return response


def _run(handler, view, request, record, args, kwargs) -> HttpResponseBase:
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception as exc:
        return _handle_failure(view, request, record, exc, args, kwargs)
    except BaseException:
        idempotency_key_release(record=record)
        raise
    try:
        return _finish(view, request, record, response, args, kwargs)
    except BaseException:
        idempotency_key_release(record=record)
        raise


def _serve(handler, wrapper, view, request, args, kwargs, *, required: bool, atomic: bool):
    if request.method not in UNSAFE_METHODS:
        return handler(view, request, *args, **kwargs)
    _check_annotated(wrapper, view, handler)
    key = read_key(request, required=required)
    if key is None:
        return handler(view, request, *args, **kwargs)
    scope = caller_scope(request)
    digest = request_digest(
        method=request.method, path=request.path, query=request.query_params, data=request.data
    )
    claim = idempotency_key_claim(
        scope=scope,
        key=key,
        method=request.method,
        path=request.path,
        digest=digest,
        recoverable=atomic,
    )
    if claim.outcome is Outcome.REPLAY:
        return replay_response(claim.record)
    if claim.outcome is Outcome.MISMATCH:
        raise IdempotencyKeyMismatch()
    if claim.outcome is Outcome.IN_FLIGHT:
        raise IdempotencyKeyInFlight()
    run = _run_atomic if atomic else _run
    return run(handler, view, request, claim.record, args, kwargs)


def idempotent(
    handler: Callable | None = None, /, *, required: bool = True, atomic: bool = True
) -> Callable:
    """Make a DRF view method (APIView.post, a viewset action...) honour Idempotency-Key.

    `@idempotent` or `@idempotent(required=False, atomic=False)`; see this module's docstring.
    On a viewset action it goes above `@action`. Safe methods (GET...) pass through untouched.
    """

    def decorate(func: Callable) -> Callable:
        if not inspect.isfunction(func):
            raise TypeError("@idempotent decorates a view method (def post(self, request, ...))")

        @functools.wraps(func)
        def wrapper(view, request, *args, **kwargs):
            return _serve(
                func, wrapper, view, request, args, kwargs, required=required, atomic=atomic
            )

        # functools.wraps shared func's attribute dict entries; give the wrapper its own kwargs so
        # the annotation below does not leak onto func.
        wrapper.kwargs = dict(getattr(func, "kwargs", {}))
        wrapper = extend_schema(methods=list(UNSAFE_METHODS), parameters=_parameters(required))(
            wrapper
        )
        base = get_class(wrapper.kwargs["schema"])
        wrapper.kwargs["schema"] = type(
            f"Idempotent{base.__name__}", (IdempotentSchemaMixin, base), {}
        )
        wrapper.idempotency = {"required": required, "atomic": atomic}
        return wrapper

    return decorate(handler) if handler is not None else decorate


__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "Claim",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyMismatch",
    "IdempotentSchemaMixin",
    "Outcome",
    "canonical_body",
    "canonical_json",
    "idempotency_key_claim",
    "idempotency_key_complete",
    "idempotency_key_release",
    "idempotency_keys_purge",
    "idempotent",
    "key_ttl",
    "read_key",
    "replay_response",
    "request_digest",
]
