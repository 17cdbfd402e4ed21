"""Customer 360 search by every kind of key, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from civicdesk.registry.models import AccountHolder
from civicdesk.registry.search import customer_search
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def naledi(operator):
    building = factories.building(address="14 Jacaranda Avenue, Hatfield")
    account = factories.account(
        premises_=factories.premises(building_=building, number="3"),
        holder_phone="+27825550101",
        holder_email="Naledi.Mahlangu@Example.org",
    )
    AccountHolder.objects.filter(account=account).update(full_name="Naledi Mahlangu")
    return account


def _urls(results):
    return [r.url for r in results]


def test_account_number_exact_and_prefix_with_spaces_and_dashes(naledi):
    other = factories.account()
    number = naledi.number
    spaced = f"{number[:3]} {number[3:6]}-{number[6:]}"
    results = customer_search(spaced)
    assert results[0].kind == "account" and results[0].title == number
    assert results[0].url == f"/staff/customers/account/{number}/"
    common = "".join(a for a, b in zip(number, other.number, strict=True) if a == b)[:5]
    assert {r.title for r in customer_search(common)} >= {number, other.number}


def test_phone_in_national_format_finds_holders_and_users(naledi, make_user):
    user = make_user("naledi@example.net", phone="+27825550101", full_name="Naledi M.")
    results = customer_search("082 555 0101")
    assert {r.kind for r in results} == {"person"}
    assert set(_urls(results)) == {
        f"/staff/customers/account/{naledi.number}/",
        f"/staff/customers/user/{user.public_id}/",
    }
    assert customer_search("+27 82 555 0101")[0].matched == "Phone"
    assert customer_search("082 555 0199") == []


def test_email_exact_ignoring_case(naledi, make_user):
    user = make_user("thabo@example.org", full_name="Thabo Nkosi")
    holder = customer_search("naledi.mahlangu@example.org")
    assert [r.title for r in holder] == ["Naledi Mahlangu"]
    assert _urls(customer_search("THABO@example.org")) == [
        f"/staff/customers/user/{user.public_id}/"
    ]
    assert customer_search("naledi@example.org") == []  # exact, not a substring


def test_name_finds_holders_and_users(naledi, make_user):
    user = make_user(full_name="Pieter Mahlangu")
    results = customer_search("mahlangu")
    assert {r.title for r in results} == {"Naledi Mahlangu", "Pieter Mahlangu"}
    assert f"/staff/customers/user/{user.public_id}/" in _urls(results)


def test_address_finds_the_accounts_there(naledi):
    results = customer_search("jacaranda avenue")
    assert [(r.kind, r.title) for r in results] == [("account", naledi.number)]
    assert "Naledi Mahlangu" in results[0].subtitle
    assert "14 Jacaranda Avenue, Hatfield, 3" in results[0].subtitle


def test_staff_are_not_customers(make_user, operator):
    make_user("agent@example.org", role="call_centre_agent", full_name="Lerato Staff")
    assert customer_search("Lerato") == []
    assert customer_search("agent@example.org") == []


def test_short_or_empty_queries_find_nothing(naledi):
    assert customer_search("") == []
    assert customer_search(" n ") == []


def test_results_are_limited_and_queries_bounded(operator, django_assert_max_num_queries):
    building = factories.building(address="1 Long Street, Cape Town")
    for _ in range(8):
        factories.account(premises_=factories.premises(building_=building))
    with django_assert_max_num_queries(6):
        results = customer_search("Long Street", limit=5)
    assert len(results) == 5
    with django_assert_max_num_queries(4):
        customer_search("Account Holder", limit=50)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity: PostgreSQL")
def test_trigram_similarity_tolerates_typos_and_ranks_closer_names_first(naledi):
    building = factories.building(address="9 Other Road")
    account = factories.account(premises_=factories.premises(building_=building))
    AccountHolder.objects.filter(account=account).update(full_name="Nomsa Mahlaba")
    results = customer_search("Naledi Mahlangoo")
    assert results[0].title == "Naledi Mahlangu"
    assert customer_search("Jacaranda Avnue")[0].title == naledi.number
