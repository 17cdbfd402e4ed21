"""Staff clients for back-office pages: logged in and through the second factor."""

from __future__ import annotations

import pytest


@pytest.fixture
def staff_login(client, make_user, totp_code, operator):
    """Log `client` in as a new staff user with `role` and pass TOTP; returns the user."""

    def _login(role: str = "call_centre_agent", **extra):
        user = make_user(role=role, **extra)
        client.force_login(user)
        response = client.post("/mfa/", {"code": totp_code()})
        assert response.status_code == 302, "TOTP was not accepted"
        return user

    return _login


@pytest.fixture
def document_storage(settings, tmp_path):
    """Uploaded documents go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
