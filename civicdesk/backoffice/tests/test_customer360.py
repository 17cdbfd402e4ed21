"""The customer 360 pages: search, the page composed of slots, history, access and cost."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicdesk.core import slots
from civicdesk.registry import services
from civicdesk.registry.models import AccountHolder, AccountLink
from civicdesk.registry.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(operator):
    territory = factories.territory(name="Tshwane")
    area = factories.territory(name="Hatfield", kind="area", parent=territory)
    building = factories.building(territory_=area, address="14 Jacaranda Avenue, Hatfield")
    account = factories.account(premises_=factories.premises(building_=building, number="3"))
    AccountHolder.objects.filter(account=account).update(full_name="Naledi Mahlangu")
    return account


def _text(response) -> str:
    return response.content.decode()


def _order(html: str, *needles: str) -> list[int]:
    return [html.index(needle) for needle in needles]


# --- search -----------------------------------------------------------------------------------


def test_search_page_lists_results_and_htmx_gets_only_the_results(client, staff_login, account):
    staff_login()
    page = client.get("/staff/customers/", {"q": "Mahlangu"})
    assert page.status_code == 200
    html = _text(page)
    assert "<h1>Customer 360</h1>" in html and 'role="search"' in html
    assert f'href="/staff/customers/account/{account.number}/"' in html
    partial = client.get("/staff/customers/", {"q": account.number}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    body = _text(partial)
    assert "<html" not in body and "<h1>" not in body
    assert f'href="/staff/customers/account/{account.number}/"' in body
    assert "HX-Request" in partial["Vary"]
    restore = client.get(
        "/staff/customers/",
        {"q": account.number},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<h1>Customer 360</h1>" in _text(restore)  # htmx restoring history wants the page
    empty = _text(client.get("/staff/customers/", {"q": "Nobody Here"}))
    assert "Nothing matches" in empty


def test_panels_link_to_customer_360(client, staff_login):
    staff_login("revenue_officer")
    assert 'href="/staff/customers/"' in _text(client.get("/staff/"))


# --- the page ---------------------------------------------------------------------------------


def test_account_page_shows_account_holders_premises_and_services(client, staff_login, account):
    staff_login()
    page = client.get(f"/staff/customers/account/{account.number}/")
    assert page.status_code == 200
    html = _text(page)
    assert f"<h1>{account.number}</h1>" in html
    for text in (
        "Naledi Mahlangu",
        "Owner",
        "holder@example.org",
        "+27821110000",
        "14 Jacaranda Avenue, Hatfield, 3",
        "Hatfield, Tshwane",
        "60.50 m²",
        "Electricity",
        "res-el",
        "Portal only",
    ):
        assert text in html, text
    # the registry's slots, in their order
    slot_ids = ("person", "accounts", "premises", "links", "history")
    positions = _order(html, *(f'id="slot-registry-{key}"' for key in slot_ids))
    assert positions == sorted(positions)


def test_history_shows_who_changed_what_before_and_after(client, staff_login, account):
    clerk = staff_login("revenue_officer")
    account.delivery_preference = "email"
    services.record_save(account, actor=clerk, reason="caller asked")
    place = account.premises
    place.occupants = 5
    place.municipal_valuation = Decimal("850000.00")
    place.valuation_date = place.created_at.date()
    services.record_save(place, actor=clerk)
    building = place.building
    building.address = "16 Jacaranda Avenue, Hatfield"
    services.record_save(building, actor=clerk, reason="renumbered by the city")
    html = _text(client.get(f"/staff/customers/account/{account.number}/"))
    history = html[html.index('id="slot-registry-history"') :]
    assert clerk.email in history
    assert "caller asked" in history
    assert re.search(
        r"Bill delivery:</span>\s*<del>.*Portal only</del>\s*→\s*<ins>.*E-mail</ins>", history
    )
    assert re.search(r"Registered occupants:</span>\s*<del>.*2</del>\s*→\s*<ins>.*5</ins>", history)
    assert re.search(
        r"Address:</span>\s*<del>.*14 Jacaranda Avenue, Hatfield</del>\s*→\s*"
        r"<ins>.*16 Jacaranda Avenue, Hatfield</ins>",
        history,
    )
    # newest first
    assert (
        history.index("renumbered by the city")
        < history.index("Registered occupants")
        < history.index("Bill delivery")
    )


def test_user_page_shows_the_person_and_their_linked_accounts(
    client, staff_login, make_user, account
):
    staff_login()
    resident = make_user(
        "naledi@example.net",
        full_name="Naledi Mahlangu",
        phone="+27825550101",
        preferred_language="af",
    )
    services.link_by_staff(user=resident, account=account, role="owner")
    html = _text(client.get(f"/staff/customers/user/{resident.public_id}/"))
    assert "<h1>Naledi Mahlangu</h1>" in html
    assert "naledi@example.net" in html and "Afrikaans" in html and "+27825550101" in html
    assert f'href="/staff/customers/account/{account.number}/"' in html
    assert "Linked by staff" in html
    # and the account page lists the linked portal user
    account_html = _text(client.get(f"/staff/customers/account/{account.number}/"))
    assert f'href="/staff/customers/user/{resident.public_id}/"' in account_html


def test_unknown_account_user_and_staff_user_are_404(client, staff_login, operator):
    agent = staff_login()
    assert client.get("/staff/customers/account/0000000000/").status_code == 404
    assert (
        client.get("/staff/customers/user/00000000-0000-0000-0000-000000000000/").status_code == 404
    )
    assert client.get(f"/staff/customers/user/{agent.public_id}/").status_code == 404


def test_residents_get_403_and_anonymous_visitors_log_in(client, make_user, account):
    url = f"/staff/customers/account/{account.number}/"
    assert client.get(url)["Location"].startswith("/login/")
    client.force_login(make_user())
    assert client.get(url).status_code == 403
    assert client.get("/staff/customers/?q=Naledi").status_code == 403


def test_staff_must_pass_mfa_first(client, make_user, account):
    client.force_login(make_user(role="call_centre_agent"))
    response = client.get(f"/staff/customers/account/{account.number}/")
    assert response.status_code == 302 and response["Location"].startswith("/mfa/")


# --- slots ------------------------------------------------------------------------------------


@pytest.fixture
def fake_slot():
    keys = []

    def _register(key, **kw):
        kw.setdefault("title", key)
        kw.setdefault("template", "backoffice/customer360/test_fake.html")
        slots.register(key, **kw)
        keys.append(key)

    yield _register
    for key in keys:
        slots.unregister(key)


@pytest.fixture
def fake_template(settings, tmp_path):
    folder = tmp_path / "templates" / "backoffice" / "customer360"
    folder.mkdir(parents=True)
    (folder / "test_fake.html").write_text(
        "<p>fake slot for {{ data.number }} with {{ subject.accounts|length }} account(s)</p>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates", *settings.TEMPLATES[0]["DIRS"]]}
    ]


def test_the_page_is_composed_of_registered_slots(
    client, staff_login, account, fake_slot, fake_template
):
    staff_login()
    url = f"/staff/customers/account/{account.number}/"
    assert "fake slot" not in _text(client.get(url))
    fake_slot(
        "test.meters",
        title="Meters (test)",
        order=25,
        context=lambda request, subject: {"number": subject.accounts[0].number},
    )
    html = _text(client.get(url))
    assert f"fake slot for {account.number} with 1 account(s)" in html
    assert 'aria-labelledby="slot-test-meters-title"' in html
    # between accounts (20) and premises (30)
    accounts, fake, premises = _order(
        html, 'id="slot-registry-accounts"', 'id="slot-test-meters"', 'id="slot-registry-premises"'
    )
    assert accounts < fake < premises
    slots.unregister("test.meters")
    assert "fake slot" not in _text(client.get(url))


def test_slots_are_hidden_without_permission_or_without_context(
    client, staff_login, account, fake_slot, fake_template
):
    fake_slot(
        "test.audit",
        title="Needs audit permission",
        order=1,
        context=lambda request, subject: {"number": "A"},
        permission="core.view_auditevent",
    )
    fake_slot("test.none", title="Nothing to say", order=2, context=lambda request, subject: None)
    fake_slot(
        "test.first", title="First", order=0, context=lambda request, subject: {"number": "F"}
    )
    staff_login("call_centre_agent")  # no core.view_auditevent
    html = _text(client.get(f"/staff/customers/account/{account.number}/"))
    assert "fake slot for F" in html
    assert "Needs audit permission" not in html and "fake slot for A" not in html
    assert "Nothing to say" not in html
    assert html.index('id="slot-test-first"') < html.index('id="slot-registry-person"')
    client.logout()
    staff_login("quality_controller")  # has core.view_auditevent
    assert "fake slot for A" in _text(client.get(f"/staff/customers/account/{account.number}/"))


def test_registering_a_key_twice_is_refused(fake_slot):
    from django.core.exceptions import ImproperlyConfigured

    fake_slot("test.twice", order=1, context=lambda request, subject: None)
    with pytest.raises(ImproperlyConfigured):
        slots.register(
            "test.twice",
            title="again",
            order=2,
            template="x.html",
            context=lambda request, subject: None,
        )


# --- cost -------------------------------------------------------------------------------------


def _page_reads(client, url) -> int:
    """SELECTs done for the page (session tracking may add a write every 30 s)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum(q["sql"].lstrip().upper().startswith("SELECT") for q in queries)


def _open_changed_account(resident, clerk):
    account = factories.account()
    services.link_by_staff(user=resident, account=account, role="owner")
    account.delivery_preference = "paper"
    services.record_save(account, actor=clerk)
    holder = account.holders.get()
    holder.user = resident
    services.record_save(holder, actor=clerk)
    return account


def test_page_queries_do_not_grow_with_accounts_or_history(
    client, staff_login, make_user, operator, django_assert_max_num_queries
):
    clerk = staff_login()
    resident = make_user(full_name="Many Accounts")
    url = f"/staff/customers/user/{resident.public_id}/"
    first = _open_changed_account(resident, clerk)
    one = _page_reads(client, url)
    for _ in range(6):
        _open_changed_account(resident, clerk)
    assert AccountLink.objects.filter(user=resident).count() == 7
    assert _page_reads(client, url) == one
    with django_assert_max_num_queries(23):  # 22 + the recent bills slot
        html = _text(client.get(url))
    assert html.count('class="record"') >= 14  # 7 accounts and 7 premises
    assert html.count("Paper</ins>") == 7
    with django_assert_max_num_queries(23):  # 22 + the recent bills slot
        client.get(f"/staff/customers/account/{first.number}/")
