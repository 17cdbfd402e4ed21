"""Demo bills: the operator's tariffs, and a billing run for each of the last months, so
residents find a year of bills and a statement, and staff a run history and its report. The
demo residents pay as the ledger demo's story goes: the first pays every bill, the second
leaves the last two unpaid, the third overpays the last."""

from __future__ import annotations

import datetime as dt
import random

from civicdesk.billing import compose
from civicdesk.billing.models import BillingSettings, Invoice
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.demo.billing_data import BILLED_MONTHS, TARIFFS
from civicdesk.ledger import services as ledger
from civicdesk.ledger.models import LedgerAccount
from civicdesk.registry.models import PersonalAccount
from civicdesk.tariffs.services import tariffs_load

HABITS = ("paid_up", "owing", "credit")


def build_billing(
    *, operator, today: dt.date, resident_accounts: list[str], rng: random.Random
) -> dict:
    loaded = tariffs_load(TARIFFS[operator.jurisdiction])
    # The demo does not e-mail its year of bills (a PDF each); switch it on in the admin.
    BillingSettings.objects.update_or_create(operator=operator, defaults={"email_bills": False})
    period = compose.previous_period(compose.period_start(today))
    periods = []
    for _ in range(BILLED_MONTHS):
        periods.append(period)
        period = compose.previous_period(period)
    periods.reverse()
    residents = dict(
        zip(
            PersonalAccount.objects.filter(number__in=resident_accounts).order_by("number"),
            HABITS,
            strict=False,
        )
    )
    gateway = ledger.system_account(
        LedgerAccount.Kind.GATEWAY_CLEARING, operator.currency, key="sandbox"
    )
    runs = []
    for index, start in enumerate(periods):
        runs.append(billing_run_execute(billing_run_start(period=start, chunk_size=500)))
        last_two = index >= len(periods) - 2
        for account, habit in residents.items():
            invoice = Invoice.objects.filter(account=account, period=start).first()
            if invoice is None or (habit == "owing" and last_two):
                continue
            amount = invoice.charges_minor
            if habit == "credit" and index == len(periods) - 1:
                amount += 50_000
            paid_on = min(invoice.issued_on + dt.timedelta(days=rng.randint(3, 20)), today)
            ledger.payment_post(
                account=account,
                amount_minor=amount,
                currency=operator.currency,
                value_date=paid_on,
                source=gateway,
                reference=f"PAY-{invoice.number}",
                description="Online payment",
                invoice=invoice.number,
            )
    return {
        "tariffs": len(loaded),
        "runs": len(runs),
        "invoices": sum(run.invoices_new for run in runs),
        "exceptions": sum(run.exceptions for run in runs),
    }
