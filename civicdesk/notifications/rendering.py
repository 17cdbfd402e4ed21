"""Rendering message templates in a given language.

Plain-text templates (e-mail bodies, subjects, SMS) are rendered without HTML autoescaping:
"O'Brien & Sons" must reach the reader as typed, not as "O&#x27;Brien &amp; Sons". HTML
alternatives keep Django's autoescaping.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation


def supported_language(language: str | None) -> str:
    """`language` if the installation offers it, else the default LANGUAGE_CODE."""
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else settings.LANGUAGE_CODE


def _operator_zone() -> str:
    """Dates in messages are in the operator's timezone (the database keeps UTC)."""
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    return operator.timezone if operator else settings.TIME_ZONE


def render_text(template_name: str, context: dict[str, Any], language: str) -> str:
    """Render a plain-text template in `language`, without HTML escaping."""
    template = get_template(template_name)
    with translation.override(language), timezone.override(_operator_zone()):
        # The Django backend's wrapper always autoescapes; its inner template takes a Context.
        return template.template.render(Context(context, autoescape=False))


def render_html(template_name: str, context: dict[str, Any], language: str) -> str:
    """Render an HTML template in `language`, autoescaped."""
    with translation.override(language), timezone.override(_operator_zone()):
        return render_to_string(template_name, context)
