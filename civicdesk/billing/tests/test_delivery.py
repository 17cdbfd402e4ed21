"""E-mail after a run: every holder who chose e-mail gets the new bill once per revision, in
their language, with the PDF attached, the portal link and the bulletin; through a real SMTP
server too. Also the notifications service's attachments, which the bills need."""

from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.core.files.storage import default_storage

from civicdesk.billing.delivery import bills_send
from civicdesk.billing.documents.testing import pdf_text
from civicdesk.billing.models import BillingRun, BillingSettings, Invoice, InvoiceDelivery
from civicdesk.billing.runs import billing_run_execute, billing_run_start
from civicdesk.billing.tasks import bills_send_task
from civicdesk.billing.tests import support
from civicdesk.notifications.models import Delivery
from civicdesk.notifications.services import ATTACHMENTS_DIR, Attachment, notify_contact
from civicdesk.notifications.tests.conftest import free_port
from civicdesk.registry.models import AccountHolder, Operator

pytestmark = pytest.mark.django_db

BASE = "https://portal.example.org"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run(operator, make_user):
    """Three accounts billed by one run: the first chose e-mail and has two holders with
    addresses (one with a portal login in Russian), the second the portal, the third e-mail
    but no address on file."""
    by_email, _by_portal, no_address = support.town(3)
    for account in (by_email, no_address):
        account.delivery_preference = "email"
        account.save()
    holder = by_email.holders.get()
    holder.email = "olena@example.org"
    holder.user = make_user(preferred_language="ru")
    holder.save()
    AccountHolder.objects.create(
        account=by_email, role="payer", full_name="Pieter Botha", email="Pieter@Example.org"
    )
    no_address.holders.update(email="")
    BillingSettings.objects.update_or_create(
        operator=Operator.objects.get(), defaults={"bulletin": "Water cuts on 3 September."}
    )
    return billing_run_execute(billing_run_start(period=support.PERIOD))


def attachment_of(message) -> tuple[str, bytes, str]:
    (attachment,) = message.attachments
    return attachment


def test_each_holder_gets_the_bill_in_their_language_once(
    run, mailoutbox, django_capture_on_commit_callbacks
):
    invoice = Invoice.objects.get(
        account__delivery_preference="email", account__holders__user__isnull=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = bills_send(run.pk, base_url=BASE)
    assert (report.invoices, report.sent, report.skipped, report.failed) == (2, 2, 0, 0)
    by_recipient = {message.to[0]: message for message in mailoutbox}
    assert set(by_recipient) == {"olena@example.org", "pieter@example.org"}
    link = f"{BASE}/accounts/{invoice.account.number}/bills/{invoice.public_id}/"
    for address, language, month, heading in (
        ("olena@example.org", "ru", "Август 2025", "Номер лицевого счёта"),
        ("pieter@example.org", "en", "August 2025", "Account number"),
    ):
        message = by_recipient[address]
        assert month in message.subject and invoice.account.number in message.subject
        assert link in message.body
        assert "Water cuts on 3 September." in message.body
        name, content, mime = attachment_of(message)
        assert (name, mime) == (f"{invoice.number}.pdf", "application/pdf")
        text = pdf_text(content)
        assert invoice.number in text and heading in text
        delivery = Delivery.objects.get(recipient=address)
        assert (delivery.language, delivery.status) == (language, "sent")
    assert (
        Delivery.objects.get(recipient="olena@example.org").user
        == invoice.account.holders.get(role="owner").user
    )
    assert set(
        InvoiceDelivery.objects.values_list("invoice", "revision", "recipient", "language")
    ) == {
        (invoice.pk, 0, "olena@example.org", "ru"),
        (invoice.pk, 0, "pieter@example.org", "en"),
    }
    # The files were kept only until the messages went.
    assert not default_storage.listdir(ATTACHMENTS_DIR)[0]

    # Again: nothing new is sent for the same revision.
    with django_capture_on_commit_callbacks(execute=True):
        again = bills_send(run.pk, base_url=BASE)
    assert (again.sent, again.skipped) == (0, 2)
    assert len(mailoutbox) == 2

    # A re-run that changed the bill (a new revision) sends the corrected bill.
    Invoice.objects.filter(pk=invoice.pk).update(revision=1)
    with django_capture_on_commit_callbacks(execute=True):
        corrected = bills_send(run.pk, base_url=BASE)
    assert corrected.sent == 2 and len(mailoutbox) == 4
    (pieter,) = [m for m in mailoutbox[2:] if m.to == ["pieter@example.org"]]
    assert (
        pieter.subject == f"Your corrected bill for August 2025, account {invoice.account.number}"
    )
    assert InvoiceDelivery.objects.filter(revision=1).count() == 2


def test_nothing_is_sent_when_the_operator_does_not_e_mail_bills(run, mailoutbox):
    BillingSettings.objects.filter().update(email_bills=False)
    assert bills_send(run.pk).sent == 0
    assert mailoutbox == [] and not InvoiceDelivery.objects.exists()


def test_only_the_runs_own_bills_are_sent(run, mailoutbox, django_capture_on_commit_callbacks):
    other = BillingRun.objects.create(period=support.PERIOD, status="done")
    with django_capture_on_commit_callbacks(execute=True):
        assert bills_send(other.pk).invoices == 0
        result = bills_send_task.delay(run.pk, BASE).get()
    assert result == {"invoices": 2, "sent": 2, "skipped": 0, "failed": 0}


def test_notify_contact_sends_attachments_in_order(
    mailoutbox, operator, settings, django_capture_on_commit_callbacks
):
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "APP_DIRS": False,
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "notifications/t/files.subject.txt": "Files",
                            "notifications/t/files.email.txt": "Two files.",
                        },
                    )
                ],
            },
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        notify_contact(
            channel="email",
            recipient="a@example.org",
            template_key="t/files",
            attachments=[
                Attachment("bill.pdf", b"%PDF-1.7 test"),
                Attachment("../notes 1.txt", "привіт".encode()),
            ],
        )
    (message,) = mailoutbox
    assert message.attachments == [
        ("bill.pdf", b"%PDF-1.7 test", "application/pdf"),
        ("notes_1.txt", "привіт", "text/plain"),  # Django hands text attachments over as text
    ]


# --- through a real SMTP server -------------------------------------------------------------


class Recording:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free local port, with Django's SMTP backend pointed at it."""
    handler = Recording()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield handler
    finally:
        controller.stop()


def test_the_bill_arrives_at_a_real_smtp_server_with_the_pdf(
    run, smtp_server, django_capture_on_commit_callbacks
):
    AccountHolder.objects.filter(role="payer").delete()
    invoice = Invoice.objects.get(
        account__delivery_preference="email", account__holders__user__isnull=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert bills_send(run.pk, base_url=BASE).sent == 1
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["olena@example.org"]
    message = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"{BASE}/accounts/{invoice.account.number}/bills/{invoice.public_id}/" in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    assert invoice.number in pdf_text(attachment.get_content())
    assert Delivery.objects.get().status == "sent"
