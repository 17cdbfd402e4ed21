"""Residents link themselves to accounts; unverified callers learn nothing about numbers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from civicdesk.notifications import sms
from civicdesk.registry import selectors, services
from civicdesk.registry.models import AccountLink, LinkRequest

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)


def _start(user, number, commit, **kw):
    with commit(execute=True):
        return services.link_request_start(user=user, account_number=number, **kw)


def test_link_by_code_sent_to_the_contact_on_file(
    make_user, make_account, django_capture_on_commit_callbacks
):
    user = make_user()
    account = make_account(holder_phone="+27825550001")
    request = _start(user, account.number, django_capture_on_commit_callbacks, method="code")
    assert sms.outbox[-1][0] == "+27825550001"  # the holder's phone, not the user's
    outcome = services.link_request_confirm(user=user, request_id=request.id, code=_code())
    assert outcome.ok
    assert list(selectors.accounts_for_user(user)) == [account]


def test_unknown_and_known_numbers_look_the_same(make_user, make_account, operator):
    from civicdesk.core.identifiers import account_number_make

    user = make_user()
    known = make_account()
    unknown = account_number_make(operator.account_number_format, 999_999)
    a = services.link_request_start(user=user, account_number=known.number, method="code")
    b = services.link_request_start(user=user, account_number=unknown, method="code")
    assert (a.status, a.method, round((a.expires_at - a.created_at).total_seconds())) == (
        b.status,
        b.method,
        round((b.expires_at - b.created_at).total_seconds()),
    )
    wrong = services.link_request_confirm(user=user, request_id=b.id, code="123456")
    assert not wrong.ok and wrong.message == "That code is not right."


def test_wrong_check_digit_is_refused_with_a_clear_message(make_user, make_account):
    user = make_user()
    account = make_account()
    typo = account.number[:-1] + str((int(account.number[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as exc:
        services.link_request_start(user=user, account_number=typo, method="code")
    assert "check digit" in exc.value.message_dict["account_number"][0]
    assert not LinkRequest.objects.exists()


def test_attempts_are_limited(make_user, make_account, operator):
    operator.link_max_attempts = 3
    operator.save()
    user = make_user()
    account = make_account()
    request = services.link_request_start(
        user=user, account_number=account.number, method="last_bill"
    )
    for _ in range(2):
        assert not services.link_request_confirm(user=user, request_id=request.id, amount="1.00").ok
    last = services.link_request_confirm(user=user, request_id=request.id, amount="1.00")
    assert not last.ok and "Too many wrong answers" in last.message
    # Now even the right amount is refused.
    assert not services.link_request_confirm(user=user, request_id=request.id, amount="812.40").ok
    assert not AccountLink.objects.exists()


def test_link_by_last_bill_accepts_both_decimal_separators(make_user, make_account):
    user = make_user()
    account = make_account(last_bill="1234.50")
    request = services.link_request_start(
        user=user, account_number=account.number, method="last_bill"
    )
    assert services.link_request_confirm(user=user, request_id=request.id, amount="1 234,50").ok


def test_an_expired_request_cannot_be_confirmed(make_user, make_account):
    user = make_user()
    account = make_account()
    request = services.link_request_start(
        user=user, account_number=account.number, method="last_bill"
    )
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        outcome = services.link_request_confirm(user=user, request_id=request.id, amount="812.40")
    assert not outcome.ok and "expired" in outcome.message


def test_requests_per_day_are_limited(make_user, make_account, operator):
    operator.link_max_requests_per_day = 2
    operator.save()
    user = make_user()
    account = make_account()
    for _ in range(2):
        services.link_request_start(user=user, account_number=account.number, method="last_bill")
    with pytest.raises(ValidationError, match="Too many link requests"):
        services.link_request_start(user=user, account_number=account.number, method="last_bill")


def test_disabled_method_is_refused(make_user, make_account, operator):
    operator.link_by_last_bill = False
    operator.save()
    with pytest.raises(ValidationError):
        services.link_request_start(
            user=make_user(), account_number=make_account().number, method="last_bill"
        )


def test_document_goes_to_staff_review(
    make_user, make_account, django_capture_on_commit_callbacks, mailoutbox
):
    user = make_user()
    reviewer = make_user(role="service_centre_admin")
    account = make_account()
    request = services.link_request_start(
        user=user,
        account_number=account.number,
        method="document",
        document=SimpleUploadedFile("lease.pdf", PDF, content_type="application/pdf"),
        document_kind="lease",
    )
    assert request.status == "in_review"
    assert list(selectors.link_review_queue()) == [request]
    with django_capture_on_commit_callbacks(execute=True):
        services.link_request_review(request_id=request.id, reviewer=reviewer, approve=True)
    assert list(selectors.accounts_for_user(user)) == [account]
    assert mailoutbox[-1].to == [user.email]
    assert account.number in mailoutbox[-1].subject


def test_rejection_needs_a_reason_and_unknown_accounts_cannot_be_approved(make_user, operator):
    from civicdesk.core.identifiers import account_number_make

    user = make_user()
    reviewer = make_user(role="service_centre_admin")
    request = services.link_request_start(
        user=user,
        account_number=account_number_make(operator.account_number_format, 424242),
        method="document",
        document=SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50),
        document_kind="identity",
    )
    with pytest.raises(ValidationError):
        services.link_request_review(request_id=request.id, reviewer=reviewer, approve=True)
    with pytest.raises(ValidationError):
        services.link_request_review(request_id=request.id, reviewer=reviewer, approve=False)
    services.link_request_review(
        request_id=request.id, reviewer=reviewer, approve=False, note="No such account."
    )
    request.refresh_from_db()
    assert request.status == "rejected" and not AccountLink.objects.exists()


@pytest.mark.parametrize(
    "content,name",
    [(b"MZ\x90\x00 executable", "lease.pdf"), (b"", "empty.pdf"), (b"<html>", "x.png")],
)
def test_documents_are_checked_by_content(make_user, make_account, content, name):
    with pytest.raises(ValidationError) as exc:
        services.link_request_start(
            user=make_user(),
            account_number=make_account().number,
            method="document",
            document=SimpleUploadedFile(name, content, content_type="application/pdf"),
            document_kind="lease",
        )
    assert "document" in exc.value.message_dict
    assert not LinkRequest.objects.exists()


def test_unlink_and_relink(make_user, make_account):
    user = make_user()
    account = make_account()
    services.link_by_staff(user=user, account=account, role="owner")
    services.link_revoke(user=user, account=account)
    assert not selectors.accounts_for_user(user).exists()
    with pytest.raises(ValidationError):
        services.link_revoke(user=user, account=account)
    services.link_by_staff(user=user, account=account, role="tenant")
    assert selectors.accounts_for_user(user).get() == account


def test_holder_invites_a_tenant(
    make_user, make_account, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_user()
    tenant = make_user("tenant@example.org")
    stranger = make_user("stranger@example.org")
    account = make_account()
    services.link_by_staff(user=owner, account=account, role="owner")
    with django_capture_on_commit_callbacks(execute=True):
        _inv, token = services.invitation_create(
            inviter=owner,
            account=account,
            email="Tenant@Example.org",
            role="tenant",
            base_url="http://testserver/",
        )
    assert mailoutbox[-1].to == ["tenant@example.org"] and token in mailoutbox[-1].body
    with pytest.raises(ValidationError, match="another e-mail"):
        services.invitation_accept(token=token, user=stranger)
    link = services.invitation_accept(token=token, user=tenant)
    assert (link.account, link.role, link.method) == (account, "tenant", "invitation")
    with pytest.raises(ValidationError, match="invalid"):
        services.invitation_accept(token=token, user=tenant)


def test_tenants_cannot_invite(make_user, make_account):
    tenant = make_user()
    account = make_account()
    services.link_by_staff(user=tenant, account=account, role="tenant")
    with pytest.raises(ValidationError):
        services.invitation_create(
            inviter=tenant, account=account, email="x@example.org", role="tenant", base_url="/"
        )
