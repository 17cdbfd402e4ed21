"""The demo command: one operator per jurisdiction, the documented logins, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from civicdesk.identity.models import User
from civicdesk.registry.models import Operator

pytestmark = pytest.mark.django_db
LOGINS = [
    "resident@demo.test",
    "resident2@demo.test",
    "agent@demo.test",
    "revenue@demo.test",
    "specialist@demo.test",
    "centre@demo.test",
    "agent-org@demo.test",
    "quality@demo.test",
    "admin@demo.test",
]


def _demo(*args) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "jurisdiction,currency,language",
    [("za", "ZAR", "en"), ("ua", "UAH", "uk"), ("ru", "RUB", "ru")],
)
def test_demo_builds_the_operator_and_prints_the_logins(jurisdiction, currency, language):
    output = _demo("--jurisdiction", jurisdiction, "--accounts", "10", "--seed", "3")
    operator = Operator.objects.get()
    assert (operator.jurisdiction, operator.currency, operator.default_language) == (
        jurisdiction.upper(),
        currency,
        language,
    )
    for email in LOGINS:
        assert email in output
        assert User.objects.get(email=email).check_password("civicdesk-demo")
    assert "JBSWY3DPEHPK3PXP" in output


def test_running_it_again_keeps_the_data():
    _demo("--jurisdiction", "za")
    resident = User.objects.get(email="resident@demo.test")
    resident.full_name = "Changed By Hand"
    resident.save()
    output = _demo("--jurisdiction", "za")
    assert "Kept the existing demo operator" in output
    assert Operator.objects.count() == 1
    assert User.objects.get(email="resident@demo.test").full_name == "Changed By Hand"
    assert User.objects.filter(email__endswith="@demo.test").count() == len(LOGINS)


def test_staff_are_enrolled_with_the_documented_secret(client):
    _demo("--jurisdiction", "za")
    out = io.StringIO()
    call_command("demo_totp", stdout=out)
    code = out.getvalue().strip()
    client.post("/login/", {"username": "agent@demo.test", "password": "civicdesk-demo"})
    response = client.post("/mfa/", {"code": code, "next": "/staff/"})
    assert response["Location"] == "/staff/"
    staff = User.objects.filter(is_staff=True).values_list("email", flat=True)
    assert set(staff) == set(LOGINS) - {
        "resident@demo.test",
        "resident2@demo.test",
        "agent-org@demo.test",
    }


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError):
        call_command("demo", "--jurisdiction", "xx")
    with pytest.raises(CommandError):
        call_command("demo", "--accounts", "-1")
    assert not Operator.objects.exists()


def test_demo_residents_have_three_years_of_money():
    from django.db.models import Sum

    from civicdesk.ledger import selectors
    from civicdesk.ledger.models import Posting, Transaction
    from civicdesk.registry.models import PersonalAccount

    _demo("--jurisdiction", "ua", "--accounts", "12", "--seed", "5")
    resident = User.objects.get(email="resident@demo.test")
    paid_up, owing = PersonalAccount.objects.filter(links__user=resident).order_by("number")
    assert selectors.account_balance(paid_up) <= 0  # paid up (the sample statement may add credit)
    assert selectors.account_balance(owing) > 0
    oldest = selectors.account_transactions(paid_up).last().value_date
    newest = selectors.account_transactions(paid_up).first().value_date
    assert (newest - oldest).days > 3 * 365 - 62
    others = PersonalAccount.objects.exclude(links__user__isnull=False)
    assert all(selectors.account_balance(a) > 0 for a in others)
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0
    assert set(Transaction.objects.values_list("currency", flat=True)) == {"UAH"}


def test_demo_meters_have_history_estimates_and_a_reading_to_review():
    from civicdesk.metering.models import EstimateTrueUp, Meter, MeterRegister, Reading
    from civicdesk.registry.models import PersonalAccount

    _demo("--jurisdiction", "ru", "--accounts", "120", "--seed", "3")
    resident = User.objects.get(email="resident@demo.test")
    account = PersonalAccount.objects.filter(links__user=resident).order_by("number").first()
    resources = set(Meter.objects.filter(account=account).values_list("resource", flat=True))
    assert {"cold_water", "hot_water", "electricity", "gas"} <= resources
    electricity = Meter.objects.get(account=account, resource="electricity")
    assert electricity.registers == ("T1", "T2")  # day/night in Russia
    water = Meter.objects.get(account=account, resource="cold_water")
    periods = set(water.readings.values_list("period", flat=True))
    assert len(periods) == 36
    assert water.readings.filter(source="estimate").count() == 2
    true_up = EstimateTrueUp.objects.get(meter=water)
    assert true_up.difference == true_up.actual - true_up.estimated > 0
    # The register state agrees with the last accepted reading.
    state = MeterRegister.objects.get(meter=water, register="T")
    last = water.readings.filter(status="accepted").order_by("-taken_at").first()
    assert state.last_value == last.value and state.estimated_periods == 0
    assert Reading.objects.filter(status="flagged").exists()
    assert Meter.objects.filter(resource="heat", premises__isnull=True).exists()
