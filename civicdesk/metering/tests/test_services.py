"""Readings through the services: check, submit, reject, flag, review, true-up, replacement,
photos, alerts and who may see which meter."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from civicdesk.core.models import AuditEvent
from civicdesk.identity import roles
from civicdesk.metering import selectors, services, validation
from civicdesk.metering.models import (
    ConsumptionAlert,
    EstimateTrueUp,
    Meter,
    MeteringSettings,
    MeterRegister,
    Reading,
)
from civicdesk.metering.tests import factories
from civicdesk.registry.models import AccountLink
from civicdesk.registry.tests import factories as registry_factories

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Africa/Johannesburg")
NOW = datetime(2026, 6, 20, 12, 0, tzinfo=ZONE)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(year, month, day, hour=10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE)


def submit(meter, value, when, **kwargs):
    values = value if isinstance(value, dict) else {"T": value}
    kwargs.setdefault("source", "portal")
    return services.readings_submit(meter=meter, values=values, taken_at=when, **kwargs)


def register(meter, name="T") -> MeterRegister:
    return MeterRegister.objects.get(meter=meter, register=name)


def image_file(fmt="PNG", name="dial.png") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_first_reading_is_accepted_without_consumption(operator):
    meter = factories.meter()
    [outcome] = submit(meter, "100", at(2026, 5, 10))
    assert outcome.verdict.status == validation.ACCEPTED
    assert outcome.reading.consumption is None
    assert outcome.reading.period == date(2026, 5, 1)
    assert outcome.message == "Accepted."
    row = register(meter)
    assert row.last_value == Decimal("100") and row.last_real_value == Decimal("100")
    assert row.last_period == date(2026, 5, 1)


def test_second_reading_records_consumption_and_recent_use(operator):
    meter = factories.meter(multiplier="2")
    submit(meter, "100", at(2026, 4, 10))
    [outcome] = submit(meter, "112,5", at(2026, 5, 10))
    assert outcome.reading.consumption == Decimal("25")
    assert register(meter).recent == [["2026-05", "25.000"]]


def test_check_writes_nothing(operator):
    meter = factories.meter()
    submit(meter, "100", at(2026, 4, 10))
    [outcome] = services.readings_check(meter=meter, values={"T": "90"}, source="portal")
    assert outcome.verdict.status == validation.REJECTED
    assert outcome.reading is None
    assert "lower than the previous one (100)" in outcome.message
    assert Reading.objects.count() == 1


def test_lower_reading_rejected_and_nothing_written(operator):
    meter = factories.meter()
    submit(meter, "100", at(2026, 4, 10))
    with pytest.raises(services.ReadingsRejected) as caught:
        submit(meter, "90", at(2026, 5, 10))
    [outcome] = caught.value.outcomes
    assert outcome.verdict.reasons == (validation.LOWER_THAN_PREVIOUS,)
    assert outcome.message.startswith("Not accepted.")
    assert Reading.objects.count() == 1
    assert register(meter).last_value == Decimal("100")


def test_keep_rejected_stores_the_rejection(operator):
    meter = factories.meter()
    submit(meter, "100", at(2026, 4, 10))
    [outcome] = submit(meter, "abc", at(2026, 5, 10), source="sms", keep_rejected=True)
    assert outcome.reading.status == Reading.Status.REJECTED
    assert outcome.reading.reasons == validation.BAD_VALUE
    assert outcome.reading.value == 0
    assert register(meter).last_value == Decimal("100")


def test_multi_register_meter_needs_every_register(operator):
    meter = factories.meter(resource="electricity", rates="day_night")
    with pytest.raises(ValidationError) as caught:
        submit(meter, {"T1": "10"}, at(2026, 5, 10))
    assert "T2" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        submit(meter, {"T1": "10", "T2": "5", "T3": "1"}, at(2026, 5, 10))
    assert "T3" in caught.value.message_dict
    outcomes = submit(meter, {"t1": "10", "T2": "5"}, at(2026, 5, 10))
    assert [o.register for o in outcomes] == ["T1", "T2"]
    assert Reading.objects.filter(meter=meter).count() == 2


def test_one_rejected_register_rejects_the_whole_submission(operator):
    meter = factories.meter(resource="electricity", rates="day_night")
    submit(meter, {"T1": "10", "T2": "5"}, at(2026, 4, 10))
    with pytest.raises(services.ReadingsRejected) as caught:
        submit(meter, {"T1": "20", "T2": "4"}, at(2026, 5, 10))
    assert [o.ok for o in caught.value.outcomes] == [True, False]
    assert Reading.objects.filter(meter=meter).count() == 2


def spiky_meter(operator):
    meter = factories.meter()
    for month, value in enumerate(["100", "110", "120", "130", "140"], start=1):
        submit(meter, value, at(2026, month, 10))
    return meter


def test_spike_is_flagged_and_does_not_move_the_state(operator):
    meter = spiky_meter(operator)
    [outcome] = submit(meter, "200", at(2026, 6, 10))
    assert outcome.verdict.status == validation.FLAGGED
    assert outcome.reading.status == Reading.Status.FLAGGED
    assert outcome.reading.reasons == validation.SPIKE
    assert outcome.message.startswith("Accepted for review.")
    assert register(meter).last_value == Decimal("140")


def test_review_accepts_a_flagged_reading(operator, make_user):
    meter = spiky_meter(operator)
    [outcome] = submit(meter, "200", at(2026, 6, 10))
    reviewer = make_user(role=roles.REVENUE_OFFICER)
    reading = services.reading_review(
        reading=outcome.reading, accept=True, actor=reviewer, note="photo confirms"
    )
    assert reading.status == Reading.Status.ACCEPTED
    assert reading.consumption == Decimal("60")
    assert reading.reviewed_by == reviewer
    assert register(meter).last_value == Decimal("200")
    event = AuditEvent.objects.get(action=services.AUDIT_READING_REVIEWED)
    assert event.data["note"] == "photo confirms" and event.data["accepted"] is True
    with pytest.raises(ValidationError):
        services.reading_review(reading=reading, accept=False, actor=reviewer)


def test_review_rejects_a_flagged_reading(operator, make_user):
    meter = spiky_meter(operator)
    [outcome] = submit(meter, "200", at(2026, 6, 10))
    reading = services.reading_review(
        reading=outcome.reading, accept=False, actor=make_user(role=roles.REVENUE_OFFICER)
    )
    assert reading.status == Reading.Status.REJECTED and reading.consumption is None
    assert register(meter).last_value == Decimal("140")


def test_review_refuses_a_reading_overtaken_by_a_later_one(operator, make_user):
    meter = spiky_meter(operator)
    [flagged] = submit(meter, "200", at(2026, 6, 10))
    submit(meter, "145", at(2026, 6, 15))
    with pytest.raises(ValidationError) as caught:
        services.reading_review(
            reading=flagged.reading, accept=True, actor=make_user(role=roles.REVENUE_OFFICER)
        )
    assert "reading" in caught.value.message_dict


def test_photo_not_an_image_is_refused(operator):
    meter = factories.meter()
    fake = SimpleUploadedFile("dial.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    with pytest.raises(ValidationError) as caught:
        submit(meter, "100", at(2026, 5, 10), photo=fake)
    assert "photo" in caught.value.message_dict
    assert not Reading.objects.exists()


def test_photo_too_large_is_refused(operator):
    meter = factories.meter()
    big = SimpleUploadedFile("dial.png", b"\x89PNG" + b"0" * (10 * 1024 * 1024), "image/png")
    with pytest.raises(ValidationError) as caught:
        submit(meter, "100", at(2026, 5, 10), photo=big)
    assert "10 MB" in caught.value.message_dict["photo"][0]


def test_gif_is_refused(operator):
    meter = factories.meter()
    with pytest.raises(ValidationError):
        submit(meter, "100", at(2026, 5, 10), photo=image_file("GIF", "dial.gif"))


def test_photo_is_kept_once_for_all_registers(operator, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    meter = factories.meter(resource="electricity", rates="day_night")
    outcomes = submit(meter, {"T1": "1", "T2": "2"}, at(2026, 5, 10), photo=image_file())
    names = {o.reading.photo.name for o in outcomes}
    assert len(names) == 1 and next(iter(names)).endswith(".png")
    assert len(list(tmp_path.rglob("*.png"))) == 1


def test_unknown_source_is_refused(operator):
    meter = factories.meter()
    with pytest.raises(ValidationError) as caught:
        submit(meter, "1", at(2026, 5, 10), source="estimate")
    assert "source" in caught.value.message_dict


def test_staff_entry_is_audited(operator, make_user):
    agent = make_user(role=roles.CALL_CENTRE_AGENT)
    meter = factories.meter()
    submit(meter, "5", at(2026, 5, 10), source="staff", submitted_by=agent, keep_rejected=True)
    event = AuditEvent.objects.get(action=services.AUDIT_READING_ENTERED)
    assert event.actor == agent and event.data["statuses"] == ["accepted"]


# --- true-ups -------------------------------------------------------------------------------


def test_real_reading_after_estimates_records_the_true_up(operator):
    meter = factories.meter()
    for month, value in enumerate(["100", "110", "120", "130"], start=1):
        submit(meter, value, at(2026, month, 10))
    assert services.estimates_generate(period=date(2026, 4, 1)) == 0  # April has a reading
    assert services.estimates_generate(period=date(2026, 5, 1)) == 1
    estimate = Reading.objects.get(source="estimate")
    assert estimate.value == Decimal("140") and estimate.consumption == Decimal("10")
    assert estimate.reasons == validation.ESTIMATED_AVERAGE
    [outcome] = submit(meter, "136", at(2026, 6, 10))
    assert outcome.reading.consumption == Decimal("-4")
    true_up = EstimateTrueUp.objects.get()
    assert (true_up.first_period, true_up.last_period) == (date(2026, 5, 1), date(2026, 5, 1))
    assert true_up.estimated == Decimal("10") and true_up.actual == Decimal("6")
    assert true_up.difference == Decimal("-4")
    row = register(meter)
    assert row.estimated_periods == 0 and row.last_real_value == Decimal("136")


# --- replacement and status -----------------------------------------------------------------


def test_replacement_starts_the_new_meter_from_its_initial_reading(operator, make_user):
    staff = make_user(role=roles.REVENUE_OFFICER)
    old = factories.meter(serial="OLD-1")
    submit(old, "900", at(2026, 4, 10))
    new = services.meter_replace(
        old=old,
        removed_on=date(2026, 5, 2),
        final_values={"T": "910"},
        new_serial="NEW-1",
        initial_values={"T": "3"},
        actor=staff,
    )
    old.refresh_from_db()
    assert old.status == Meter.Status.REMOVED and old.removed_on == date(2026, 5, 2)
    assert new.replaces == old and new.account == old.account
    final = Reading.objects.get(meter=old, value=910)
    assert final.consumption == Decimal("10") and final.source == "staff"
    assert register(new).last_real_value == Decimal("3")
    [outcome] = submit(new, "7", at(2026, 5, 20))
    assert outcome.verdict.status == validation.ACCEPTED
    assert outcome.reading.consumption == Decimal("4")
    with pytest.raises(services.ReadingsRejected) as caught:
        submit(old, "920", at(2026, 5, 21))
    assert validation.METER_REMOVED in caught.value.outcomes[0].verdict.reasons


def test_replacement_errors_name_the_field(operator, make_user):
    staff = make_user(role=roles.REVENUE_OFFICER)
    old = factories.meter(serial="OLD-2")
    factories.meter(serial="TAKEN")
    submit(old, "900", at(2026, 4, 10))
    kwargs = {"old": old, "removed_on": date(2026, 5, 2), "actor": staff}
    with pytest.raises(ValidationError) as caught:
        services.meter_replace(
            **kwargs, final_values={"T": "800"}, new_serial="N", initial_values={"T": "0"}
        )
    assert "final_values.T" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.meter_replace(
            **kwargs, final_values={"T": "901"}, new_serial="TAKEN", initial_values={"T": "0"}
        )
    assert "new_serial" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.meter_replace(
            **kwargs, final_values={"T": "901"}, new_serial="N2", initial_values={"T": "x"}
        )
    assert "initial_values.T" in caught.value.message_dict
    old.refresh_from_db()
    assert old.status == Meter.Status.ACTIVE


def test_status_transitions(operator, make_user):
    staff = make_user(role=roles.REVENUE_OFFICER)
    meter = factories.meter()
    services.meter_status_set(meter=meter, status="faulty", actor=staff, note="display dark")
    with pytest.raises(services.ReadingsRejected) as caught:
        submit(meter, "1", at(2026, 5, 10))
    assert caught.value.outcomes[0].verdict.reasons == (validation.METER_FAULTY,)
    services.meter_status_set(meter=meter, status="active", actor=staff)
    services.meter_status_set(meter=meter, status="removed", actor=staff)
    with pytest.raises(ValidationError):
        services.meter_status_set(meter=meter, status="active", actor=staff)


def test_meter_create_with_initial_values(operator):
    account = registry_factories.account()
    meter = services.meter_create(
        serial=" E-77 ",
        resource="electricity",
        rates="three_rate",
        account=account,
        installed_on=date(2026, 1, 5),
        initial_values={"T1": "1", "T2": "2", "T3": "3"},
    )
    assert meter.serial == "E-77" and meter.unit == "kWh"
    assert meter.premises == account.premises and meter.building == account.premises.building
    assert sorted(r.register for r in meter.register_states.all()) == ["T1", "T2", "T3"]
    assert Reading.objects.filter(meter=meter, consumption__isnull=True).count() == 3
    with pytest.raises(ValidationError) as caught:
        services.meter_create(
            serial="E-77", resource="electricity", account=account, installed_on=date(2026, 1, 5)
        )
    assert "serial" in caught.value.message_dict


# --- alerts ---------------------------------------------------------------------------------


def test_high_use_raises_one_alert_and_a_leak_case(operator):
    from civicdesk.cases.models import Case, Category

    settings = selectors.metering_settings()
    MeteringSettings.objects.filter(pk=settings.pk).update(
        spike_factor=Decimal("100"), leak_opens_case=True
    )
    meter = factories.meter()
    for month, value in enumerate(["100", "110", "120", "130"], start=1):
        submit(meter, value, at(2026, month, 10))
    submit(meter, "200", at(2026, 5, 10))
    alert = ConsumptionAlert.objects.get()
    assert alert.kind == "high_use" and alert.period == date(2026, 5, 1)
    assert alert.consumption == Decimal("70") and alert.baseline == Decimal("10")
    case = Case.objects.get()
    assert alert.case == case and case.category.kind == Category.Kind.LEAK
    assert "meter" in case.subject.lower()
    submit(meter, "300", at(2026, 5, 20))
    assert ConsumptionAlert.objects.count() == 1


def test_no_case_for_electricity_or_when_disabled(operator):
    from civicdesk.cases.models import Case

    settings = selectors.metering_settings()
    MeteringSettings.objects.filter(pk=settings.pk).update(
        spike_factor=Decimal("100"), leak_opens_case=True
    )
    meter = factories.meter(resource="electricity")
    for month, value in enumerate(["100", "110", "120", "130", "200"], start=1):
        submit(meter, value, at(2026, month, 10))
    assert ConsumptionAlert.objects.count() == 1
    assert not Case.objects.exists()


def test_night_flow_check_writes_an_alert(operator):
    meter = factories.meter()
    night = [(datetime(2026, 6, 3, h, 0, tzinfo=ZONE), Decimal(10) + h) for h in range(0, 7)]
    [alert] = services.night_flow_check(meter=meter, readings=night)
    assert alert.kind == "night_flow" and alert.period == date(2026, 6, 1)
    assert alert.consumption == Decimal("5") and alert.baseline == Decimal("1")
    assert services.night_flow_check(meter=meter, readings=night) == []
    electric = factories.meter(resource="electricity")
    assert services.night_flow_check(meter=electric, readings=night) == []


# --- who sees which meter -------------------------------------------------------------------


def link(user, account):
    AccountLink.objects.create(user=user, account=account, role="owner", method="staff")


def test_residents_see_only_their_meters(operator, make_user):
    mine, theirs = registry_factories.account(), registry_factories.account()
    resident = make_user()
    link(resident, mine)
    my_meter = factories.meter(account_=mine)
    other = factories.meter(account_=theirs)
    factories.meter(account_=mine, building_meter=True)
    assert list(selectors.meters_for_user(resident)) == [my_meter]
    assert selectors.meter_for_user(resident, my_meter.public_id) == my_meter
    with pytest.raises(Http404):
        selectors.meter_for_user(resident, other.public_id)
    with pytest.raises(Http404):
        selectors.meter_for_user(resident, "not-a-uuid")
    staff = make_user(role=roles.REVENUE_OFFICER)
    assert selectors.meter_for_user(staff, other.public_id) == other
    assert selectors.meters_for_user(staff).count() == 3


def test_consumption_by_month(operator):
    meter = factories.meter()
    submit(meter, "100", at(2026, 2, 10))
    submit(meter, "110", at(2026, 3, 10))
    submit(meter, "125", at(2026, 5, 10))
    uses = selectors.meter_consumption(meter, months=6)
    assert [u.period for u in uses] == [date(2026, m, 1) for m in range(1, 7)]
    assert [u.quantity for u in uses] == [None, None, Decimal("10"), None, Decimal("15"), None]
    account_uses = selectors.account_consumption(meter.account, months=3, resource="cold_water")
    assert [u.quantity for u in account_uses] == [None, Decimal("15"), None]
    assert selectors.account_resources(meter.account) == ["cold_water"]


# --- bad input never escapes as anything but a validation error -----------------------------

raw_values = st.one_of(
    st.text(max_size=30), st.integers(), st.decimals(), st.floats(), st.none(), st.lists(st.text())
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.dictionaries(st.sampled_from(["T", "T1", "T2", "x", ""]), raw_values, max_size=3),
    offset=st.integers(min_value=-(10**8), max_value=10**8),
)
def test_any_input_is_decided_or_refused_cleanly(operator, values, offset):
    meter = factories.meter(resource="electricity", rates="day_night")
    when = NOW + timedelta(seconds=offset)
    try:
        outcomes = services.readings_submit(
            meter=meter, values=values, taken_at=when, source="sms", keep_rejected=True
        )
    except ValidationError as exc:
        assert exc.message_dict
        assert not Reading.objects.filter(meter=meter).exists()
        return
    assert [o.register for o in outcomes] == ["T1", "T2"]
    assert all(o.message for o in outcomes)
    assert Reading.objects.filter(meter=meter).count() == 2
