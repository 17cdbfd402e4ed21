"""Invoice disputes: the rules for an adjustment (exact amounts, a credit no larger than the
disputed lines, the tax share, the claimed amount), the resident's form opened from the bill
(their own invoice only; anyone else's is 404), and staff resolving it: a credit or an extra
charge becomes an adjustment line, a balanced ledger transaction and new invoice totals, with
the case resolved and an audit row, all at once; a bad amount writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Sum
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.billing import casework
from civicdesk.billing.casework import (
    AdjustmentRefused,
    adjustment_amount,
    adjustment_tax,
    claimed_minor,
)
from civicdesk.billing.models import Invoice, InvoiceDispute, InvoiceLine
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tests import support
from civicdesk.cases import services as case_services
from civicdesk.cases import workflow
from civicdesk.cases.models import Case, CaseLink, Category
from civicdesk.core.models import AuditEvent
from civicdesk.ledger.models import LedgerAccount, Posting, Transaction
from civicdesk.registry.models import AccountLink

# --- the rules (no database) ----------------------------------------------------------------


def test_adjustment_amount_worked_examples():
    assert adjustment_amount(Decimal("100.00"), credit=True, exponent=2, disputed_minor=25760) == (
        -10000
    )
    assert adjustment_amount(Decimal("257.6"), credit=True, exponent=2, disputed_minor=25760) == (
        -25760
    )
    assert adjustment_amount(Decimal("20"), credit=False, exponent=2, disputed_minor=0) == 2000
    for amount, code in (
        (Decimal("0"), "not_positive"),
        (Decimal("-5"), "not_positive"),
        (Decimal("1.005"), "too_many_decimals"),
        (Decimal("257.61"), "exceeds_disputed"),
        (Decimal("NaN"), "not_a_number"),
        (Decimal("Infinity"), "not_a_number"),
    ):
        with pytest.raises(AdjustmentRefused) as refused:
            adjustment_amount(amount, credit=True, exponent=2, disputed_minor=25760)
        assert refused.value.code == code, amount


@given(
    minor=st.integers(min_value=1, max_value=10**12),
    disputed=st.integers(min_value=-(10**12), max_value=10**12),
    exponent=st.sampled_from([0, 2, 3]),
    credit=st.booleans(),
)
def test_adjustment_amount_is_exact_signed_and_bounded(minor, disputed, exponent, credit):
    amount = Decimal(minor).scaleb(-exponent)
    try:
        result = adjustment_amount(
            amount, credit=credit, exponent=exponent, disputed_minor=disputed
        )
    except AdjustmentRefused as exc:
        assert credit and exc.code == "exceeds_disputed"
        assert minor > max(disputed, 0)
        return
    assert abs(result) == minor  # never rounded
    assert Decimal(abs(result)).scaleb(-exponent) == amount
    if credit:
        assert result < 0 and -result <= disputed
    else:
        assert result > 0


@given(
    minor=st.integers(min_value=1, max_value=10**9),
    extra=st.integers(min_value=1, max_value=9),
    exponent=st.sampled_from([0, 2]),
)
def test_more_decimals_than_the_currency_are_refused_never_rounded(minor, extra, exponent):
    amount = Decimal(minor * 10 + extra).scaleb(-(exponent + 1))
    with pytest.raises(AdjustmentRefused) as refused:
        adjustment_amount(amount, credit=False, exponent=exponent, disputed_minor=0)
    assert refused.value.code == "too_many_decimals"


def test_adjustment_tax_worked_examples():
    # R1 150.00 with R150.00 VAT (15 % on top): a credit of R115.00 holds R15.00 of VAT.
    assert adjustment_tax(-11500, 115000, 15000) == -1500
    assert adjustment_tax(11500, 115000, 15000) == 1500
    assert adjustment_tax(-1, 3, 1) == 0  # -0.333… rounds to 0
    assert adjustment_tax(-3, 6, 1) == -1  # -0.5 rounds half away from zero
    assert adjustment_tax(-500, 0, 0) == 0 and adjustment_tax(-500, 5000, 0) == 0


@given(
    adjustment=st.integers(min_value=-(10**10), max_value=10**10),
    line=st.integers(min_value=1, max_value=10**10),
    share=st.fractions(min_value=0, max_value=1),
)
def test_adjustment_tax_is_the_lines_share_rounded_half_up(adjustment, line, share):
    line_tax = int(line * share)
    tax = adjustment_tax(adjustment, line, line_tax)
    exact = Decimal(adjustment) * Decimal(line_tax) / Decimal(line)
    assert abs(Decimal(tax) - exact) <= Decimal("0.5")
    assert abs(tax) <= abs(adjustment)
    assert tax == 0 or (tax > 0) == (adjustment > 0)
    assert adjustment_tax(-adjustment, line, line_tax) == -tax


def test_claimed_amounts_are_rounded_half_up_to_the_minor_unit():
    assert claimed_minor("150.555", 2) == 15056
    assert claimed_minor("150.554", 2) == 15055
    assert claimed_minor("-3", 2) == -300
    assert claimed_minor("12.5", 0) == 13
    for nothing in (None, "", "abc", "NaN", "Infinity"):
        assert claimed_minor(nothing, 2) is None


# --- a billed town with two residents -------------------------------------------------------


QUESTIONS = [
    {"key": "period", "type": "text", "label": {"en": "Which bill (month)?"}, "required": True},
    {"key": "amount", "type": "number", "label": {"en": "Amount in question"}},
]


@pytest.fixture
def town(operator, make_user):
    accounts = support.town(2)
    billing_run_execute(billing_run_start(period=support.PERIOD))
    resident, neighbour = make_user(), make_user()
    for user, account in ((resident, accounts[0]), (neighbour, accounts[1])):
        AccountLink.objects.create(user=user, account=account, role="owner", method="staff")
    category = Category.objects.create(
        code="invoice-dispute",
        kind=Category.Kind.INVOICE_DISPUTE,
        names={"en": "Dispute a charge"},
        questions=QUESTIONS,
    )
    invoice = Invoice.objects.get(account=accounts[0])
    line = InvoiceLine.objects.get(invoice=invoice, service="electricity")
    return {
        "resident": resident,
        "neighbour": neighbour,
        "category": category,
        "invoice": invoice,
        "line": line,
    }


def _form_url(invoice, *lines) -> str:
    query = "&".join(f"line={p}" for p in lines)
    return (
        f"/requests/new/invoice-dispute/?invoice={invoice.public_id}{'&' if query else ''}{query}"
    )


def _lodge(client, invoice, line, **extra):
    return client.post(
        _form_url(invoice, line.position),
        {
            "subject": "The electricity is too high",
            "description": "We were away in August.",
            "q_period": "2025-08",
            "q_amount": "100.00",
            **extra,
        },
    )


def _text(response) -> str:
    return response.content.decode()


# --- the resident's form --------------------------------------------------------------------


def test_the_bills_link_opens_the_dispute_form_with_the_line(client, town):
    invoice, line = town["invoice"], town["line"]
    client.force_login(town["resident"])
    link = client.get(
        "/requests/new/",
        {"category": "invoice-dispute", "invoice": str(invoice.public_id), "line": line.position},
    )
    assert link.status_code == 302
    assert link["Location"] == _form_url(invoice, line.position)
    page = client.get(link["Location"])
    assert page.status_code == 200
    html = _text(page)
    shown = html[html.index('data-testid="disputed-lines"') :]
    assert invoice.number in shown and "Electricity" in shown and "City Power" in shown
    assert line.explanation in shown
    assert f'value="Bill {invoice.number}: Electricity"' in html  # the subject to start from
    assert 'value="2025-08"' in html  # the bill's month answers "which bill"
    amount = format(Decimal(line.amount_minor).scaleb(-2), "f")
    assert f'value="{amount}"' in html


def test_a_resident_opens_a_dispute_on_their_line(client, town):
    invoice, line = town["invoice"], town["line"]
    client.force_login(town["resident"])
    response = _lodge(client, invoice, line)
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{case.reference}/"
    assert case.category == town["category"] and case.requester == town["resident"]
    dispute = InvoiceDispute.objects.get()
    assert (dispute.case, dispute.invoice, dispute.lines) == (case, invoice, [line.position])
    assert dispute.amount_claimed_minor == 10000 and dispute.resolved_at is None
    invoice_type = ContentType.objects.get_for_model(Invoice)
    link = CaseLink.objects.get(case=case, content_type=invoice_type)
    assert link.object_id == str(invoice.pk) and link.label == invoice.number
    assert CaseLink.objects.filter(case=case, object_id=str(invoice.account_id)).exists()


def test_another_residents_invoice_is_not_found(client, town):
    invoice, line = town["invoice"], town["line"]
    client.force_login(town["neighbour"])
    assert client.get(_form_url(invoice, line.position)).status_code == 404
    assert _lodge(client, invoice, line).status_code == 404
    assert not Case.objects.exists() and not InvoiceDispute.objects.exists()


@pytest.mark.parametrize("query", ["invoice=not-a-uuid&line=1", "line=99", "line=abc", "line=0"])
def test_a_bad_link_is_not_found(client, town, query):
    client.force_login(town["resident"])
    if query.startswith("line"):
        query = f"invoice={town['invoice'].public_id}&{query}"
    response = client.get(f"/requests/new/invoice-dispute/?{query}")
    assert response.status_code == 404


def test_without_an_invoice_the_form_is_the_plain_one(client, town):
    client.force_login(town["resident"])
    page = client.get("/requests/new/invoice-dispute/")
    assert page.status_code == 200 and 'data-testid="disputed-lines"' not in _text(page)


def test_the_category_is_the_operators_or_a_plain_one(db):
    created = casework.dispute_category()
    assert (created.code, created.kind) == ("invoice-dispute", "invoice_dispute")
    assert created.names["uk"] == "Оскаржити нарахування"
    Category.objects.filter(pk=created.pk).update(active=False)
    own = Category.objects.create(
        code="bill-query", kind=Category.Kind.INVOICE_DISPUTE, names={"en": "Bill query"}
    )
    assert casework.dispute_category() == own


# --- staff resolve it -----------------------------------------------------------------------


@pytest.fixture
def dispute(client, town):
    client.force_login(town["resident"])
    assert _lodge(client, town["invoice"], town["line"]).status_code == 302
    client.logout()
    return InvoiceDispute.objects.select_related("case").get()


@pytest.fixture
def officer(client, make_user, totp_code):
    user = make_user(role="revenue_officer")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=["view_invoice", "change_invoicedispute"],
        )
    )
    client.force_login(user)
    assert client.post("/mfa/", {"code": totp_code()}).status_code == 302
    return user


def _resolve(client, dispute, **data):
    prefix = f"dispute-{dispute.pk}-"
    fields = {"outcome": "credit", "line": dispute.lines[0], "note": "", **data}
    return client.post(
        f"/staff/billing/disputes/{dispute.case.reference}/resolve/",
        {prefix + key: value for key, value in fields.items()},
    )


def _balance(account) -> int:
    receivable = LedgerAccount.objects.get(personal_account=account, kind="receivable")
    return receivable.postings.aggregate(total=Sum("amount_minor"))["total"]


def _state(invoice) -> tuple:
    invoice.refresh_from_db()
    return (
        InvoiceLine.objects.count(),
        Transaction.objects.count(),
        Posting.objects.count(),
        AuditEvent.objects.filter(action="billing.dispute_resolved").count(),
        invoice.closing_minor,
        invoice.adjustments_minor,
        invoice.revision,
    )


def test_staff_resolve_with_a_credit(client, town, dispute, officer):
    invoice, line = town["invoice"], town["line"]
    closing, owed = invoice.closing_minor, _balance(invoice.account)
    page = _text(client.get(f"/staff/billing/invoices/{invoice.number}/"))
    assert dispute.case.reference in page and "Resolve the dispute" in page
    assert "disputed" in page and "claimed R" in page
    case_page = _text(client.get(f"/staff/cases/{dispute.case.reference}/"))
    assert f'href="/staff/billing/invoices/{invoice.number}/"' in case_page

    response = _resolve(client, dispute, amount="100.00", note="The meter was misread.")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/billing/invoices/{invoice.number}/"

    adjustment = InvoiceLine.objects.get(invoice=invoice, kind="dispute")
    assert (adjustment.position, adjustment.revision) == (4, 1)
    assert (adjustment.service, adjustment.provider_id) == (line.service, line.provider_id)
    assert adjustment.amount_minor == -10000
    assert adjustment.tax_minor == adjustment_tax(-10000, line.amount_minor, line.tax_minor)
    assert adjustment.tax_minor == -1304  # 15 % VAT within R100.00, half up
    assert adjustment.detail == [["dispute", dispute.case.reference]]

    txn = Transaction.objects.get(pk=adjustment.transaction_id)
    assert (txn.kind, txn.reference, txn.actor) == ("adjustment", invoice.number, officer)
    legs = {p.account.kind: p.amount_minor for p in txn.postings.select_related("account")}
    assert legs == {"receivable": -10000, "provider_payable": 10000}
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0  # balanced
    assert _balance(invoice.account) == owed - 10000

    invoice.refresh_from_db()
    assert invoice.closing_minor == closing - 10000
    assert (invoice.adjustments_minor, invoice.revision) == (-10000, 1)
    dispute.refresh_from_db()
    assert dispute.adjustment_minor == -10000 and dispute.resolved_at is not None
    case = Case.objects.get(pk=dispute.case_id)
    assert case.status == workflow.RESOLVED
    note = case.events.filter(kind="status").last().text
    assert "credited with R" in note and "The meter was misread." in note
    audit = AuditEvent.objects.get(action="billing.dispute_resolved")
    assert audit.actor == officer and audit.data["adjustment_minor"] == -10000

    page = _text(client.get(f"/staff/billing/invoices/{invoice.number}/"))
    assert "dispute settlement" in page and f"Dispute {case.reference} resolved" in page
    assert "Resolve the dispute" not in page


def test_an_extra_charge_goes_through_the_ledgers_charge(town, dispute, officer):
    invoice = town["invoice"]
    closing, owed = invoice.closing_minor, _balance(invoice.account)
    casework.dispute_resolve(
        dispute=dispute, amount=Decimal("20.00"), credit=False, actor=officer, note=""
    )
    line = InvoiceLine.objects.get(invoice=invoice, kind="dispute")
    assert line.amount_minor == 2000
    txn = Transaction.objects.get(pk=line.transaction_id)
    assert txn.kind == "adjustment"
    assert txn.postings.aggregate(total=Sum("amount_minor"))["total"] == 0
    assert _balance(invoice.account) == owed + 2000
    invoice.refresh_from_db()
    assert invoice.closing_minor == closing + 2000


def test_no_change_resolves_without_an_adjustment(client, town, dispute, officer):
    before = _state(town["invoice"])
    response = _resolve(client, dispute, outcome="none", amount="")
    assert response.status_code == 302
    after = _state(town["invoice"])
    assert after[:3] == before[:3] and after[4:] == before[4:]  # only the audit row
    assert after[3] == before[3] + 1
    dispute.refresh_from_db()
    assert dispute.resolved_at is not None and dispute.adjustment_minor is None
    case = Case.objects.get(pk=dispute.case_id)
    assert case.status == workflow.RESOLVED
    assert "stays as it is" in case.events.filter(kind="status").last().text


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be more than zero."),
        ("-5", "The amount must be more than zero."),
        ("100.005", "The amount has more than 2 decimal places."),
        ("abc", "Enter a number."),
        ("", "Give the amount to credit or charge."),
        ("99999.00", "A credit cannot be more than the disputed lines charged (R"),
    ],
)
def test_a_bad_amount_is_refused_and_nothing_is_written(
    client, town, dispute, officer, amount, message
):
    before = _state(town["invoice"])
    response = _resolve(client, dispute, amount=amount)
    assert response.status_code == 400
    assert message in _text(response)
    assert _state(town["invoice"]) == before
    dispute.refresh_from_db()
    assert dispute.resolved_at is None and dispute.adjustment_minor is None
    assert Case.objects.get(pk=dispute.case_id).status in workflow.OPEN


def test_the_error_is_in_the_staff_members_language(client, town, dispute, officer):
    officer.preferred_language = "uk"
    officer.save(update_fields=["preferred_language"])
    response = _resolve(client, dispute, amount="abc")
    assert response.status_code == 400 and "Введіть число." in _text(response)


def test_a_resolved_dispute_cannot_be_resolved_again(town, dispute, officer):
    casework.dispute_resolve(dispute=dispute, amount=Decimal("10.00"), actor=officer)
    before = _state(town["invoice"])
    with pytest.raises(ValidationError, match="already resolved"):
        casework.dispute_resolve(dispute=dispute, amount=Decimal("10.00"), actor=officer)
    assert _state(town["invoice"]) == before


def test_only_staff_who_may_resolve_disputes_can(client, town, dispute, make_user, totp_code):
    user = make_user(role="call_centre_agent")  # sees invoices, may not settle disputes
    client.force_login(user)
    client.post("/mfa/", {"code": totp_code()})
    page = _text(client.get(f"/staff/billing/invoices/{town['invoice'].number}/"))
    assert dispute.case.reference in page and "Resolve the dispute" not in page
    before = _state(town["invoice"])
    assert _resolve(client, dispute, amount="10.00").status_code == 403
    assert _state(town["invoice"]) == before


def test_resolving_or_reopening_the_case_follows_on_the_dispute(town, dispute, officer):
    case = case_services.case_transition(
        case=dispute.case, target=workflow.RESOLVED, actor=officer, note="Explained by phone."
    )
    dispute.refresh_from_db()
    assert dispute.resolved_at is not None and dispute.adjustment_minor is None
    case_services.case_transition(case=case, target=workflow.REOPENED, actor=town["resident"])
    dispute.refresh_from_db()
    assert dispute.resolved_at is None
    casework.dispute_resolve(dispute=dispute, amount=Decimal("5.00"), actor=officer)
    dispute.refresh_from_db()
    assert dispute.adjustment_minor == -500


def test_a_later_rerun_keeps_the_disputes_credit(town, dispute, officer):
    from civicdesk.metering.models import Reading

    casework.dispute_resolve(dispute=dispute, amount=Decimal("100.00"), actor=officer)
    invoice = town["invoice"]
    reading = Reading.objects.get(meter__account=invoice.account, meter__resource="electricity")
    reading.consumption = Decimal("437")  # one kWh more, at R3.50 + 15 % VAT: R4.03
    reading.save()
    billing_run_execute(billing_run_start(period=support.PERIOD))
    later = InvoiceLine.objects.filter(invoice=invoice).exclude(kind="charge")
    assert [(line.kind, line.amount_minor) for line in later.order_by("position")] == [
        ("dispute", -10000),
        ("adjustment", 403),
    ]
