"""Estimating a period's missing readings in bulk: what is estimated, what is left alone, and
that a second run changes nothing (on SQLite, and concurrently on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections

from civicdesk.metering import selectors, services, tasks, validation
from civicdesk.metering.models import MeteringSettings, MeterRegister, Reading
from civicdesk.metering.tests import factories

ZONE = ZoneInfo("Africa/Johannesburg")
NOW = datetime(2026, 9, 20, 12, 0, tzinfo=ZONE)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def at(year, month, day=10) -> datetime:
    return datetime(year, month, day, 10, tzinfo=ZONE)


def read(meter, value, when, **values):
    values = values or {"T": value}
    return services.readings_submit(meter=meter, values=values, taken_at=when, source="portal")


def with_history(meter=None, values=("100", "110", "122", "131"), **kwargs):
    meter = meter or factories.meter(**kwargs)
    for month, value in enumerate(values, start=3):
        read(meter, value, at(2026, month))
    return meter  # readings March..June: use 10, 12, 9


def row(meter, register="T") -> MeterRegister:
    return MeterRegister.objects.get(meter=meter, register=register)


def estimates(meter=None):
    found = Reading.objects.filter(source="estimate")
    return found.filter(meter=meter) if meter is not None else found


@pytest.mark.django_db
def test_average_estimate_and_its_register_state(operator):
    meter = with_history()
    assert services.estimates_generate(period=date(2026, 7, 1)) == 1
    estimate = estimates().get()
    # ZA: the average of the last three months (10, 12, 9) = 10.333
    assert estimate.value == Decimal("141.333") and estimate.consumption == Decimal("10.333")
    assert estimate.status == "accepted" and estimate.period == date(2026, 7, 1)
    assert estimate.reasons == validation.ESTIMATED_AVERAGE
    assert estimate.taken_at == datetime(2026, 7, 31, 23, 59, 59, tzinfo=ZONE)
    state = row(meter)
    assert state.last_value == Decimal("141.333") and state.last_real_value == Decimal("131")
    assert state.estimated_periods == 1 and state.estimated_quantity == Decimal("10.333")
    assert state.last_period == date(2026, 7, 1)
    assert state.recent[-1] == ["2026-07", "10.333"]
    uses = selectors.meter_consumption(meter, months=2, until=date(2026, 7, 1))
    assert uses[-1].estimated and uses[-1].quantity == Decimal("10.333")


@pytest.mark.django_db
def test_second_run_changes_nothing(operator):
    meter = with_history()
    services.estimates_generate(period=date(2026, 7, 1))
    before = list(MeterRegister.objects.values())
    assert services.estimates_generate(period=date(2026, 7, 1)) == 0
    assert services.estimates_generate(period=date(2026, 6, 1)) == 0  # has a reading
    assert services.estimates_generate(period=date(2026, 5, 1)) == 0  # before the last value
    assert list(MeterRegister.objects.values()) == before
    assert estimates(meter).count() == 1


@pytest.mark.django_db
def test_consecutive_estimates_use_real_months_then_the_norm(operator):
    settings = selectors.metering_settings()
    MeteringSettings.objects.filter(pk=settings.pk).update(
        estimate_max_periods=2, norms={"cold_water": {"per_occupant": "6.935"}}
    )
    meter = with_history()  # premises with 2 occupants
    for month in (7, 8, 9):
        services.estimates_generate(period=date(2026, month, 1))
    found = list(estimates(meter).order_by("period"))
    assert [e.consumption for e in found] == [
        Decimal("10.333"),
        Decimal("10.333"),
        Decimal("13.870"),
    ]
    assert [e.reasons for e in found] == ["estimated_average"] * 2 + ["estimated_norm"]
    assert row(meter).estimated_periods == 3


@pytest.mark.django_db
def test_true_up_spans_the_estimated_run(operator):
    from civicdesk.metering.models import EstimateTrueUp

    meter = with_history()
    services.estimates_generate(period=date(2026, 7, 1))
    services.estimates_generate(period=date(2026, 8, 1))
    [outcome] = read(meter, "150", at(2026, 9, 5))
    true_up = EstimateTrueUp.objects.get()
    assert (true_up.first_period, true_up.last_period) == (date(2026, 7, 1), date(2026, 8, 1))
    assert true_up.estimated == Decimal("20.666") and true_up.actual == Decimal("19")
    assert outcome.reading.consumption == Decimal("-1.666")


@pytest.mark.django_db
def test_left_alone(operator):
    fresh = factories.meter()  # no reading ever: nothing to estimate from
    flagged = with_history()
    read(flagged, "300", at(2026, 7, 12))  # a spike, waiting for review
    removed = with_history(status="active")
    removed.status = "removed"
    removed.save()
    later = factories.meter(installed_on=date(2026, 8, 1))
    assert services.estimates_generate(period=date(2026, 7, 1)) == 0
    assert not MeterRegister.objects.filter(meter=fresh, last_value__isnull=False).exists()
    assert not estimates(later).exists()


@pytest.mark.django_db
def test_only_the_given_meters(operator):
    one, two = with_history(), with_history()
    assert services.estimates_generate(period=date(2026, 7, 1), meters=[one]) == 1
    assert estimates(one).exists() and not estimates(two).exists()
    assert services.estimates_generate(period=date(2026, 7, 1), meters=[two.pk]) == 1


@pytest.mark.django_db
def test_every_register_and_the_multiplier(operator):
    meter = factories.meter(resource="electricity", rates="day_night", multiplier="10")
    for month, (day, night) in enumerate([("1", "1"), ("2", "1.5"), ("3", "2")], start=4):
        read(meter, None, at(2026, month), T1=day, T2=night)
    services.estimates_generate(period=date(2026, 7, 1))
    by_register = {e.register: e for e in estimates(meter)}
    assert by_register["T1"].consumption == Decimal("10") and by_register["T1"].value == 4
    assert by_register["T2"].consumption == Decimal("5") and by_register["T2"].value == Decimal(
        "2.5"
    )


@pytest.mark.django_db
def test_estimate_goes_round_the_dial(operator):
    meter = with_history(values=("9970", "9980", "9990"), digits=4)
    services.estimates_generate(period=date(2026, 6, 1))
    estimate = estimates(meter).get()
    assert estimate.value == Decimal("0") and estimate.rolled_over
    [outcome] = read(meter, "3", at(2026, 7, 5))
    assert outcome.verdict.status == "accepted" and outcome.reading.consumption == Decimal("3")


@pytest.mark.django_db
def test_window_end_dates_the_estimate(operator):
    settings = selectors.metering_settings()
    MeteringSettings.objects.filter(pk=settings.pk).update(window_start_day=15, window_end_day=25)
    with_history()
    services.estimates_generate(period=date(2026, 7, 1))
    assert estimates().get().taken_at == datetime(2026, 7, 25, 23, 59, 59, tzinfo=ZONE)


@pytest.mark.django_db
def test_last_closed_period(operator):
    settings = selectors.metering_settings()
    assert services.last_closed_period() == date(2026, 8, 1)  # ZA: the window is the month
    MeteringSettings.objects.filter(pk=settings.pk).update(window_end_day=15)
    assert services.last_closed_period() == date(2026, 9, 1)
    assert services.last_closed_period(NOW - timedelta(days=10)) == date(2026, 8, 1)


@pytest.mark.django_db
def test_command_and_task(operator):
    with_history()
    out, err = StringIO(), StringIO()
    call_command("estimate_readings", "--period", "2026-07", stdout=out, stderr=err)
    assert "1 readings estimated for 2026-07" in out.getvalue()
    assert "meters" in err.getvalue()  # the progress bar
    with pytest.raises(CommandError):
        call_command("estimate_readings", "--period", "July")
    assert tasks.estimates_generate_task.delay().get() == 1  # August, the last closed period
    assert tasks.estimates_generate_task.delay("2026-08-01").get() == 0


@pytest.mark.django_db
def test_many_meters_in_few_queries(operator, django_assert_max_num_queries):
    meters = [with_history() for _ in range(12)]
    with django_assert_max_num_queries(20):
        assert services.estimates_generate(period=date(2026, 7, 1)) == len(meters)


# --- PostgreSQL: two runs at once -----------------------------------------------------------


@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks across connections need PostgreSQL (set DATABASE_URL)",
)
def test_concurrent_runs_estimate_once(operator):
    meters = [with_history() for _ in range(5)]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(index):
        try:
            barrier.wait()
            results[index] = services.estimates_generate(period=date(2026, 7, 1))
        except Exception as exc:  # the outcome is the exception
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, len(meters)]
    assert estimates().count() == len(meters)
    assert all(row(m).estimated_periods == 1 for m in meters)
