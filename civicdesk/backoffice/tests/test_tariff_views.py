"""Back-office tariff pages: who may see and load them, the codes with the version in force,
a code's versions side by side with the differences marked, and loading from pasted text or
a file (every error listed with its path, nothing stored on error; the same text twice is
unchanged)."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from civicdesk.tariffs import services
from civicdesk.tariffs.models import Tariff
from civicdesk.tariffs.tests.test_api import EXAMPLE_YAML, NOW

pytestmark = pytest.mark.django_db

BASE = "/staff/tariffs/"
# Version 2 from October: dearer second block, a dearer fixed charge, a fourth block.
AUTUMN_YAML = (
    EXAMPLE_YAML.replace("2025-07-01", "2025-10-01")
    .replace('"3.00"', '"3.20"')
    .replace('"150.00"', '"165.00"')
    .replace(
        '      - {up_to: null, price: "3.50"}',
        '      - {up_to: 650, price: "3.50"}\n      - {up_to: null, price: "4.10"}',
    )
)
BROKEN_YAML = EXAMPLE_YAML.replace('"2.50"', '"-2.50"').replace("currency: ZAR", "currency: ZZZ")


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def _grant(user, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="tariffs", codename__in=codenames)
    )


@pytest.fixture
def manager(staff_login):
    """A revenue officer, who may view and add tariffs (also given directly, so the tests do
    not hang on the roles table)."""
    user = staff_login("revenue_officer")
    _grant(user, "view_tariff", "add_tariff")
    return user


@pytest.fixture
def versions():
    services.tariffs_load(EXAMPLE_YAML)
    services.tariffs_load(AUTUMN_YAML)


def _text(response) -> str:
    return response.content.decode()


def test_residents_anonymous_visitors_and_staff_without_the_permission(
    client, make_user, staff_login, versions
):
    assert client.get(BASE).status_code == 302  # to the login page
    client.force_login(make_user())
    for url in (BASE, f"{BASE}example-electricity/", f"{BASE}load/"):
        assert client.get(url).status_code == 403, url
    client.logout()
    specialist = staff_login("case_specialist")
    assert not specialist.has_perm("tariffs.view_tariff")
    assert client.get(BASE).status_code == 403  # staff, but no tariff permission
    viewer = staff_login("call_centre_agent")
    assert viewer.has_perm("tariffs.view_tariff") and not viewer.has_perm("tariffs.add_tariff")
    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}load/").status_code == 403  # may look, may not load
    response = client.post(f"{BASE}load/", {"text": EXAMPLE_YAML})
    assert response.status_code == 403
    assert 'href="/staff/tariffs/load/"' not in _text(client.get(BASE))


def test_the_list_shows_each_code_with_the_version_in_force(client, manager, versions):
    services.tariffs_load(
        EXAMPLE_YAML.replace("example-electricity", "future").replace("2025-07-01", "2026-01-01")
    )
    html = _text(client.get(BASE))
    rows = dict(
        re.findall(r'<tr data-code="([^"]+)">.*?data-testid="in-force">(.*?)</td>', html, re.S)
    )
    assert set(rows) == {"example-electricity", "future"}
    assert "version 1, from July 1, 2025" in rows["example-electricity"]  # v2 starts in October
    assert "none" in rows["future"]


def test_the_list_links_from_the_landing_page(client, manager):
    assert f'href="{BASE}"' in _text(client.get("/staff/"))


def test_versions_side_by_side_with_the_differences_marked(client, manager, versions):
    html = _text(client.get(f"{BASE}example-electricity/"))
    assert re.findall(r'data-version="(\d+)"', html) == ["1", "2"]
    assert "Version 1 is in force today." in html
    rows = {
        label.strip(): cells
        for label, cells in re.findall(
            r'<th scope="row">(?:<strong>)?([^<]+)(?:</strong>)?</th>(.*?)</tr>', html, re.S
        )
    }

    def cells(label: str) -> list[str]:
        return [
            re.sub(r"<[^>]+>|\s*\(changed\)", "", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", rows[label], re.S)
        ]

    assert cells("Valid from") == ["2025-07-01", "2025-10-01"]
    assert cells("blocks 1") == ["up to 100: 2.50", "up to 100: 2.50"]
    assert cells("blocks 2") == ["up to 400: 3.00", "up to 400: 3.20"]
    assert cells("blocks 3") == ["above: 3.50", "up to 650: 3.50"]
    assert cells("blocks 4") == ["—", "above: 4.10"]
    assert cells("amount") == ["150.00", "165.00"]
    assert cells("Tax") == ["VAT 0.15, added to the prices"] * 2
    marked = re.findall(r'<mark data-testid="changed">(.*?)</mark>', html)
    assert marked == ["2025-10-01", "up to 400: 3.20", "up to 650: 3.50", "above: 4.10", "165.00"]


def test_an_unknown_code_is_404(client, manager):
    assert client.get(f"{BASE}no-such/").status_code == 404


def test_pasted_text_loads_and_the_same_text_again_is_unchanged(client, manager):
    response = client.post(f"{BASE}load/", {"text": EXAMPLE_YAML}, follow=True)
    assert response.redirect_chain[-1][0] == BASE
    assert "example-electricity: version 1 loaded." in _text(response)
    row = Tariff.objects.get()
    assert row.loaded_by == manager and row.source == EXAMPLE_YAML
    again = client.post(f"{BASE}load/", {"text": EXAMPLE_YAML}, follow=True)
    assert "example-electricity: version 1 is unchanged." in _text(again)
    assert Tariff.objects.count() == 1


def test_a_file_loads_as_the_next_version(client, manager, versions):
    upload = SimpleUploadedFile("autumn.yaml", AUTUMN_YAML.replace("4.10", "4.25").encode())
    response = client.post(f"{BASE}load/", {"file": upload}, follow=True)
    assert "example-electricity: version 3 loaded." in _text(response)


def test_errors_are_listed_with_their_paths_and_nothing_is_stored(client, manager):
    response = client.post(f"{BASE}load/", {"text": BROKEN_YAML})
    assert response.status_code == 400
    html = _text(response)
    assert "2 errors: nothing was stored." in html
    problems = re.findall(r'<tr data-code="([^"]+)"><td><code>([^<]*)</code>', html)
    assert problems == [
        ("unknown_currency", "currency"),
        ("negative_not_allowed", "charges[0].blocks[0].price"),
    ]
    assert BROKEN_YAML.splitlines()[0] in html  # the text stays in the form to be corrected
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Upload a file or paste the text of the tariffs."),
        ({"text": "   "}, "Upload a file or paste the text of the tariffs."),
        (
            {"text": EXAMPLE_YAML, "file": SimpleUploadedFile("a.yaml", b"code: x")},
            "Upload a file or paste the text, not both.",
        ),
        ({"file": SimpleUploadedFile("a.yaml", "é".encode("latin-1"))}, "not UTF-8 text"),
    ],
)
def test_the_form_asks_for_one_text(client, manager, data, message):
    response = client.post(f"{BASE}load/", data)
    assert response.status_code == 400
    assert message in _text(response)
    assert not Tariff.objects.exists()
