import pytest

from civicdesk.ledger.models import LedgerAccount
from civicdesk.registry.tests import factories


@pytest.fixture
def chart(operator):
    """The operator's fixed ledger accounts (ZAR)."""
    kinds = {
        "revenue": LedgerAccount.Kind.REVENUE,
        "bank": LedgerAccount.Kind.BANK_CLEARING,
        "gateway": LedgerAccount.Kind.GATEWAY_CLEARING,
        "suspense": LedgerAccount.Kind.SUSPENSE,
    }
    return {
        code: LedgerAccount.objects.create(code=code, kind=kind, name=code, currency="ZAR")
        for code, kind in kinds.items()
    }


@pytest.fixture
def make_account(operator):
    return factories.account


@pytest.fixture
def registry(operator):
    return factories
