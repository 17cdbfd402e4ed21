"""Register state: how it moves with readings and estimates, and the recent-months list."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from civicdesk.metering import state
from civicdesk.metering.validation import RegisterState

T1 = datetime(2026, 5, 18, tzinfo=UTC)
T2 = datetime(2026, 6, 18, tzinfo=UTC)


def test_real_reading_sets_both_values_and_clears_estimates():
    before = RegisterState(
        last_value=Decimal("130"),
        last_taken_at=T1,
        last_real_value=Decimal("100"),
        estimated_periods=2,
        estimated_quantity=Decimal("30"),
    )
    after = state.state_after(
        before, value=Decimal("125"), taken_at=T2, consumption=Decimal("-5"), estimate=False
    )
    assert after.last_value == after.last_real_value == Decimal("125")
    assert after.last_taken_at == after.last_real_taken_at == T2
    assert after.estimated_periods == 0 and after.estimated_quantity == 0


def test_estimate_keeps_the_real_value_and_counts():
    before = RegisterState(last_value=Decimal("100"), last_real_value=Decimal("100"))
    after = state.state_after(
        before, value=Decimal("115"), taken_at=T2, consumption=Decimal("15"), estimate=True
    )
    again = state.state_after(
        after, value=Decimal("130"), taken_at=T2, consumption=Decimal("15"), estimate=True
    )
    assert again.last_value == Decimal("130") and again.last_real_value == Decimal("100")
    assert again.estimated_periods == 2 and again.estimated_quantity == Decimal("30")


def test_recent_add_sums_a_month_and_keeps_twelve():
    recent = ()
    for month in range(1, 15):
        recent = state.recent_add(
            recent, date(2025 + month // 13, (month - 1) % 12 + 1, 1), Decimal(month)
        )
    assert len(recent) == 12 and recent[0][0] == "2025-03" and recent[-1][0] == "2026-02"
    recent = state.recent_add(recent, date(2026, 2, 1), Decimal("0.5"))
    assert recent[-1] == ("2026-02", Decimal("14.5"))


def test_recent_round_trips_through_json():
    recent = (("2026-04", Decimal("1.250")), ("2026-05", Decimal("3")))
    raw = state.recent_to_json(recent)
    assert raw == [["2026-04", "1.250"], ["2026-05", "3"]]
    assert state.recent_from_json(raw) == recent
    assert state.recent_values(recent) == (Decimal("1.250"), Decimal("3"))
    assert state.recent_from_json(None) == ()


months = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)).map(
    lambda d: d.replace(day=1)
)
uses = st.decimals(min_value=0, max_value=10**6, places=3)


@given(st.lists(st.tuples(months, uses), max_size=40))
def test_recent_is_sorted_unique_and_short(items):
    recent = ()
    for month, use in items:
        recent = state.recent_add(recent, month, use)
    keys = [k for k, _v in recent]
    assert keys == sorted(set(keys)) and len(keys) <= state.RECENT_MONTHS
    latest = sorted({m.strftime("%Y-%m") for m, _u in items})[-state.RECENT_MONTHS :]
    assert keys == latest
    for key, value in recent:
        assert value == sum((u for m, u in items if m.strftime("%Y-%m") == key), Decimal(0))
