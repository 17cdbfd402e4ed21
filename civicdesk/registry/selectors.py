from __future__ import annotations

from django.conf import settings

from civicdesk.registry.models import Operator


def operator_get() -> Operator | None:
    """The installation's operator (None before the first set-up)."""
    return Operator.objects.first()


def enabled_languages() -> list[tuple[str, str]]:
    operator = operator_get()
    enabled = set(operator.enabled_languages) if operator and operator.enabled_languages else None
    return [(code, name) for code, name in settings.LANGUAGES if enabled is None or code in enabled]
