"""Benchmark: creating, routing and computing the SLA dues of many cases.

    .venv/bin/python bench/bench_cases.py [--cases 10000] [--single 500]
        [--profile bulk|single [--sort tottime|cumtime]]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicdesk_bench .venv/bin/python bench/...

Sets up a fresh database (an SQLite file in a temporary directory, or a new PostgreSQL database
next to the one DATABASE_URL names, dropped afterwards) with an operator, 50 territories
(5 districts of 9 areas), 20 categories (some nested, with intake questions) whose SLA targets
are in working hours and working days, 5 teams of 4 members (round robin and least loaded),
30 routing rules by category and territory, and 200 residents. Then creates N cases through
services.cases_create_bulk (validation, intake answers, territory, routing and assignment, SLA
due times on the operator's business calendar, references, the created/routed timeline events,
the requester's notification rows) and, for comparison, a few hundred through
services.case_create one at a time, each in its own transaction as an API request would.

The floor is measured on the same database in the same run: as many case rows and event rows
as the bulk path wrote, inserted into two plain tables of the same width with executemany
(SQLite) or COPY (PostgreSQL). Prints cases/s for each path and the ratio of its time to the
floor's. Each case notifies its requester: the message is rendered and stored as a delivery
row in the case's transaction, and its task put on the broker after the commit (an in-memory
broker here, standing in for Redis). Both parts are in the figures and also shown apart
("without notifying"); sending the messages is a worker's job and is in neither. DEBUG is off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _support import postgres_scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DISTRICTS = 5
AREAS_PER_DISTRICT = 9  # 5 districts + 45 areas = 50 territories
CATEGORIES = 20
TEAMS = 5
MEMBERS_PER_TEAM = 4
RULES = 30
RESIDENTS = 200
CHANNELS = ("portal", "api", "phone", "email", "walk_in")
TARGETS = (
    ((4, "working_hours"), (2, "working_days")),
    ((8, "working_hours"), (5, "working_days")),
    ((1, "working_days"), (10, "working_days")),
    ((2, "working_hours"), (16, "working_hours")),
)
QUESTIONS = [
    {"key": "since", "type": "date", "label": {"en": "Since when?"}, "required": True},
    {"key": "floor", "type": "number", "label": {"en": "Which floor?"}},
    {
        "key": "kind",
        "type": "choice",
        "label": {"en": "What kind?"},
        "choices": ["cold", "hot", "both"],
        "required": True,
    },
    {"key": "urgent", "type": "boolean", "label": {"en": "Is anyone at risk?"}},
]


# --- set-up ---------------------------------------------------------------------------------


def setup(rng: random.Random):
    """The operator and the case configuration; returns (categories, territories, residents)."""
    from django.contrib.auth.hashers import make_password

    from civicdesk.cases.models import Category, RoutingRule, Team
    from civicdesk.identity.models import User
    from civicdesk.registry.models import Operator, Territory

    Operator.objects.create(
        name="Bench Metro",
        jurisdiction="ZA",
        currency="ZAR",
        timezone="Africa/Johannesburg",
        enabled_languages=["en"],
    )
    territories = []
    for d in range(DISTRICTS):
        district = Territory.objects.create(code=f"d{d}", name=f"District {d}", kind="district")
        territories.append(district)
        for a in range(AREAS_PER_DISTRICT):
            territories.append(
                Territory.objects.create(
                    code=f"d{d}a{a}", name=f"Area {d}.{a}", kind="area", parent=district
                )
            )
    categories = []
    for c in range(CATEGORIES):
        first, resolution = TARGETS[c % len(TARGETS)]
        categories.append(
            Category.objects.create(
                code=f"cat{c}",
                kind="complaint" if c % 2 else "enquiry",
                parent=categories[c - 10] if c >= 10 else None,
                names={"en": f"Category {c}", "af": f"Kategorie {c}"},
                questions=QUESTIONS if c % 3 == 0 else [],
                first_response_amount=first[0],
                first_response_unit=first[1],
                resolution_amount=resolution[0],
                resolution_unit=resolution[1],
            )
        )
    unusable = make_password(None)
    staff = User.objects.bulk_create(
        User(
            email=f"agent{i}@bench.example",
            full_name=f"Agent {i}",
            is_staff=True,
            password=unusable,
        )
        for i in range(TEAMS * MEMBERS_PER_TEAM)
    )
    teams = []
    for t in range(TEAMS):
        team = Team.objects.create(
            code=f"team{t}",
            name=f"Team {t}",
            strategy="least_loaded" if t % 2 else "round_robin",
        )
        team.members.set(staff[t * MEMBERS_PER_TEAM : (t + 1) * MEMBERS_PER_TEAM])
        teams.append(team)
    districts = [t for t in territories if t.parent_id is None]
    areas = [t for t in territories if t.parent_id is not None]
    for r in range(RULES):
        # Specific rules first (category and area), then by category or district, then a fallback.
        if r < 15:
            category, territory = categories[r % CATEGORIES], areas[(r * 7) % len(areas)]
        elif r < 25:
            category, territory = categories[r % 10], districts[r % DISTRICTS]
        elif r < RULES - 1:
            category, territory = None, districts[r % DISTRICTS]
        else:
            category, territory = None, None
        RoutingRule.objects.create(
            order=(r + 1) * 10,
            category=category,
            territory=territory,
            team=teams[r % TEAMS],
        )
    residents = User.objects.bulk_create(
        User(
            email=f"resident{i}@bench.example",
            full_name=f"Resident {i}",
            preferred_language=rng.choice(("en", "af")),
            password=unusable,
        )
        for i in range(RESIDENTS)
    )
    return categories, territories, residents


def intakes(n: int, rng: random.Random, categories, territories, residents) -> list:
    from civicdesk.cases.services import Intake

    out = []
    for i in range(n):
        category = rng.choice(categories)
        answers = (
            {
                "since": f"2026-03-{rng.randint(1, 28):02d}",
                "floor": str(rng.randint(0, 12)),
                "kind": rng.choice(("cold", "hot", "both")),
                "urgent": rng.choice(("yes", "no")),
            }
            if category.questions
            else {}
        )
        out.append(
            Intake(
                category=category,
                channel=rng.choice(CHANNELS),
                subject=f"Report {i}: no water pressure",
                description="Since this morning the pressure is low on every floor.",
                requester=rng.choice(residents),
                answers=answers,
                territory=rng.choice(territories),
            )
        )
    return out


# --- the floor ------------------------------------------------------------------------------

CASE_COLUMNS = (
    "id varchar(36) PRIMARY KEY, reference varchar(20), category_id bigint, channel varchar(10), "
    "requester_id bigint, contact_name varchar(150), contact_email varchar(254), "
    "contact_phone varchar(32), subject varchar(200), description text, answers text, "
    "territory_id bigint, priority varchar(10), status varchar(20), team_id bigint, "
    "assignee_id bigint, created_at timestamp, updated_at timestamp, "
    "first_response_due timestamp, resolution_due timestamp, pauses text, sla_state varchar(10)"
)
EVENT_COLUMNS = (
    "id bigint PRIMARY KEY, case_id varchar(36), kind varchar(20), actor_id bigint, "
    "public boolean, text text, data text, created_at timestamp"
)


def raw_floor(cases: int, events: int, postgres: bool) -> float:
    """Seconds to insert `cases` case-wide rows and `events` event-wide rows into plain tables,
    the fastest way there is on this database."""
    from django.db import connection, transaction

    now = dt.datetime(2026, 3, 3, 8, 0)
    answers = json.dumps({"since": "2026-03-01", "kind": "cold"})
    case_rows = [
        (
            str(uuid.uuid4()),
            f"C-2026-{i:06d}",
            i % CATEGORIES,
            "portal",
            i % RESIDENTS,
            f"Resident {i % RESIDENTS}",
            f"resident{i % RESIDENTS}@bench.example",
            "",
            f"Report {i}: no water pressure",
            "Since this morning the pressure is low on every floor.",
            answers,
            i % 50,
            "normal",
            "assigned",
            i % TEAMS,
            i % 20,
            now,
            now,
            now + dt.timedelta(hours=4),
            now + dt.timedelta(days=2),
            "[]",
            "ok",
        )
        for i in range(cases)
    ]
    event_rows = [
        (
            i,
            case_rows[i % cases][0],
            "created",
            i % RESIDENTS,
            True,
            f"Report {i}",
            json.dumps({"channel": "portal"}),
            now,
        )
        for i in range(events)
    ]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_case_floor")
        cursor.execute("DROP TABLE IF EXISTS bench_event_floor")
        cursor.execute(f"CREATE TABLE bench_case_floor ({CASE_COLUMNS})")
        cursor.execute(f"CREATE TABLE bench_event_floor ({EVENT_COLUMNS})")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            with cursor.copy("COPY bench_case_floor FROM STDIN") as copy:
                for row in case_rows:
                    copy.write_row(row)
            with cursor.copy("COPY bench_event_floor FROM STDIN") as copy:
                for row in event_rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO bench_case_floor VALUES ({', '.join(['%s'] * 22)})", case_rows
            )
            cursor.executemany(
                f"INSERT INTO bench_event_floor VALUES ({', '.join(['%s'] * 8)})", event_rows
            )
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_case_floor")
        cursor.execute("DROP TABLE bench_event_floor")
    return seconds


# --- running it -----------------------------------------------------------------------------


def _postgres_database(url: str) -> tuple[str, str, str]:
    return postgres_scratch_database(url, "civicdesk_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=500, help="cases created one at a time")
    parser.add_argument("--profile", choices=("bulk", "single"), help="profile one path (cProfile)")
    parser.add_argument("--sort", default="tottime", help="profile order (tottime, cumtime)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="civicdesk-bench-cases-"))
    given = os.environ.get("DATABASE_URL", "")
    postgres = given.startswith(("postgres://", "postgresql://"))
    drop = None
    if postgres:
        os.environ["DATABASE_URL"], admin, name = _postgres_database(given)
        drop = (admin, name)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicdesk.config.settings"
    os.environ.setdefault("CIVICDESK_ENV", "development")
    # Notifications are queued (a delivery row, then a task on the broker after the commit);
    # sending them is a worker's job: an in-memory broker stands in for Redis.
    os.environ["CELERY_BROKER_URL"] = "memory://localhost/"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query's SQL: not what production measures
    try:
        run(args, postgres)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if drop is not None:
            import psycopg
            from django.db import connections

            connections.close_all()
            with psycopg.connect(drop[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{drop[1]}"')


def run(args, postgres: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from civicdesk.cases import services
    from civicdesk.cases.models import Case, CaseEvent
    from civicdesk.notifications.models import Delivery
    from civicdesk.notifications.tasks import deliver

    call_command("migrate", verbosity=0)
    rng = random.Random(2026)
    categories, territories, residents = setup(rng)
    bulk_intakes = intakes(args.cases, rng, categories, territories, residents)
    single_intakes = intakes(args.single, rng, categories, territories, residents)
    # Warm the operator's calendar (its holidays are built once per process and cached).
    from civicdesk.cases import sla_policy

    sla_policy.operator_calendar()

    # Notifying the requesters is part of creating a case; it is timed apart, in two parts:
    # rendering and storing each delivery in the case's transaction (services._notify), and
    # putting each delivery's task on the broker after the commit (deliver.delay).
    clocks = {"notify": 0.0, "publish": 0.0}

    def timed(name, function):
        def run(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                clocks[name] += time.perf_counter() - began

        return run

    services._notify = timed("notify", services._notify)
    deliver.delay = timed("publish", deliver.delay)

    def measure(path: str, run) -> tuple[float, float, float]:
        """(seconds, of which notifying, of which publishing) of one path."""
        clocks.update(notify=0.0, publish=0.0)
        started = time.perf_counter()
        if args.profile == path:
            import cProfile
            import pstats

            with cProfile.Profile() as profiler:
                run()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(40)
        else:
            run()
        return time.perf_counter() - started, clocks["notify"], clocks["publish"]

    bulk = measure("bulk", lambda: services.cases_create_bulk(bulk_intakes))
    events = CaseEvent.objects.count()
    assert Case.objects.count() == args.cases
    routed = Case.objects.exclude(team=None).count()
    due = Case.objects.exclude(resolution_due=None).count()
    deliveries = Delivery.objects.count()

    def one_at_a_time():
        for intake in single_intakes:
            services.case_create(intake)  # its own transaction, as an API request

    single = measure("single", one_at_a_time)

    floor = raw_floor(args.cases, events, postgres)
    engine = "PostgreSQL" if postgres else "SQLite (WAL)"
    n = args.cases
    print(f"cases on {engine}: {n:,} created in bulk, {args.single:,} one at a time")
    print(
        f"  {len(categories)} categories, {len(territories)} territories, {TEAMS} teams, "
        f"{RULES} routing rules; {routed:,} of {n:,} routed, {due:,} with SLA dues, "
        f"{events:,} events, {deliveries:,} notifications queued"
    )
    for name, count, (seconds, notifying, publishing) in (
        ("bulk", n, bulk),
        ("single", args.single, single),
    ):
        rest = seconds - notifying - publishing
        print(
            f"  {name + ':':8}{seconds:7.2f} s  {count / seconds:7,.0f} cases/s  "
            f"{seconds / count / (floor / n):6.0f}x floor;  without notifying: "
            f"{count / rest:7,.0f} cases/s  {rest / count / (floor / n):5.0f}x floor  "
            f"(rendering and storing notifications {notifying:.2f} s, "
            f"publishing their tasks {publishing:.2f} s)"
        )
    print(
        f"  raw floor: {floor:5.2f} s  for {n:,} case + {events:,} event rows "
        f"({n / floor:,.0f} cases/s)"
    )
    target = 1000
    rate, rest = n / bulk[0], n / (bulk[0] - bulk[1] - bulk[2])
    print(
        f"  target {target:,} cases/s in bulk: {'met' if rate >= target else 'NOT met'} "
        f"({'met' if rest >= target else 'NOT met'} without notifying)"
    )


if __name__ == "__main__":
    main()
