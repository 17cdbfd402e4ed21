"""The run report and the exception queue's wording (what staff read about a run)."""

from __future__ import annotations

from collections import Counter

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.billing.models import BillingRun, RunException
from civicdesk.ledger.postings import amount_text
from civicdesk.registry.models import Provider, ServiceType

EXCEPTION_MESSAGES = {
    "no_tariff": gettext_lazy("No tariff %(tariff)s is in force for the period."),
    "currency": gettext_lazy("Tariff %(tariff)s is not in the operator's currency."),
    "pricing": gettext_lazy("Tariff %(tariff)s could not price this service: %(reason)s"),
}


def exception_text(code: str, params: dict) -> str:
    message = EXCEPTION_MESSAGES.get(code)
    if message is None:
        return code
    try:
        return str(message) % {"tariff": "", "reason": "", **params}
    except (KeyError, TypeError, ValueError):
        return str(message)


def run_totals(run: BillingRun) -> list[tuple[str, str, int]]:
    """(service label, provider name, minor units) per service and provider, largest first."""
    providers = dict(Provider.objects.values_list("pk", "name"))
    labels = dict(ServiceType.choices)
    rows = []
    for key, amount in (run.totals or {}).items():
        service, _sep, provider_id = key.partition(":")
        rows.append(
            (
                str(labels.get(service, service)),
                providers.get(int(provider_id), provider_id) if provider_id else "",
                amount,
            )
        )
    return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))


def run_exceptions_summary(run: BillingRun) -> list[tuple[str, int]]:
    counts = Counter(
        RunException.objects.filter(run=run, resolved_at__isnull=True).values_list(
            "code", flat=True
        )
    )
    return [(code, count) for code, count in counts.most_common()]


def run_report_lines(run: BillingRun) -> list[str]:
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    currency = operator.currency if operator else "ZAR"
    seconds = (
        (run.finished_at - run.started_at).total_seconds()
        if run.finished_at and run.started_at
        else None
    )
    lines = [
        _("Billing run %(period)s: %(status)s")
        % {"period": f"{run.period:%Y-%m}", "status": run.get_status_display()},
        _("Accounts billed: %(done)d of %(total)d in %(chunks)d chunks")
        % {"done": run.accounts_done, "total": run.accounts_total, "chunks": run.chunks_total},
        _("New invoices: %(new)d; adjusted: %(adjusted)d; unchanged: %(unchanged)d")
        % {
            "new": run.invoices_new,
            "adjusted": run.invoices_adjusted,
            "unchanged": run.invoices_unchanged,
        },
        _("Charged: %(amount)s") % {"amount": amount_text(run.charged_minor, currency)},
    ]
    if seconds is not None:
        lines.append(_("Time: %(seconds).1f s") % {"seconds": seconds})
    for service, provider, amount in run_totals(run):
        lines.append(f"  {service} · {provider}: {amount_text(amount, currency)}")
    if run.exceptions:
        lines.append(_("Accounts with exceptions: %(count)d") % {"count": run.exceptions})
        for code, count in run_exceptions_summary(run):
            lines.append(f"  {code}: {count}")
    return lines


EXCEPTION_TITLES = {
    "no_tariff": gettext_lazy("No tariff in force"),
    "currency": gettext_lazy("Tariff in another currency"),
    "pricing": gettext_lazy("The tariff could not price it"),
}


def exception_title(code: str) -> str:
    """A short name for a kind of exception (the queue's filter, the report's summary)."""
    return str(EXCEPTION_TITLES.get(code, code))
