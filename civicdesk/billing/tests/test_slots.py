"""The "recent bills" slot of the customer 360 page: the last six bills of each account in
view, newest first, linking to the invoice page; hidden without the invoice permission; one
query however many accounts and bills."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import Permission

from civicdesk.billing.models import Invoice
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.core import slots
from civicdesk.core.slots import Subject
from civicdesk.ledger.templatetags.ledger import minor_money
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 9, 1, tzinfo=UTC)


def _slot():
    return next(s for s in slots.registered() if s.key == "billing.bills")


def _bills(account, months: int) -> list[Invoice]:
    """``months`` bills for the account, one a month back from 2025-08."""
    out = []
    for n in range(months):
        year, month = divmod(2025 * 12 + 7 - n, 12)
        period = date(year, month + 1, 1)
        out.append(
            Invoice.objects.create(
                number=f"INV-{period:%Y%m}-{account.number}",
                account=account,
                period=period,
                currency="ZAR",
                issued_on=period,
                due_on=period.replace(day=20),
                opening_minor=0,
                charges_minor=10_000 + n,
                payments_minor=0,
                adjustments_minor=-100,
                closing_minor=9_900 + n,
                digest="x",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return out


def _viewer(make_user, role="call_centre_agent", *, invoices=True):
    user = make_user(role=role)
    if invoices:
        user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    return user


def test_the_customer_360_page_shows_the_recent_bills(client, make_user, totp_code, operator):
    [account] = support.town(1)
    billing_run_execute(billing_run_start(period=support.PERIOD))
    invoice = Invoice.objects.get(account=account)
    client.force_login(_viewer(make_user))
    assert client.post("/mfa/", {"code": totp_code()}).status_code == 302
    html = client.get(f"/staff/customers/account/{account.number}/").content.decode()
    slot = html[html.index('id="slot-billing-bills"') :]
    assert "Recent bills" in slot
    assert f'href="/staff/billing/invoices/{invoice.number}/"' in slot
    assert "2025-08" in slot
    assert minor_money(invoice.closing_minor, "ZAR") in slot
    assert minor_money(invoice.charges_minor + invoice.adjustments_minor, "ZAR") in slot


def test_six_per_account_newest_first_in_one_query(
    rf, make_user, operator, django_assert_max_num_queries
):
    first, second, quiet = factories.account(), factories.account(), factories.account()
    many = _bills(first, 8)
    few = _bills(second, 2)
    request = rf.get("/")
    request.user = _viewer(make_user)
    slot = _slot()
    with django_assert_max_num_queries(1):
        data = slot.context(request, Subject(accounts=[first, second, quiet]))
    shown = [invoice.number for invoice in data["invoices"]]
    assert [i for i in shown if first.number in i] == [i.number for i in many[:6]]
    assert [i for i in shown if second.number in i] == [i.number for i in few]
    assert len(shown) == 8 and data["several"] is True
    periods = [invoice.period for invoice in data["invoices"]]
    assert periods == sorted(periods, reverse=True)
    by_number = {invoice.number: invoice for invoice in data["invoices"]}
    newest = by_number[many[0].number]
    assert newest.account_number == first.number and newest.period_minor == 9_900

    with django_assert_max_num_queries(1):
        alone = slot.context(request, Subject(accounts=[quiet]))
    assert alone == {"invoices": [], "several": False}
    with django_assert_max_num_queries(0):
        assert slot.context(request, Subject()) is None


def test_the_slot_needs_the_invoice_permission(rf, make_user, operator):
    account = factories.account()
    _bills(account, 1)
    request = rf.get("/")
    request.user = _viewer(make_user, "case_specialist", invoices=False)
    subject = Subject(accounts=[account])
    assert not any(filled.key == "billing.bills" for filled in slots.compose(request, subject))
    request.user = _viewer(make_user)
    filled = [f for f in slots.compose(request, subject) if f.key == "billing.bills"]
    assert len(filled) == 1 and len(filled[0].data["invoices"]) == 1
