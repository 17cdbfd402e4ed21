"""Idempotency-Key support (core/idempotency.py), proved on tiny test-only endpoints mounted by
this module (it is their URLconf) whose every run leaves a counted side effect: an audit row."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import extend_schema
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from civicdesk.core import idempotency
from civicdesk.core.idempotency import (
    Outcome,
    idempotency_key_claim,
    idempotency_keys_purge,
    idempotent,
    request_digest,
)
from civicdesk.core.models import AuditEvent, IdempotencyKey
from civicdesk.core.tasks import purge_idempotency_keys

ROOT = Path(__file__).resolve().parents[3]
CHARGES = "/api/v1/idem/charges"

# --- the test-only endpoints -----------------------------------------------------------------

# What the next runs of a charge endpoint do, in order (empty: succeed). A module-level script
# rather than a body field, so that a retry can send exactly the same request.
SCRIPT: list[str] = []
GATE = {"started": threading.Event(), "release": threading.Event()}


class ChargeIn(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reference = serializers.CharField(max_length=50)
    statement = serializers.FileField(required=False)


class ChargeOut(serializers.Serializer):
    id = serializers.UUIDField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    reference = serializers.CharField()
    statement_sha256 = serializers.CharField(allow_blank=True)


def _charge(request):
    """Validate, write the side effect, then do what the script says."""
    serializer = ChargeIn(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    step = SCRIPT.pop(0) if SCRIPT else "ok"
    statement = data.get("statement")
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.TOKEN_CREATED,
        identifier=f"charge:{data['reference']}",
        data={"amount": str(data["amount"])},
    )
    if step == "crash":
        raise RuntimeError("the view crashed")
    if step == "bad_gateway":
        return Response({"detail": "gateway down"}, status=502)
    if step == "busy":
        return Response({"detail": "busy"}, status=409)
    if step == "refuse":
        raise DjangoValidationError({"amount": "Too much for this account."})
    if step == "missing":
        raise Http404
    if step == "no_content":
        return Response(status=204)
    if step == "block":
        GATE["started"].set()
        assert GATE["release"].wait(20), "the test never released the blocked request"
    body = ChargeOut(
        {
            "id": event.id,
            "amount": data["amount"],
            "reference": data["reference"],
            "statement_sha256": hashlib.sha256(statement.read()).hexdigest() if statement else "",
        }
    ).data
    return Response(body, status=201, headers={"Location": f"{CHARGES}/{event.id}"})


class ChargeView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=ChargeIn, responses={201: ChargeOut})
    @idempotent
    def post(self, request):
        return _charge(request)


class LooseChargeView(APIView):
    """atomic=False: the view's writes commit on their own."""

    @idempotent(atomic=False)
    @extend_schema(request=ChargeIn, responses={201: ChargeOut})
    def post(self, request):
        return _charge(request)


class OptionalChargeView(APIView):
    @extend_schema(request=ChargeIn, responses={201: ChargeOut})
    @idempotent(required=False)
    def post(self, request):
        return _charge(request)


class OpenChargeView(APIView):
    """Allows anonymous callers, who cannot use keys."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(request=ChargeIn, responses={201: ChargeOut})
    @idempotent
    def post(self, request):
        return _charge(request)


class ChargeViewSet(GenericViewSet):
    serializer_class = ChargeIn

    @extend_schema(request=ChargeIn, responses={201: ChargeOut})
    @idempotent
    @action(detail=False, methods=["get", "post"])
    def settle(self, request):
        if request.method == "GET":
            return Response({"settled": AuditEvent.objects.count()})
        return _charge(request)


class MisorderedViewSet(GenericViewSet):
    serializer_class = ChargeIn

    @action(detail=False, methods=["post"])
    @idempotent
    def settle(self, request):
        return _charge(request)


router = SimpleRouter(trailing_slash=False)
router.register("api/v1/idem/sets", ChargeViewSet, basename="idem-set")
router.register("api/v1/idem/misordered", MisorderedViewSet, basename="idem-misordered")

urlpatterns = [
    path("api/v1/idem/charges", ChargeView.as_view()),
    path("api/v1/idem/other-charges", ChargeView.as_view()),
    path("api/v1/idem/loose-charges", LooseChargeView.as_view()),
    path("api/v1/idem/optional-charges", OptionalChargeView.as_view()),
    path("api/v1/idem/open-charges", OpenChargeView.as_view()),
    *router.urls,
]

pytestmark = pytest.mark.urls(__name__)

# --- fixtures and helpers --------------------------------------------------------------------

BODY = {"amount": "125.50", "reference": "INV-1"}


@pytest.fixture(autouse=True)
def _reset_script():
    SCRIPT.clear()
    GATE["started"].clear()
    GATE["release"].clear()
    yield
    SCRIPT.clear()
    GATE["release"].set()


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.org")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.org")


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def post(client, url=CHARGES, body=BODY, key="key-1", **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, body, format="json", **extra)


def charges() -> int:
    return AuditEvent.objects.filter(identifier__startswith="charge:").count()


def digest_of(url=CHARGES, body=BODY) -> str:
    return request_digest(method="POST", path=url, query={}, data=body)


# --- replay, mismatch, scope -----------------------------------------------------------------


def test_same_key_same_body_runs_once_and_replays_the_answer(alice):
    client = client_for(alice)
    first = post(client)
    second = post(client)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Location"] == first["Location"] == f"{CHARGES}/{first.json()['id']}"
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert charges() == 1
    record = IdempotencyKey.objects.get()
    assert (record.scope, record.key, record.state) == (f"user:{alice.pk}", "key-1", "completed")
    assert (record.method, record.path, record.response_status) == ("POST", CHARGES, 201)


def test_json_key_order_and_whitespace_do_not_make_another_request(alice):
    client = client_for(alice)
    first = client.generic(
        "POST",
        CHARGES,
        '{"amount": "125.50", "reference": "INV-1"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    second = client.generic(
        "POST",
        CHARGES,
        '{\n  "reference":"INV-1",\t"amount" : "125.50"\n}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert first.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert charges() == 1


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (CHARGES, {**BODY, "amount": "125.51"}),
        (CHARGES, {**BODY, "reference": "INV-2"}),
        (CHARGES, {**BODY, "extra": None}),
        (CHARGES + "?account=1", BODY),
        ("/api/v1/idem/other-charges", BODY),
    ],
    ids=["amount", "reference", "extra-field", "query", "path"],
)
def test_same_key_with_a_different_request_is_422_and_does_nothing(alice, url, body):
    client = client_for(alice)
    assert post(client).status_code == 201
    response = post(client, url=url, body=body)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/idempotency-key-mismatch")
    assert problem["detail"] == "This Idempotency-Key was used with a different request."
    assert "Idempotent-Replayed" not in response
    assert charges() == 1
    # and the original request still replays
    assert post(client)["Idempotent-Replayed"] == "true"


def test_the_problems_are_in_the_callers_language(alice):
    client = client_for(alice)
    post(client)
    response = post(client, body={**BODY, "amount": "1.00"}, HTTP_ACCEPT_LANGUAGE="uk")
    assert response.status_code == 422
    assert response["Content-Language"] == "uk"
    assert response.json()["title"] != "Unprocessable content"


def test_keys_are_scoped_to_the_caller(alice, bob):
    first = post(client_for(alice))
    other = post(client_for(bob))
    assert first.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert other.json()["id"] != first.json()["id"]
    assert charges() == 2
    assert sorted(IdempotencyKey.objects.values_list("scope", flat=True)) == sorted(
        [f"user:{alice.pk}", f"user:{bob.pk}"]
    )
    # bob's different body under the same key is not a mismatch with alice's
    assert post(client_for(bob), key="key-2", body={**BODY, "amount": "9.99"}).status_code == 201


def test_anonymous_callers_cannot_use_keys(db):
    response = post(client_for(None), url="/api/v1/idem/open-charges")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert charges() == 0
    assert not IdempotencyKey.objects.exists()


def test_unauthenticated_request_to_a_protected_endpoint_is_refused_first(db):
    assert post(client_for(None)).status_code == 401
    assert not IdempotencyKey.objects.exists()


# --- the header ------------------------------------------------------------------------------


def test_missing_header_is_400_naming_the_header(alice):
    response = post(client_for(alice), key=None)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    error = response.json()["errors"][0]
    assert error["field"] == "Idempotency-Key"
    assert error["code"] == "required"
    assert "Idempotency-Key" in error["message"]
    assert charges() == 0
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["a b", "é", "x" * 256, "tab\there", "naïve-key", "\x7f"],
    ids=["space", "non-ascii", "too-long", "tab", "latin-1", "del"],
)
def test_malformed_key_is_400(alice, key):
    response = post(client_for(alice), key=key)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("Idempotency-Key", "invalid")
    assert charges() == 0
    assert not IdempotencyKey.objects.exists()


def test_empty_header_counts_as_missing(alice):
    response = post(client_for(alice), key="")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "required"


@pytest.mark.parametrize("key", ["x", "!", "~" * 255, "550e8400-e29b-41d4-a716-446655440000"])
def test_well_formed_keys_are_accepted(alice, key):
    assert post(client_for(alice), key=key).status_code == 201
    assert IdempotencyKey.objects.get().key == key


def test_keys_are_case_sensitive(alice):
    client = client_for(alice)
    assert post(client, key="abc").status_code == 201
    assert "Idempotent-Replayed" not in post(client, key="ABC")
    assert charges() == 2


def test_malformed_body_is_refused_before_the_key_is_spent(alice):
    client = client_for(alice)
    response = client.generic(
        "POST", CHARGES, '{"amount": ', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, key="k").status_code == 201


def test_optional_header_endpoint_runs_unprotected_without_a_key(alice):
    client = client_for(alice)
    url = "/api/v1/idem/optional-charges"
    assert post(client, url=url, key=None).status_code == 201
    assert post(client, url=url, key=None).status_code == 201
    assert charges() == 2
    assert not IdempotencyKey.objects.exists()
    post(client, url=url, key="k")
    assert post(client, url=url, key="k")["Idempotent-Replayed"] == "true"
    assert charges() == 3


# --- in flight -------------------------------------------------------------------------------


def _claim(user, *, url=CHARGES, body=BODY, key="key-1", recoverable=True, now=None):
    claim = idempotency_key_claim(
        scope=f"user:{user.pk}",
        key=key,
        method="POST",
        path=url,
        digest=digest_of(url, body),
        recoverable=recoverable,
        now=now,
    )
    assert claim.outcome is Outcome.RUN
    return claim.record


def test_a_request_in_flight_answers_409_with_retry_after(alice):
    _claim(alice)
    response = post(client_for(alice))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "1"
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert charges() == 0


def test_a_different_request_under_an_in_flight_key_is_422(alice):
    _claim(alice)
    assert post(client_for(alice), body={**BODY, "amount": "1.00"}).status_code == 422


def test_a_stale_claim_of_an_atomic_endpoint_is_taken_over(alice):
    """A request that died left its claim and (atomic) nothing else: a retry runs it."""
    record = _claim(alice, now=timezone.now() - timedelta(minutes=2))
    old_token = record.claim_token
    response = post(client_for(alice))
    assert response.status_code == 201
    assert charges() == 1
    record.refresh_from_db()
    assert record.state == "completed"
    assert record.claim_token != old_token
    assert post(client_for(alice))["Idempotent-Replayed"] == "true"


def test_a_fresh_claim_is_not_taken_over(alice):
    _claim(alice, now=timezone.now() - idempotency.IN_FLIGHT_TIMEOUT + timedelta(seconds=5))
    assert post(client_for(alice)).status_code == 409


def test_a_stale_claim_of_a_non_atomic_endpoint_stays_409(alice):
    """Its work may have committed: nobody can tell, so it is never run twice."""
    url = "/api/v1/idem/loose-charges"
    _claim(alice, url=url, recoverable=False, now=timezone.now() - timedelta(hours=1))
    assert post(client_for(alice), url=url).status_code == 409
    assert charges() == 0


def test_an_owner_whose_claim_was_taken_over_answers_409_without_running(alice):
    """Between committing its claim and starting its work, a slow request lost the claim to a
    retry (which now runs it): it must not run the view too."""
    record = _claim(alice)
    IdempotencyKey.objects.filter(pk=record.pk).update(claim_token=uuid.uuid4())
    ran = []
    with pytest.raises(idempotency.IdempotencyKeyInFlight):
        idempotency._run_atomic(lambda *a: ran.append(a), ChargeView(), None, record, (), {})
    assert ran == []
    assert IdempotencyKey.objects.get().state == "in_flight"  # the new owner's claim stays


def test_concurrent_first_claims_let_exactly_one_run(alice, monkeypatch):
    """Two requests both found no row; the second insert hits the unique constraint."""
    winner = _claim(alice)
    monkeypatch.setattr(idempotency, "_find", _none_then_real())
    claim = idempotency_key_claim(
        scope=f"user:{alice.pk}", key="key-1", method="POST", path=CHARGES, digest=digest_of()
    )
    assert claim.outcome is Outcome.IN_FLIGHT
    assert claim.record.pk == winner.pk


def _none_then_real():
    real = idempotency._find
    calls = iter(range(1_000))

    def _find(scope, key):
        return None if next(calls) == 0 else real(scope, key)

    return _find


# --- what is stored and what releases the key ------------------------------------------------


def test_an_exception_releases_the_key_and_undoes_the_work(alice):
    client = client_for(alice)
    SCRIPT.append("crash")
    with pytest.raises(RuntimeError, match="the view crashed"):
        post(client)
    assert not IdempotencyKey.objects.exists()
    assert charges() == 0
    retry = post(client)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert charges() == 1


@pytest.mark.parametrize(("step", "status"), [("bad_gateway", 502), ("busy", 409)])
def test_5xx_409_answers_release_the_key_and_undo_the_work(alice, step, status):
    client = client_for(alice)
    SCRIPT.append(step)
    assert post(client).status_code == status
    assert not IdempotencyKey.objects.exists()
    assert charges() == 0
    assert post(client).status_code == 201
    assert charges() == 1


def test_a_refusal_is_stored_and_replayed_and_its_writes_undone(alice):
    client = client_for(alice)
    SCRIPT.append("refuse")
    first = post(client)
    assert first.status_code == 422
    assert first["Content-Type"] == "application/problem+json"
    assert first.json()["errors"][0]["field"] == "amount"
    assert charges() == 0  # the write before the refusal was rolled back
    again = post(client)  # the script is empty now: a real second run would succeed
    assert again.status_code == 422
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again["Content-Type"] == "application/problem+json"
    assert charges() == 0


def test_a_404_from_the_view_is_stored(alice):
    client = client_for(alice)
    SCRIPT.append("missing")
    assert post(client).status_code == 404
    assert post(client)["Idempotent-Replayed"] == "true"


def test_an_empty_answer_replays_empty(alice):
    client = client_for(alice)
    SCRIPT.append("no_content")
    first = post(client)
    replay = post(client)
    assert first.status_code == replay.status_code == 204
    assert first.content == replay.content == b""
    assert first.has_header("Content-Type") is replay.has_header("Content-Type") is False
    assert replay["Idempotent-Replayed"] == "true"
    assert charges() == 1


def test_serializer_errors_are_stored_like_any_4xx(alice):
    client = client_for(alice)
    bad = {"amount": "lots", "reference": "INV-1"}
    assert post(client, body=bad).status_code == 400
    replay = post(client, body=bad)
    assert replay.status_code == 400
    assert replay["Idempotent-Replayed"] == "true"


def test_non_atomic_endpoint_stores_answers_and_releases_on_errors(alice):
    client = client_for(alice)
    url = "/api/v1/idem/loose-charges"
    SCRIPT.extend(["crash"])
    with pytest.raises(RuntimeError):
        post(client, url=url)
    assert not IdempotencyKey.objects.exists()
    assert charges() == 1  # atomic=False: the view's own write stays
    first = post(client, url=url)
    assert first.status_code == 201
    replay = post(client, url=url)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert charges() == 2
    record = IdempotencyKey.objects.get()
    assert record.recoverable is False


@pytest.fixture
def atomic_requests(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


def test_inside_atomic_requests_answers_replay(alice, atomic_requests):
    client = client_for(alice)
    first = post(client)
    assert post(client)["Idempotent-Replayed"] == "true"
    assert first.status_code == 201
    assert charges() == 1


def test_inside_atomic_requests_a_raised_4xx_rolls_back_the_claim_too(alice, atomic_requests):
    client = client_for(alice)
    SCRIPT.append("refuse")
    assert post(client).status_code == 422
    assert not IdempotencyKey.objects.exists()
    assert charges() == 0
    assert post(client).status_code == 201  # the retry ran


def test_inside_atomic_requests_errors_release_the_key(alice, atomic_requests):
    client = client_for(alice)
    SCRIPT.extend(["crash", "bad_gateway"])
    with pytest.raises(RuntimeError):
        post(client)
    assert post(client).status_code == 502
    assert not IdempotencyKey.objects.exists()
    assert post(client).status_code == 201
    assert charges() == 1


def test_safe_methods_pass_through(alice):
    response = client_for(alice).get("/api/v1/idem/sets/settle")
    assert response.status_code == 200
    assert not IdempotencyKey.objects.exists()


# --- viewset actions and multipart -----------------------------------------------------------


def test_works_on_a_viewset_action(alice):
    client = client_for(alice)
    url = "/api/v1/idem/sets/settle"
    first = post(client, url=url)
    replay = post(client, url=url)
    assert first.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert charges() == 1


def test_idempotent_below_action_refuses_to_run(alice):
    with pytest.raises(ImproperlyConfigured, match="above @action"):
        post(client_for(alice), url="/api/v1/idem/misordered/settle")
    assert charges() == 0


def _multipart(client, content: bytes, key="m", name="statement.csv", **fields):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(
        CHARGES,
        {**BODY, **fields, "statement": upload},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_multipart_bodies_are_compared_by_fields_and_file_contents(alice):
    client = client_for(alice)
    first = _multipart(client, b"date,amount\n2026-01-02,125.50\n")
    assert first.status_code == 201
    # the view read the whole file after the digest did
    assert (
        first.json()["statement_sha256"]
        == hashlib.sha256(b"date,amount\n2026-01-02,125.50\n").hexdigest()
    )
    assert _multipart(client, b"date,amount\n2026-01-02,125.50\n")["Idempotent-Replayed"] == "true"
    assert _multipart(client, b"date,amount\n2026-01-02,125.51\n").status_code == 422
    assert _multipart(client, b"date,amount\n2026-01-02,125.50\n", name="b.csv").status_code == 422
    assert (
        _multipart(client, b"date,amount\n2026-01-02,125.50\n", reference="INV-9").status_code
        == 422
    )
    assert charges() == 1


# --- keeping and purging keys ----------------------------------------------------------------


def test_keys_are_kept_48_hours_by_default_then_purged(alice):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post(client_for(alice))
    record = IdempotencyKey.objects.get()
    assert record.expires_at - record.created_at == timedelta(hours=48)
    assert idempotency_keys_purge(now=start + timedelta(hours=47, minutes=59)) == 0
    with time_machine.travel(start + timedelta(hours=47, minutes=59), tick=False):
        assert post(client_for(alice))["Idempotent-Replayed"] == "true"
    assert idempotency_keys_purge(now=start + timedelta(hours=48)) == 1
    assert not IdempotencyKey.objects.exists()


def test_keys_are_never_kept_less_than_24_hours(alice, settings):
    settings.IDEMPOTENCY_KEY_TTL = timedelta(hours=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post(client_for(alice))
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert purge_idempotency_keys.delay().get() == 0
        assert post(client_for(alice))["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + timedelta(hours=24), tick=False):
        assert purge_idempotency_keys.delay().get() == 1


def test_a_longer_ttl_is_honoured(alice, settings):
    settings.IDEMPOTENCY_KEY_TTL = timedelta(days=7)
    post(client_for(alice))
    record = IdempotencyKey.objects.get()
    assert record.expires_at - record.created_at == timedelta(days=7)


def test_an_expired_key_not_yet_purged_starts_afresh(alice):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post(client_for(alice))
    with time_machine.travel(start + timedelta(hours=49), tick=False):
        again = post(client_for(alice), body={**BODY, "amount": "1.00"})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert charges() == 2
    assert IdempotencyKey.objects.get().request_digest == digest_of(body={**BODY, "amount": "1.00"})


def test_purge_command(alice):
    start = timezone.now()
    with time_machine.travel(start - timedelta(hours=49), tick=False):
        post(client_for(alice), key="old")
    post(client_for(alice), key="new")
    from io import StringIO

    out = StringIO()
    call_command("idempotency_purge", stdout=out)
    assert out.getvalue().strip() == "deleted: 1"
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_purge_is_scheduled_hourly():
    from django.conf import settings as django_settings

    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]
    assert entry == {"task": "civicdesk.core.tasks.purge_idempotency_keys", "schedule": 3600}


@pytest.mark.parametrize(("hours", "ok"), [("23", False), ("24", True), ("72", True)])
def test_ttl_setting_from_the_environment(hours, ok):
    code = "from civicdesk.config import settings as s; print(s.IDEMPOTENCY_KEY_TTL)"
    env = {"PATH": "/usr/bin:/bin", "IDEMPOTENCY_KEY_TTL_HOURS": hours}
    env["CIVICDESK_ENV"] = "development"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if ok:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(timedelta(hours=int(hours)))
    else:
        assert result.returncode != 0
        assert "IDEMPOTENCY_KEY_TTL_HOURS must be at least 24" in result.stderr


# --- the schema ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema():
    import civicdesk.core.tests.test_idempotency as this

    return SchemaGenerator(urlconf=this).get_schema(request=None, public=True)


def _operation(schema, path, method="post"):
    return schema["paths"][path][method]


def _header(operation, name):
    return next(
        (p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == name),
        None,
    )


@pytest.mark.parametrize(
    ("path", "required"),
    [
        ("/api/v1/idem/charges", True),
        ("/api/v1/idem/loose-charges", True),
        ("/api/v1/idem/optional-charges", False),
        ("/api/v1/idem/sets/settle", True),
    ],
)
def test_the_schema_documents_the_header_and_its_answers(schema, path, required):
    operation = _operation(schema, path)
    parameter = _header(operation, "Idempotency-Key")
    assert parameter is not None
    assert parameter.get("required", False) is required
    assert parameter["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]{1,255}$",
    }
    assert "422" in parameter["description"] and "409" in parameter["description"]
    responses = operation["responses"]
    assert "still being processed" in responses["409"]["description"]
    assert responses["409"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "different request" in responses["422"]["description"]
    assert "a rule refuses the request" in responses["422"]["description"]
    for code in ("409", "422"):
        assert responses[code]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    assert responses["201"]["headers"]["Idempotent-Replayed"]["schema"] == {
        "type": "string",
        "enum": ["true"],
    }
    # the endpoint's own annotation survives
    assert responses["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChargeOut"
    }
    assert "Problem" in schema["components"]["schemas"]


def test_the_header_is_not_documented_on_safe_methods(schema):
    assert _header(_operation(schema, "/api/v1/idem/sets/settle", "get"), "Idempotency-Key") is None


def test_the_header_pattern_agrees_with_the_check():
    import re

    pattern = re.compile(idempotency.KEY_PATTERN)
    for code in range(0x20, 0x80):
        assert bool(pattern.fullmatch(chr(code))) is (0x21 <= code <= 0x7E)


def _handlers(resolver=None):
    """Every view method behind the project's URLs."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _handlers(entry)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None)
            actions = getattr(entry.callback, "actions", None) or {}
            names = set(actions.values()) or {"post", "put", "patch", "delete"}
            for name in names:
                handler = getattr(cls, name, None)
                if handler is not None:
                    yield cls, name, handler


@pytest.mark.urls("civicdesk.config.urls")
def test_every_idempotent_endpoint_of_the_project_is_documented():
    """Guards the real URLconf: an @idempotent that lost its annotation (below @action) fails."""
    for cls, name, handler in _handlers():
        if getattr(handler, "idempotency", None) is None:
            continue
        schema_class = getattr(handler, "kwargs", {}).get("schema")
        assert schema_class is not None and issubclass(
            get_class(schema_class), idempotency.IdempotentSchemaMixin
        ), f"{cls.__name__}.{name}: put @idempotent above @action"


def test_the_guard_sees_a_misordered_action():
    from django.urls import get_resolver as resolver_for

    found = {
        (cls.__name__, name)
        for cls, name, handler in _handlers(resolver_for(__name__))
        if getattr(handler, "idempotency", None) is not None
        and not issubclass(handler.kwargs.get("schema", object), idempotency.IdempotentSchemaMixin)
    }
    assert found == {("MisorderedViewSet", "settle")}


def test_decorating_something_else_is_refused():
    with pytest.raises(TypeError):
        idempotent(ChargeView)


# --- the digest ------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
json_documents = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


def _reordered(value, rnd):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _reordered(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, rnd) for v in value]
    return value


def _digest(text: str) -> str:
    return request_digest(method="POST", path=CHARGES, query={}, data=json.loads(text))


@settings(max_examples=200, deadline=None)
@given(json_documents, st.randoms(use_true_random=False), st.sampled_from([None, 0, 2, "\t"]))
def test_digest_ignores_key_order_and_whitespace(document, rnd, indent):
    original = json.dumps(document)
    shuffled = json.dumps(
        _reordered(document, rnd),
        indent=indent,
        separators=(", ", " : ") if indent is None else None,
        ensure_ascii=rnd.random() < 0.5,
    )
    assert _digest(shuffled) == _digest(original)


@settings(max_examples=200, deadline=None)
@given(json_documents, json_documents)
def test_digest_differs_when_the_documents_differ(first, second):
    assume(first != second)
    assert _digest(json.dumps(first)) != _digest(json.dumps(second))


@settings(max_examples=200, deadline=None)
@given(json_documents, st.data())
def test_changing_any_one_value_changes_the_digest(document, data):
    paths = list(_leaf_paths(document))
    if not paths:
        return
    where = data.draw(st.sampled_from(paths))
    old = _get(document, where)
    new = data.draw(json_scalars.filter(lambda v: json.dumps(v) != json.dumps(old)))
    changed = copy.deepcopy(document)
    _set(changed, where, new)
    assert _digest(json.dumps(changed)) != _digest(json.dumps(document))


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, (*prefix, i))
    else:
        yield prefix


def _get(value, where):
    for step in where:
        value = value[step]
    return value


def _set(value, where, new):
    for step in where[:-1]:
        value = value[step]
    value[where[-1]] = new


def test_digest_covers_method_path_and_query():
    base = request_digest(method="POST", path=CHARGES, query={}, data=BODY)
    assert request_digest(method="post", path=CHARGES, query={}, data=BODY) == base
    assert request_digest(method="PUT", path=CHARGES, query={}, data=BODY) != base
    assert request_digest(method="POST", path=CHARGES + "/", query={}, data=BODY) != base
    assert request_digest(method="POST", path=CHARGES, query={"a": "1"}, data=BODY) != base
    assert request_digest(method="POST", path=CHARGES, query={}, data=[BODY]) != base


def test_form_and_json_bodies_with_the_same_fields_differ():
    from django.http import QueryDict

    form = QueryDict("amount=125.50&reference=INV-1")
    reordered = QueryDict("reference=INV-1&amount=125.50")
    as_form = request_digest(method="POST", path=CHARGES, query={}, data=form)
    assert request_digest(method="POST", path=CHARGES, query={}, data=reordered) == as_form
    assert as_form != digest_of()
    repeated = QueryDict("a=1&a=2")
    swapped = QueryDict("a=2&a=1")
    assert request_digest(method="POST", path=CHARGES, query={}, data=repeated) != request_digest(
        method="POST", path=CHARGES, query={}, data=swapped
    )


# --- real concurrency (PostgreSQL) -----------------------------------------------------------


def _in_thread(user, results, **kwargs):
    def run():
        try:
            results.append(post(client_for(user), **kwargs))
        except BaseException as exc:  # surfaced by the test
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "stale",
    [
        False,
        pytest.param(
            True,
            marks=[
                pytest.mark.pg,
                pytest.mark.skipif(
                    not ON_POSTGRESQL,
                    reason="on SQLite a takeover waits for the database's write lock, which the "
                    "blocked request holds until the test releases it",
                ),
            ],
        ),
    ],
    ids=["fresh", "past-timeout"],
)
def test_a_concurrent_duplicate_gets_409_while_the_first_runs(alice, monkeypatch, stale):
    if stale:  # a retry tries to take the claim over, but its owner is alive and holds it
        monkeypatch.setattr(idempotency, "IN_FLIGHT_TIMEOUT", timedelta(0))
    SCRIPT.append("block")
    results: list = []
    thread = _in_thread(alice, results)
    try:
        assert GATE["started"].wait(20), "the first request never started"
        duplicate = post(client_for(alice))
        assert duplicate.status_code == 409
        assert duplicate["Retry-After"] == "1"
        if ON_POSTGRESQL:  # the in-memory SQLite test database locks the whole table
            assert charges() == 0  # the first request's work is not committed yet
    finally:
        GATE["release"].set()
        thread.join(30)
    (first,) = results
    assert not isinstance(first, BaseException), first
    assert first.status_code == 201
    replay = post(client_for(alice))
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert charges() == 1
