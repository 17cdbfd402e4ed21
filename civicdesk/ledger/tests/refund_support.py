"""Fixtures for the refund tests, loaded with
``pytest_plugins = ["civicdesk.ledger.tests.refund_support"]``: a resident linked to an account
with credit (paid in through the sandbox gateway's clearing account), revenue officers, and a
function to ask for a refund. Plain helpers are in refund_helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from civicdesk.ledger.tests.refund_helpers import ZA_BANK, credit, link
from civicdesk.registry.tests import factories as rf


@pytest.fixture
def resident(make_user, operator):
    return make_user(full_name="Naledi Mahlangu")


@pytest.fixture
def account_with_credit(resident, operator):
    """An account linked to ``resident`` with R 500.00 of credit."""
    account = rf.account()
    link(resident, account)
    credit(account, 50000)
    return account


@pytest.fixture
def officer(make_user, operator):
    return make_user(role="revenue_officer")


@pytest.fixture
def second_officer(make_user, operator):
    return make_user(role="revenue_officer")


@pytest.fixture
def ask(resident, account_with_credit):
    """Ask for a refund as the resident (ZA bank details unless others are given)."""
    from civicdesk.ledger.refunds import refund_request

    def _ask(amount="150.00", *, account=None, requester=None, **bank):
        return refund_request(
            account=account or account_with_credit,
            requester=requester or resident,
            amount=Decimal(amount) if isinstance(amount, str) else amount,
            **(bank or ZA_BANK),
        )

    return _ask
