"""Benchmark: SLA due times for N cases on realistic calendars (pure code, no database).

    .venv/bin/python bench/bench_sla.py [--cases 10000] [--budget-ms 1000]

Case creation times are spread over a year (seeded), in UTC as stored, at any hour (so many
arrive outside opening hours). For each calendar it times, best of five: 8 working days
(the outage-report default), 48 working hours, the SLA clock's due time with and without a
pause, and a full evaluation (state, elapsed, remaining). The floor is the same loop doing
``created + timedelta(days=8)``. Prints the time per N, cases/s and the ratio to the floor, and
fails when any measurement exceeds the budget (the case hot path targets >= 1,000 cases/s
including the database work, so the SLA part must stay far below 1 s per 10,000).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from civicdesk.cases.sla import OUTAGE_REPORT_RESOLUTION, SlaClock, SlaPolicy, Target  # noqa: E402
from civicdesk.core.calendars import calendar_for, parse_weekly  # noqa: E402


def calendars():
    return {
        "Tshwane (ZA, 16-19 / Sat 8-13)": calendar_for(
            "ZA",
            "Africa/Johannesburg",
            parse_weekly({"mon-fri": "16:00-19:00", "sat": "08:00-13:00"}),
        ),
        "Kyiv centres (UA, 8-21 / 9-17)": calendar_for(
            "UA", "Europe/Kyiv", parse_weekly({"mon-fri": "08:00-21:00", "sat-sun": "09:00-17:00"})
        ),
        "Stavropol call centre (RU, lunch)": calendar_for(
            "RU", "Europe/Moscow", parse_weekly({"mon-fri": "09:00-13:00, 14:00-18:00"})
        ),
    }


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--budget-ms", type=float, default=1000.0, help="per measurement")
    args = parser.parse_args()

    rng = random.Random(2026)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    created = [
        year_start + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(args.cases)
    ]
    pauses = [[(c + timedelta(days=1), c + timedelta(days=2, hours=3))] for c in created]
    eight_days, hours_48 = OUTAGE_REPORT_RESOLUTION, timedelta(hours=48)
    policy = SlaPolicy(first_response=Target(48, "working_hours"), resolution=eight_days)

    floor = best_of(5, lambda: [c + timedelta(days=8) for c in created])
    print(f"{args.cases} cases; floor (created + 8 days): {floor * 1000:.2f} ms")
    failed = False
    for name, calendar in calendars().items():
        clock = SlaClock(policy, calendar)
        started = time.perf_counter()
        for c in created:  # cold: builds the calendar's years on first use
            calendar.add_working_days(c, 8)
        cold = time.perf_counter() - started
        measures = {
            "8 working days": lambda cal=calendar: [cal.add_working_days(c, 8) for c in created],
            "48 working hours": lambda cal=calendar: [
                cal.add_working_time(c, hours_48) for c in created
            ],
            "clock.due 8 wd": lambda clock=clock: [clock.due(eight_days, c) for c in created],
            "clock.due 8 wd + pause": lambda clock=clock: [
                clock.due(eight_days, c, p) for c, p in zip(created, pauses, strict=True)
            ],
            "clock.evaluate 8 wd + pause": lambda clock=clock: [
                clock.evaluate(c + timedelta(days=5), eight_days, c, p)
                for c, p in zip(created, pauses, strict=True)
            ],
        }
        print(f"== {name}  (first pass, building years: {cold * 1000:.1f} ms)")
        for label, fn in measures.items():
            seconds = best_of(5, fn)
            failed |= seconds * 1000 > args.budget_ms
            print(
                f"  {label:30} {seconds * 1000:8.1f} ms  {args.cases / seconds:>11,.0f} cases/s"
                f"  x{seconds / floor:5.0f} floor"
            )
    if failed:
        print(f"FAIL: a measurement exceeded {args.budget_ms:.0f} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
