"""`services.readings_submit_many`: several meters' readings in one set-based transaction (one
SMS names an account's meters), deciding exactly what one `readings_submit` per meter would;
and the SMS handler that uses it, in a fixed number of SQL statements per message."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

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
from civicdesk.registry.tests import factories as registry

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Africa/Johannesburg")
NOW = datetime(2026, 6, 20, 12, 0, tzinfo=ZONE)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(year, month, day, hour=10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE)


def household():
    """An account with a cold-water meter, a day/night electricity meter and a gas meter."""
    account = registry.account()
    return [
        factories.meter(account_=account, resource="cold_water"),
        factories.meter(account_=account, resource="electricity", rates="day_night"),
        factories.meter(account_=account, resource="gas"),
    ]


def stored(meter) -> list[tuple]:
    return [
        (r.register, r.value, r.period, r.consumption, r.status, r.reasons, r.source)
        for r in Reading.objects.filter(meter=meter).order_by("taken_at", "register", "pk")
    ]


def state(meter) -> list[tuple]:
    return [
        (
            r.register,
            r.last_value,
            r.last_taken_at,
            r.last_period,
            r.last_real_value,
            r.last_real_taken_at,
            r.estimated_periods,
            r.estimated_quantity,
            r.recent,
        )
        for r in MeterRegister.objects.filter(meter=meter).order_by("register")
    ]


def summary(outcomes) -> list[tuple]:
    return [(o.register, o.verdict, o.message, o.reading is not None) for o in outcomes]


# --- the same decisions as one meter at a time ----------------------------------------------

VALUE = st.one_of(
    st.integers(min_value=0, max_value=99_999).map(str),
    st.sampled_from(["", "abc", "-5", "1e3", "100000", "12.5", "12,5"]),
)


@given(
    rounds=st.lists(
        st.tuples(st.integers(min_value=1, max_value=40), st.lists(VALUE, min_size=4, max_size=4)),
        min_size=1,
        max_size=4,
    )
)
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_a_batch_decides_and_stores_what_one_meter_at_a_time_would(operator, rounds):
    one_by_one, together = household(), household()
    taken_at = at(2026, 1, 5)
    for days, (water, day, night, gas) in rounds:
        taken_at += timedelta(days=days)
        values = [{"T": water}, {"T1": day, "T2": night}, {"T": gas}]
        expected, got = [], []
        for meter, given_values in zip(one_by_one, values, strict=True):
            try:
                expected.append(
                    summary(
                        services.readings_submit(
                            meter=meter,
                            values=given_values,
                            taken_at=taken_at,
                            source="sms",
                            keep_rejected=True,
                        )
                    )
                )
            except ValidationError as exc:
                expected.append(exc.message_dict)
        try:
            got = [
                summary(outcomes)
                for outcomes in services.readings_submit_many(
                    items=list(zip(together, values, strict=True)),
                    taken_at=taken_at,
                    source="sms",
                    keep_rejected=True,
                )
            ]
        except ValidationError as exc:
            # Nothing written for any meter; one at a time refuses the same item.
            assert exc.message_dict in expected
            for meter, given_values in zip(together, values, strict=True):
                with contextlib.suppress(ValidationError):
                    services.readings_submit(
                        meter=meter,
                        values=given_values,
                        taken_at=taken_at,
                        source="sms",
                        keep_rejected=True,
                    )
            got = expected
        assert got == expected
    for alone, batched in zip(one_by_one, together, strict=True):
        assert stored(alone) == stored(batched)
        assert state(alone) == state(batched)


def test_the_outcomes_are_in_the_items_order_with_saved_readings(operator):
    water, power, gas = household()

    outcomes = services.readings_submit_many(
        items=[(gas, {"T": "15"}), (water, {"T": "11"}), (power, {"T1": "1234", "T2": "567"})],
        taken_at=at(2026, 6, 10),
        source="sms",
    )

    assert [[o.register for o in group] for group in outcomes] == [["T"], ["T"], ["T1", "T2"]]
    assert [group[0].reading.meter for group in outcomes] == [gas, water, power]
    assert all(o.reading.pk and o.message == "Accepted." for group in outcomes for o in group)
    assert Reading.objects.filter(status="accepted").count() == 4
    assert services.readings_submit_many(items=[], source="sms") == []


# --- all or nothing -------------------------------------------------------------------------


def test_a_rejection_without_keep_rejected_writes_nothing(operator):
    water, power, _gas = household()
    services.readings_submit(
        meter=water, values={"T": "100"}, taken_at=at(2026, 5, 10), source="api"
    )
    before = state(water), state(power)

    with pytest.raises(services.ReadingsRejected) as caught:
        services.readings_submit_many(
            items=[(power, {"T1": "10", "T2": "5"}), (water, {"T": "90"})],  # water went down
            taken_at=at(2026, 6, 10),
            source="api",
        )

    assert [[o.ok for o in group] for group in caught.value.groups] == [[True, True], [False]]
    assert [o.register for o in caught.value.outcomes] == ["T1", "T2", "T"]
    assert validation.LOWER_THAN_PREVIOUS in caught.value.groups[1][0].verdict.reasons
    assert Reading.objects.count() == 1
    assert (state(water), state(power)) == before


def test_with_keep_rejected_the_rejected_ones_are_stored_with_their_reasons(operator):
    water, power, _gas = household()
    services.readings_submit(
        meter=water, values={"T": "100"}, taken_at=at(2026, 5, 10), source="sms"
    )

    [[day, night], [lower]] = services.readings_submit_many(
        items=[(power, {"T1": "10", "T2": "5"}), (water, {"T": "90"})],
        taken_at=at(2026, 6, 10),
        source="sms",
        keep_rejected=True,
    )

    assert (day.status, night.status, lower.status) == ("accepted", "accepted", "rejected")
    assert lower.reading.reasons == validation.LOWER_THAN_PREVIOUS
    assert MeterRegister.objects.get(meter=water).last_value == Decimal("100")


def test_an_items_bad_values_refuse_the_whole_batch_before_anything_is_written(operator):
    water, power, _gas = household()

    with pytest.raises(ValidationError) as caught:
        services.readings_submit_many(
            items=[(water, {"T": "11"}), (power, {"T1": "10"})],
            taken_at=at(2026, 6, 10),
            source="sms",
        )

    assert list(caught.value.message_dict) == ["T2"]
    assert not Reading.objects.exists()


def test_a_meter_that_is_gone_refuses_the_batch(operator):
    water, *_ = household()
    ghost = Meter(pk=10**9, rates="single")

    with pytest.raises(Meter.DoesNotExist):
        services.readings_submit_many(
            items=[(water, {"T": "11"}), (ghost, {"T": "1"})], source="sms", keep_rejected=True
        )
    assert not Reading.objects.exists()


def test_a_meter_named_twice_is_checked_the_second_time_against_the_first(operator):
    water, *_ = household()

    [[first], [second], [third]] = services.readings_submit_many(
        items=[(water, {"T": "11"}), (water, {"T": "11"}), (water, {"T": "15"})],
        taken_at=at(2026, 6, 10),
        source="staff",
        keep_rejected=True,
    )

    assert first.status == "accepted"
    assert (second.status, second.verdict.reasons) == ("rejected", (validation.DUPLICATE,))
    assert (third.status, third.reading.consumption) == ("accepted", Decimal("4"))
    assert MeterRegister.objects.get(meter=water).last_value == Decimal("15")


def test_a_photo_goes_with_every_reading_of_the_batch(operator, settings, tmp_path):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    photo = SimpleUploadedFile("dial.png", buffer.getvalue(), content_type="image/png")
    water, power, _gas = household()

    outcomes = services.readings_submit_many(
        items=[(water, {"T": "11"}), (power, {"T1": "1", "T2": "2"})],
        taken_at=at(2026, 6, 10),
        source="portal",
        photo=photo,
    )

    names = {o.reading.photo.name for group in outcomes for o in group}
    assert len(names) == 1 and names.pop().endswith(".png")
    assert len(list(tmp_path.rglob("*.png"))) == 1


# --- what follows an accepted reading -------------------------------------------------------


def test_true_ups_and_alerts_in_a_batch(operator):
    settings_row = selectors.metering_settings()
    MeteringSettings.objects.filter(pk=settings_row.pk).update(spike_factor=Decimal("100"))
    water, _power, gas = household()
    for month, value in enumerate(["100", "110", "120", "130"], start=1):
        services.readings_submit_many(
            items=[(water, {"T": value}), (gas, {"T": value})],
            taken_at=at(2026, month, 10),
            source="sms",
        )
    assert services.estimates_generate(period=date(2026, 5, 1)) == 2

    [[water_june], [gas_june]] = services.readings_submit_many(
        items=[(water, {"T": "136"}), (gas, {"T": "400"})],
        taken_at=at(2026, 6, 10),
        source="sms",
    )

    assert water_june.reading.consumption == Decimal("-4")
    true_ups = {t.meter_id: t for t in EstimateTrueUp.objects.all()}
    assert set(true_ups) == {water.pk, gas.pk}
    assert true_ups[water.pk].reading == water_june.reading
    assert (true_ups[water.pk].actual, true_ups[water.pk].difference) == (
        Decimal("6"),
        Decimal("-4"),
    )
    alert = ConsumptionAlert.objects.get()
    assert (alert.meter, alert.kind, alert.reading) == (gas, "high_use", gas_june.reading)
    assert MeterRegister.objects.get(meter=gas).estimated_periods == 0


def test_the_statements_do_not_grow_with_the_meters(operator):
    small = household()[:1]
    large = household() + household()
    for meters in (small, large):  # the register rows exist after the first reading
        services.readings_submit_many(
            items=[(m, dict.fromkeys(m.registers, "1")) for m in meters],
            taken_at=at(2026, 5, 10),
            source="sms",
        )

    counts = []
    for meters in (small, large):
        with CaptureQueriesContext(connection) as queries:
            services.readings_submit_many(
                items=[(m, dict.fromkeys(m.registers, "5")) for m in meters],
                taken_at=at(2026, 6, 10),
                source="sms",
            )
        counts.append(len(queries))

    # Savepoint, lock, registers, readings, registers' update, release.
    assert counts == [6, 6]


# --- the SMS handler ------------------------------------------------------------------------

HOLDER = "+27821234567"


@pytest.fixture
def home(operator):
    account = registry.account(holder_phone=HOLDER)
    return account, household_on(account)


def household_on(account):
    return [
        factories.meter(account_=account, resource="cold_water", serial="A-1"),
        factories.meter(account_=account, resource="hot_water", serial="A-2"),
        factories.meter(account_=account, resource="electricity", rates="day_night"),
        factories.meter(account_=account, resource="gas"),
    ]


def sms(text):
    from civicdesk.notifications.services import inbound_sms_receive

    return inbound_sms_receive(provider="test", sender=HOLDER, text=text)


def test_an_sms_for_four_meters_takes_a_fixed_number_of_statements(home):
    account, _meters = home
    sms(f"{account.number} CW 11 HW 12 EL 1234 567 G 15")  # the first: register rows made

    with CaptureQueriesContext(connection) as queries:
        row = sms(f"{account.number} CW 21 HW 22 EL 1244 577 G 25")

    assert row.reply == (
        f"Account {account.number}: Cold water 21 accepted. Hot water 22 accepted. "
        "Electricity 1244/577 accepted. Gas 25 accepted."
    )
    # The user by phone; the account with its meters and the sender check; the batch: lock,
    # registers, readings, registers' update; the log row; and the savepoints of
    # inbound_sms_receive (here inside the test's transaction), the dispatcher and the batch,
    # each with its release. One meter at a time it was 43.
    assert len(queries) == 13, [q["sql"][:60] for q in queries]
    assert Reading.objects.filter(status="accepted").count() == 10


def test_an_sms_falls_back_to_one_meter_at_a_time_when_the_batch_refuses(home, monkeypatch):
    account, _meters = home

    def refuse(**kwargs):
        raise ValidationError({"T": "refused"})

    monkeypatch.setattr(services, "readings_submit_many", refuse)

    reply = sms(f"{account.number} CW 11 G 15").reply

    assert reply == f"Account {account.number}: Cold water 11 accepted. Gas 15 accepted."
    assert Reading.objects.filter(status="accepted").count() == 2
