"""Fixtures shared by the staff page tests, which load this module with
``pytest_plugins = ["civicdesk.cases.tests.staff_support"]`` (a plugin, not a conftest):
staff signed in through /login/ and /mfa/ as a person would, cases made through the service,
uploads in a temporary MEDIA_ROOT."""

from __future__ import annotations

import pytest
from django.test import Client

from civicdesk.cases import services
from civicdesk.cases.services import Intake
from civicdesk.cases.tests import factories as cf


@pytest.fixture
def staff_login(client, make_user, totp_code, operator):
    """Sign `client` (or another Client) in as a new user with `role` through the login page
    and the TOTP step; returns the user."""

    def _login(role: str = "call_centre_agent", *, user=None, as_client: Client | None = None):
        browser = as_client or client
        user = user or make_user(role=role)
        response = browser.post("/login/", {"username": user.email, "password": user.raw_password})
        assert response.status_code == 302, "the password was not accepted"
        if user.is_staff:
            assert response["Location"].startswith("/mfa/")
            response = browser.post("/mfa/", {"code": totp_code()})
            assert response.status_code == 302, "TOTP was not accepted"
        return user

    return _login


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def make_case(operator):
    """Make a case through case_create; a contact phone stands in when there is no requester."""

    def _make(category=None, *, requester=None, subject="No water since morning", **fields):
        if requester is None and not fields.get("contact_email"):
            fields.setdefault("contact_phone", "+27821234567")
        return services.case_create(
            Intake(
                category=category or cf.category(),
                channel=fields.pop("channel", "portal"),
                subject=subject,
                requester=requester,
                **fields,
            )
        )

    return _make
