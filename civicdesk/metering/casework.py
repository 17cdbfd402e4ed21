"""Metering's bridge to the CRM: a possible leak becomes a case in the operator's leak queue.

Cases are written only through ``civicdesk.cases.services``; this module finds the leak
category (any active category of kind LEAK, else it creates a plain one) and files the case
for the household: the first resident linked to the account, else the holder's contact on
file. With nobody to answer, no case is opened (the alert stays on the meter).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import override

from civicdesk.cases import services as case_services
from civicdesk.cases.models import Case, Category, Channel

log = logging.getLogger(__name__)

LEAK_CATEGORY_CODE = "possible-leak"
LEAK_CATEGORY_NAMES = {
    "en": "Possible leak",
    "af": "Moontlike lek",
    "uk": "Можливий витік",
    "ru": "Возможная утечка",
}
CHANNELS = {"sms": Channel.SMS, "api": Channel.API}


def leak_category() -> Category:
    category = (
        Category.objects.filter(kind=Category.Kind.LEAK, active=True)
        .order_by("order", "pk")
        .first()
    )
    if category is not None:
        return category
    category, _created = Category.objects.get_or_create(
        code=LEAK_CATEGORY_CODE,
        defaults={"kind": Category.Kind.LEAK, "names": LEAK_CATEGORY_NAMES},
    )
    return category


def _household(account):
    """(requester user or None, contact e-mail, contact phone) for the account."""
    link = account.links.filter(revoked_at=None).select_related("user").order_by("created_at")
    first = link.first()
    if first is not None:
        return first.user, "", ""
    holder = account.holders.exclude(email="", phone="").first()
    if holder is None:
        return None, "", ""
    return None, holder.email or "", str(holder.phone or "")


def leak_case_open(*, alert, source: str = "") -> Case | None:
    """Open a "possible leak" case about ``alert``'s meter and account; None when the meter has
    no account or the household cannot be reached. A failure to file the case never undoes
    the reading that raised the alert: it is logged instead."""
    meter = alert.meter
    account = meter.account
    if account is None:
        return None
    requester, email, phone = _household(account)
    if requester is None and not (email or phone):
        return None
    language = getattr(requester, "preferred_language", "") or None
    with override(language):
        subject = _("Possible leak: meter %(serial)s") % {"serial": meter.serial}
        if alert.kind == "night_flow":
            description = _(
                "Water ran through meter %(serial)s all night on %(night)s "
                "(%(quantity)s %(unit)s between midnight and 05:00)."
            ) % {
                "serial": meter.serial,
                "night": alert.period.isoformat(),
                "quantity": _number(alert.consumption),
                "unit": meter.unit,
            }
        else:
            description = _(
                "Meter %(serial)s recorded %(use)s %(unit)s a month, far above the household's "
                "usual %(baseline)s %(unit)s."
            ) % {
                "serial": meter.serial,
                "use": _number(alert.consumption),
                "baseline": _number(alert.baseline),
                "unit": meter.unit,
            }
    intake = case_services.Intake(
        category=leak_category(),
        channel=CHANNELS.get(source, Channel.PORTAL),
        subject=subject,
        description=description,
        requester=requester,
        contact_email=email,
        contact_phone=phone,
        concerns=[account, meter],
    )
    try:
        with transaction.atomic():
            return case_services.case_create(intake)
    except Exception:
        log.exception("possible-leak case for meter %s not opened", meter.pk)
        return None


def _number(value) -> str:
    return format(value.normalize() if hasattr(value, "normalize") else value, "f")
