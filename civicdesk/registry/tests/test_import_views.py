"""The back-office import page: staff with the right permissions upload, dry-run and import."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from civicdesk.registry.models import Building, ImportRun, Premises, Territory

DATA = Path(__file__).parent / "data"


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/csv")


@pytest.fixture
def url():
    return reverse("backoffice:import_upload")


def staff_client(client, make_user, totp_code, role: str):
    user = make_user(role=role)
    client.post("/login/", {"username": user.email, "password": user.raw_password})
    client.post("/mfa/", {"code": totp_code()})
    return user


@pytest.fixture
def admin(client, make_user, totp_code, operator):
    return staff_client(client, make_user, totp_code, "operator_admin")


def test_the_page_offers_the_form_and_recent_runs(client, admin, url):
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body and "Import registry records" in body
    assert "Nothing imported yet." in body


def test_dry_run_of_several_files_lists_bad_lines_and_writes_nothing(client, admin, url):
    files = [upload("territories.csv"), upload("buildings.csv"), upload("premises_bad.csv")]
    page = client.post(url, {"files": files, "dry_run": "on"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Dry run: nothing was written." in body
    assert "No building has the code b-nowhere." in body and "Not a number." in body
    report = page.context["report"]
    assert [(e["line"], e["field"]) for e in report.errors] == [
        (3, "total_area"),
        (4, "building_code"),
        (5, "heated_area"),
        (7, ""),
    ]
    assert Territory.objects.count() == 0 and Premises.objects.count() == 0
    assert ImportRun.objects.get().started_by == admin


def test_real_run_imports_good_rows_with_the_staff_member_in_history(client, admin, url):
    files = [upload("territories.csv"), upload("buildings.csv"), upload("premises_bad.csv")]
    body = client.post(url, {"files": files}).content.decode()
    assert "The good rows were imported" in body
    assert Premises.objects.count() == 2
    assert Building.history.filter(history_user=admin).count() == 2


def test_all_or_nothing_writes_nothing(client, admin, url):
    files = [upload("territories.csv"), upload("buildings.csv"), upload("premises_bad.csv")]
    body = client.post(url, {"files": files, "all_or_nothing": "on"}).content.decode()
    assert "Nothing was written" in body
    assert Territory.objects.count() == 0


def test_xlsx_upload(client, admin, url):
    from civicdesk.registry.tests.test_import import xlsx

    file = SimpleUploadedFile("territories.xlsx", xlsx("territories"))
    client.post(url, {"files": [file]})
    assert Territory.objects.count() == 2


def test_only_csv_and_xlsx_files(client, admin, url):
    file = SimpleUploadedFile("notes.txt", b"code,name\n")
    page = client.post(url, {"files": [file]})
    assert "send CSV or XLSX files" in page.content.decode()
    assert not ImportRun.objects.exists()


def test_a_revenue_officer_may_import_accounts_but_not_buildings(
    client, make_user, totp_code, operator, url
):
    staff_client(client, make_user, totp_code, "revenue_officer")
    page = client.post(url, {"files": [upload("buildings.csv")]})
    assert page.status_code == 200
    assert "You may not import buildings." in page.content.decode()
    assert Building.objects.count() == 0


def test_staff_without_the_permission_are_refused(client, make_user, totp_code, operator, url):
    staff_client(client, make_user, totp_code, "call_centre_agent")
    assert client.get(url).status_code == 403


def test_residents_and_strangers_are_refused(client, make_user, operator, url):
    assert client.get(url)["Location"].startswith("/login/")
    client.force_login(make_user())
    assert client.get(url).status_code == 403
