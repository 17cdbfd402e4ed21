import pytest

from civicdesk.core.audit import audit_record
from civicdesk.core.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_rows_are_append_only(make_user):
    user = make_user()
    event = audit_record(AuditEvent.Action.LOGIN_SUCCEEDED, actor=user, extra="x")
    assert event.identifier == user.email and event.data == {"extra": "x"}
    event.identifier = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).identifier == user.email


def test_audit_log_cannot_be_edited_in_the_admin(client, make_user, totp_code):
    admin = make_user(role="operator_admin", is_superuser=True)
    client.post("/login/", {"username": admin.email, "password": admin.raw_password})
    client.post("/mfa/", {"code": totp_code()})
    event = AuditEvent.objects.first()
    assert client.get("/admin/core/auditevent/").status_code == 200
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    page = client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and 'type="submit" value="Save"' not in page.content.decode()
