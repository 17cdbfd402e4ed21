"""Verification reminders: once per due date, to the residents linked to the meter's account, in
their language, by the command and the task alike."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from civicdesk.metering import tasks
from civicdesk.metering.models import Meter
from civicdesk.metering.services import verification_reminders_send
from civicdesk.metering.tests import factories
from civicdesk.notifications.models import Delivery
from civicdesk.registry.models import AccountLink
from civicdesk.registry.tests import factories as registry_factories

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 20)


@pytest.fixture(autouse=True)
def _clock():
    moment = datetime(2026, 6, 20, 9, 0, tzinfo=ZoneInfo("Africa/Johannesburg"))
    with time_machine.travel(moment, tick=False):
        yield


def linked_meter(make_user, *, due, language="en", **kwargs):
    account = registry_factories.account()
    user = make_user(preferred_language=language)
    AccountLink.objects.create(user=user, account=account, role="owner", method="staff")
    meter = factories.meter(account_=account, **kwargs)
    Meter.objects.filter(pk=meter.pk).update(verification_due_on=due)
    meter.refresh_from_db()
    return user, meter


def test_due_within_the_reminder_days_is_reminded_once(operator, make_user):
    user, meter = linked_meter(make_user, due=TODAY + timedelta(days=10))
    assert verification_reminders_send() == 1
    delivery = Delivery.objects.get(user=user)
    assert delivery.template_key == "metering/verification_due"
    assert meter.serial in delivery.body and "verification" in delivery.subject
    meter.refresh_from_db()
    assert meter.verification_reminded_on == TODAY
    assert verification_reminders_send() == 0
    assert Delivery.objects.count() == 1


def test_far_off_removed_and_unlinked_meters_are_not_reminded(operator, make_user):
    linked_meter(make_user, due=TODAY + timedelta(days=60))
    _user, _removed = linked_meter(make_user, due=TODAY, status="removed")
    lonely = factories.meter()
    Meter.objects.filter(pk=lonely.pk).update(verification_due_on=TODAY)
    assert verification_reminders_send() == 0
    lonely.refresh_from_db()
    assert lonely.verification_reminded_on == TODAY  # nobody to tell: not looked at again


def test_a_new_due_date_is_reminded_again(operator, make_user):
    user, meter = linked_meter(make_user, due=TODAY + timedelta(days=5))
    verification_reminders_send()
    Meter.objects.filter(pk=meter.pk).update(verification_due_on=TODAY + timedelta(days=20))
    assert verification_reminders_send() == 0  # same season: the stamp covers it
    Meter.objects.filter(pk=meter.pk).update(verification_due_on=date(2032, 6, 1))
    with time_machine.travel(datetime(2032, 5, 20, 9, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        assert verification_reminders_send() == 1
    assert Delivery.objects.filter(user=user).count() == 2


def test_one_message_lists_all_of_a_residents_meters(operator, make_user):
    user, water = linked_meter(make_user, due=TODAY)
    power = factories.meter(account_=water.account, resource="electricity")
    Meter.objects.filter(pk=power.pk).update(verification_due_on=TODAY + timedelta(days=3))
    assert verification_reminders_send() == 1
    body = Delivery.objects.get(user=user).body
    assert water.serial in body and power.serial in body


def test_reminder_in_the_residents_language(operator, make_user):
    user, _meter = linked_meter(make_user, due=TODAY, language="ru")
    verification_reminders_send()
    delivery = Delivery.objects.get(user=user)
    assert delivery.language == "ru"


def test_command_and_task(operator, make_user):
    linked_meter(make_user, due=TODAY)
    out = StringIO()
    call_command("meter_verification_reminders", stdout=out)
    assert "1 reminder sent" in out.getvalue()
    linked_meter(make_user, due=TODAY)
    assert tasks.meter_verification_reminders_task.delay().get() == 1
