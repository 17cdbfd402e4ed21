"""Open311 reads: clients by key, public services, and the public view of requests.

Only cases in public categories are Open311 requests; what is shown of them never includes
the requester (no name, contact, account or premises)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from civicdesk.cases.models import Case, CaseEvent, CaseLink, Category, Open311Client
from civicdesk.cases.open311 import georeport
from civicdesk.cases.open311.services import MEDIA_URL
from civicdesk.identity.models import digest
from civicdesk.registry.models import Building

MAX_REQUESTS = 1000
# Timeline entries that say something public about the progress of a case.
STATUS_NOTE_KINDS = (CaseEvent.Kind.NOTE, CaseEvent.Kind.STATUS, CaseEvent.Kind.DUPLICATE)


def client_for_key(key: str) -> Open311Client | None:
    if not key:
        return None
    return Open311Client.objects.filter(key_digest=digest(key), active=True).first()


def services_public() -> QuerySet[Category]:
    return Category.objects.filter(public=True, active=True).select_related("parent")


def service_get(code: str) -> Category | None:
    return services_public().filter(code=code).first()


def building_for_address_id(address_id: str) -> Building | None:
    return Building.objects.filter(code=address_id).select_related("territory").first()


def _requests() -> QuerySet[Case]:
    return Case.objects.filter(category__public=True).select_related(
        "category", "category__parent", "team"
    )


def request_get(service_request_id: str) -> Case | None:
    return _requests().filter(reference=service_request_id).first()


def request_by_token(token: str) -> Case | None:
    try:
        case_id = uuid.UUID(token)
    except ValueError:
        return None
    return _requests().filter(pk=case_id).first()


def requests_search(
    *,
    service_request_ids: Iterable[str] = (),
    service_codes: Iterable[str] = (),
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    statuses: Iterable[str] = (),
    limit: int = MAX_REQUESTS,
) -> list[Case]:
    """Newest first. Given ids override every other filter (as the spec says)."""
    cases = _requests()
    service_request_ids = list(service_request_ids)
    if service_request_ids:
        cases = cases.filter(reference__in=service_request_ids)
    else:
        if service_codes:
            cases = cases.filter(category__code__in=list(service_codes))
        if start is not None:
            cases = cases.filter(created_at__gte=start)
        if end is not None:
            cases = cases.filter(created_at__lte=end)
        ours = set()
        for status in statuses:
            ours |= georeport.statuses_for(status)
        if ours:
            cases = cases.filter(status__in=sorted(ours))
    return list(cases.order_by("-created_at", "reference")[:limit])


@dataclass(frozen=True)
class RequestExtras:
    status_notes: str | None = None
    media_url: str | None = None
    address_id: str | None = None


def request_extras(cases: list[Case]) -> dict:
    """Per case id: the latest public progress note, the media URL and the building code given
    as address_id; a few queries for the whole list."""
    ids = [case.pk for case in cases]
    if not ids:
        return {}
    notes: dict = {}
    for case_id, text in (
        CaseEvent.objects.filter(case_id__in=ids, public=True, kind__in=STATUS_NOTE_KINDS)
        .exclude(text="")
        .order_by("created_at", "id")
        .values_list("case_id", "text")
    ):
        notes[case_id] = text  # the last one wins
    media: dict = {}
    for case_id, data in (
        CaseEvent.objects.filter(case_id__in=ids, kind=CaseEvent.Kind.LINKED, data__type=MEDIA_URL)
        .order_by("created_at", "id")
        .values_list("case_id", "data")
    ):
        media[case_id] = data.get("label")
    building_type = ContentType.objects.get_for_model(Building)
    building_of = dict(
        CaseLink.objects.filter(case_id__in=ids, content_type=building_type).values_list(
            "case_id", "object_id"
        )
    )
    codes = {
        str(pk): code
        for pk, code in Building.objects.filter(pk__in=set(building_of.values())).values_list(
            "pk", "code"
        )
    }
    return {
        case_id: RequestExtras(
            status_notes=notes.get(case_id),
            media_url=media.get(case_id),
            address_id=codes.get(building_of.get(case_id, "")),
        )
        for case_id in ids
    }
