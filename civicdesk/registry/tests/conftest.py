import pytest

from civicdesk.registry.tests import factories


@pytest.fixture
def make_account(operator):
    return factories.account


@pytest.fixture
def registry(operator):
    return factories
