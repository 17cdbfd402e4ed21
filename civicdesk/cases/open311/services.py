"""Open311 writes: issuing client keys and creating cases from GeoReport requests."""

from __future__ import annotations

import dataclasses
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicdesk.cases.models import Case, CaseEvent, Channel, Open311Client
from civicdesk.cases.services import Intake, case_create
from civicdesk.identity.models import digest

KEY_BYTES = 32
MEDIA_URL = "media_url"  # CaseEvent(kind=LINKED).data["type"] of a request's media URL


@transaction.atomic
def open311_client_create(name: str, key: str | None = None) -> tuple[Open311Client, str]:
    """A registered client and its api_key. Only the key's digest is stored: the key is shown
    once. Without `key` a random one is made; a given key (the demo's) must not be in use."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the client a name.")})
    if len(name) > Open311Client._meta.get_field("name").max_length:
        raise ValidationError({"name": _("The name is too long.")})
    if key is None:
        key = secrets.token_urlsafe(KEY_BYTES)
    elif not key.strip() or key != key.strip():
        raise ValidationError({"key": _("A key cannot be blank or start or end with a space.")})
    if Open311Client.objects.filter(key_digest=digest(key)).exists():
        raise ValidationError({"key": _("This key is already in use.")})
    client = Open311Client.objects.create(name=name, key_digest=digest(key))
    return client, key


@transaction.atomic
def open311_request_create(*, client: Open311Client, intake: Intake, media_url: str = "") -> Case:
    """A case from a GeoReport `POST requests`: created at once (routed, SLA set, requester told)
    through case_create; a media URL is kept in the timeline, not shown to residents."""
    case = case_create(dataclasses.replace(intake, channel=Channel.OPEN311))
    if media_url:
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.LINKED,
            public=False,
            data={"type": MEDIA_URL, "label": media_url, "client": client.name},
            created_at=timezone.now(),
        )
    return case
