"""Writes of tariffs: loading definitions (a file, the API), each change a new version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from civicdesk.core.audit import audit_record
from civicdesk.registry.models import ServiceType
from civicdesk.tariffs import definition
from civicdesk.tariffs.models import Tariff


@dataclass(frozen=True, slots=True)
class Loaded:
    code: str
    version: int
    status: str  # "created" or "unchanged"
    tariff: Tariff


class TariffsRejected(Exception):
    """A text with errors: nothing was loaded. ``errors``: [{"path", "code", "message"}]."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors[:5]))
        self.errors = errors


def _digest(canonical: dict) -> str:
    body = {key: value for key, value in canonical.items() if key != "version"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _messages(exc: definition.TariffError) -> list[dict]:
    from civicdesk.tariffs.errors import error_messages

    return error_messages(exc)


def tariffs_check(tariff: definition.Tariff) -> list[dict]:
    """What a load checks beyond the definition itself: a service the registry knows.
    ([{"path", "code", "message"}], empty when fine; for inline definitions too.)"""
    services = set(ServiceType.values)
    if tariff.service in services:
        return []
    return [
        {
            "path": "service",
            "code": "unknown_service",
            "message": _("Unknown service %(service)s; one of: %(allowed)s.")
            % {"service": tariff.service, "allowed": ", ".join(sorted(services))},
        }
    ]


@transaction.atomic
def tariffs_load(text: str, *, actor=None) -> list[Loaded]:
    """Load every tariff in a YAML or JSON text, all or nothing. A definition equal to the
    code's latest stored one is left as it is ("unchanged"); anything else is stored as the
    code's next version ("created"), whatever version the text gives. Raises TariffsRejected
    with every error found (translated, each naming its field)."""
    try:
        tariffs = definition.load_tariffs_text(text)
    except definition.TariffError as exc:
        raise TariffsRejected(_messages(exc)) from None
    errors = []
    for index, tariff in enumerate(tariffs):
        prefix = f"[{index}]." if len(tariffs) > 1 else ""
        errors += [{**e, "path": prefix + e["path"]} for e in tariffs_check(tariff)]
    if errors:
        raise TariffsRejected(errors)
    out = []
    for tariff in tariffs:
        canonical = definition.tariff_to_dict(tariff)
        digest = _digest(canonical)
        latest = (
            Tariff.objects.select_for_update().filter(code=tariff.code).order_by("-version").first()
        )
        same = (
            Tariff.objects.filter(code=tariff.code, digest=digest, valid_from=tariff.valid_from)
            .order_by("-version")
            .first()
        )
        if same is not None and latest is not None and same.version == latest.version:
            out.append(Loaded(tariff.code, same.version, "unchanged", same))
            continue
        version = (
            Tariff.objects.filter(code=tariff.code).aggregate(top=Max("version"))["top"] or 0
        ) + 1
        canonical["version"] = version
        row = Tariff.objects.create(
            code=tariff.code,
            version=version,
            name=tariff.name or "",
            service=tariff.service,
            unit=tariff.unit,
            currency=tariff.currency,
            valid_from=tariff.valid_from,
            valid_to=tariff.valid_to,
            definition=canonical,
            source=text if len(tariffs) == 1 else "",
            digest=digest,
            loaded_by=actor,
        )
        audit_record("tariff.loaded", actor=actor, code=tariff.code, version=version, digest=digest)
        out.append(Loaded(tariff.code, version, "created", row))
    return out
