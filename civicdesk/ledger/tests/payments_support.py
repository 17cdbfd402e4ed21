"""Fixtures for the online payment tests, loaded with
``pytest_plugins = ["civicdesk.ledger.tests.payments_support"]``: a resident linked to an
account that owes two bills, and helpers to drive the sandbox gateway as its page would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from civicdesk.ledger.models import Transaction
from civicdesk.ledger.services import ChargeLine, charge_post
from civicdesk.registry.models import AccountLink
from civicdesk.registry.tests import factories


@dataclass
class Household:
    resident: object
    account: object
    provider: object
    old_charge: Transaction  # INV-1, 100.00 on 2025-01-31
    new_charge: Transaction  # INV-2, 50.00 on 2025-02-28


@pytest.fixture
def household(operator, make_user) -> Household:
    resident = make_user()
    account = factories.account()
    AccountLink.objects.create(user=resident, account=account, role="owner", method="code")
    provider = factories.provider()
    old = charge_post(
        account=account,
        lines=[ChargeLine(10_000, "electricity", provider)],
        currency="ZAR",
        value_date=date(2025, 1, 31),
        reference="INV-1",
    )
    new = charge_post(
        account=account,
        lines=[ChargeLine(5_000, "electricity", provider)],
        currency="ZAR",
        value_date=date(2025, 2, 28),
        reference="INV-2",
    )
    return Household(resident, account, provider, old, new)
