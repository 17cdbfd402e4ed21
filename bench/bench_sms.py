"""Benchmark: inbound SMS meter readings handled end to end.

    .venv/bin/python bench/bench_sms.py [--accounts 2000] [--rounds 2] [--workers 1] [--profile]
    .venv/bin/python bench/bench_sms.py --postgres        # postgres://postgres@127.0.0.1:5432
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/civicdesk .venv/bin/python bench/...

Sets up a Russian operator with `--accounts` accounts, each with four meters (cold and hot
water, day/night electricity, gas) and its holder's phone, in a scratch database. Then each
round sends one message per account in the Stavropol format
(`<account> ХВ 11 ГВ 12 ЭЛ 1234 567 ГЗ 15`, five register readings), from the holder's phone,
a day after the round before with higher values, so every reading is validated against the
previous one and written. Round 1 goes through `notifications.services.inbound_sms_receive`
(log the message, dispatch it; the handler checks sender, account and meters in one query and
hands all the message's meters to `metering.services.readings_submit_many`: one lock, one read
of the register states, one insert, one update; keep the reply); the rounds after it through
the generic webhook (`POST /api/v1/sms/inbound` with Django's test Client: middleware,
authentication by shared secret, JSON parsing, throttling). `--workers N` sends from N
processes at once, as N web processes would. Prints messages/s and SQL statements per message
per round (target: 200 messages/s or more) and checks that every reading was stored as accepted.

Configured as production runs (docs/deployment.md), and said so in the first line printed:
web processes keep their database connection (DATABASE_CONN_MAX_AGE=60); every message is its
own transaction, committed before the reply, durably: PostgreSQL with synchronous_commit on
(one process then waits for each commit's WAL flush: under half a millisecond on this
machine's idle disk, several when other work is writing; concurrent processes share flushes:
hence --workers), SQLite in WAL mode with synchronous=NORMAL (the project's setting). The cache
is the process's own (locmem) unless REDIS_URL is set. The machine's CPUs and load when the
run starts are printed too: the figures are CPU-bound, and mean little on a busy machine.

The webhook is throttled per caller (API_THROTTLE_SMS, 30000/min by default, i.e. 500/s from
one gateway); the benchmark lifts that limit so it measures the work, not the throttle.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from _support import scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-sms-secret"
PER_BUILDING = 100


def setup_data(accounts: int) -> list[tuple[str, str]]:
    """The operator, accounts, holders and meters; returns (account number, holder phone)."""
    from datetime import date

    from civicdesk.core.identifiers import account_number_make
    from civicdesk.metering import selectors
    from civicdesk.metering.models import DEFAULT_UNITS, REGISTERS, Meter, MeterRegister
    from civicdesk.registry.models import (
        AccountHolder,
        Building,
        Operator,
        PersonalAccount,
        Premises,
        Territory,
    )

    operator = Operator.objects.create(
        name="Bench settlement centre",
        jurisdiction="RU",
        currency="RUB",
        timezone="Europe/Moscow",
        default_language="ru",
        enabled_languages=["en", "af", "uk", "ru"],
    )
    settings = selectors.metering_settings()
    settings.sms_any_sender = False  # the sender check is part of the work
    settings.save()
    territory = Territory.objects.create(code="bench", name="Bench", kind="district")
    buildings = Building.objects.bulk_create(
        [
            Building(
                code=f"b{n}",
                address=f"{n} Lenina Street",
                territory=territory,
                total_area=Decimal("5000"),
                heated_area=Decimal("4800"),
                management_form="municipal",
            )
            for n in range(accounts // PER_BUILDING + 1)
        ]
    )
    premises = Premises.objects.bulk_create(
        [
            Premises(
                building=buildings[i // PER_BUILDING],
                number=str(i % PER_BUILDING + 1),
                total_area=Decimal("54.00"),
                heated_area=Decimal("50.00"),
                occupants=2,
            )
            for i in range(accounts)
        ]
    )
    fmt = operator.account_number_format
    opened = date(2020, 1, 1)
    rows = PersonalAccount.objects.bulk_create(
        [
            PersonalAccount(number=account_number_make(fmt, i + 1), premises=p, opened_on=opened)
            for i, p in enumerate(premises)
        ]
    )
    phones = [f"+7916{i:07d}" for i in range(accounts)]
    AccountHolder.objects.bulk_create(
        [
            AccountHolder(account=a, role="owner", full_name=f"Holder {i}", phone=phones[i])
            for i, a in enumerate(rows)
        ]
    )
    kinds = [
        ("cold_water", "single"),
        ("hot_water", "single"),
        ("electricity", "day_night"),
        ("gas", "single"),
    ]
    meters = Meter.objects.bulk_create(
        [
            Meter(
                serial=f"SN{i:07d}{k}",
                resource=resource,
                rates=rates,
                digits=6,
                unit=DEFAULT_UNITS[resource],
                installed_on=opened,
                building=a.premises.building,
                premises=a.premises,
                account=a,
            )
            for i, a in enumerate(rows)
            for k, (resource, rates) in enumerate(kinds)
        ],
        batch_size=2000,
    )
    # Their register states, as `services.meter_create` makes them.
    MeterRegister.objects.bulk_create(
        [MeterRegister(meter=m, register=r) for m in meters for r in REGISTERS[m.rates]],
        batch_size=2000,
    )
    return [(a.number, phones[i]) for i, a in enumerate(rows)]


def message(number: str, round_: int) -> str:
    base = 10 * round_
    return f"{number} ХВ {11 + base} ГВ {12 + base} ЭЛ {1234 + base} {567 + base} ГЗ {15 + base}"


class StatementCounter:
    """Counts the SQL statements sent through Django's cursors (an `executemany` is one; the
    COMMIT, sent by the connection itself, is not counted), as a database execute wrapper: no
    SQL kept, next to no cost."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def send_all(senders, round_: int, via: str, received_at) -> int:
    """Send one message per (account, phone): through the service, or the generic webhook.
    Returns the SQL statements sent."""
    from django.db import connection, connections
    from django.test import Client

    from civicdesk.notifications.services import inbound_sms_receive

    client = Client()
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        _send(client, inbound_sms_receive, senders, round_, via, received_at)
    connections.close_all()
    return counter.count


def _send(client, inbound_sms_receive, senders, round_: int, via: str, received_at) -> None:
    for number, phone in senders:
        text = message(number, round_)
        if via == "service":
            reply = inbound_sms_receive(
                provider="bench", sender=phone, text=text, received_at=received_at
            ).reply
        else:
            response = client.post(
                "/api/v1/sms/inbound",
                data={"from": phone, "text": text, "received_at": received_at.isoformat()},
                content_type="application/json",
                headers={"X-Civicdesk-Sms-Secret": SECRET},
            )
            assert response.status_code == 200, response.content
            reply = response.json()["reply"]
        assert reply, text


def run(args, postgres: bool) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.utils import timezone

    from civicdesk.metering.models import Reading
    from civicdesk.notifications.models import InboundMessage

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SMS_INBOUND_SECRET = SECRET
    started = time.perf_counter()
    senders = setup_data(args.accounts)
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            durability = f"synchronous_commit={cursor.fetchone()[0]}"
    else:
        durability = "WAL, synchronous=NORMAL"
    print(
        f"SMS readings on {'PostgreSQL' if postgres else 'SQLite'} ({durability}): "
        f"{args.accounts:,} accounts × 4 meters (set up in {time.perf_counter() - started:.1f} s);"
        f" {args.workers} sending process{'es' if args.workers > 1 else ''}, connections kept "
        f"{settings.DATABASES['default']['CONN_MAX_AGE']} s, cache "
        f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )

    first = timezone.now() - timedelta(days=args.rounds)
    profiler = cProfile.Profile() if args.profile and args.workers == 1 else None
    rates = []
    for round_ in range(args.rounds):
        received_at = first + timedelta(days=round_)
        via = "service" if round_ == 0 else "webhook"
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        if args.workers == 1:
            statements = send_all(senders, round_, via, received_at)
        else:
            # Like N web processes: each its own connection, sending its share at once.
            connections.close_all()
            shares = [senders[i :: args.workers] for i in range(args.workers)]
            with multiprocessing.get_context("fork").Pool(args.workers) as pool:
                statements = sum(
                    pool.starmap(send_all, [(share, round_, via, received_at) for share in shares])
                )
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        rate = len(senders) / seconds
        rates.append(rate)
        print(
            f"  round {round_ + 1} via {via:7}: {len(senders):,} messages in {seconds:6.2f} s"
            f"  {rate:7,.0f} messages/s  ({5 * rate:,.0f} readings/s), "
            f"{statements / len(senders):.1f} SQL statements/message"
        )

    total = Reading.objects.count()
    accepted = Reading.objects.filter(status="accepted", source="sms").count()
    expected = 5 * args.accounts * args.rounds
    assert total == accepted == expected, (total, accepted, expected)
    assert InboundMessage.objects.filter(handler="meter-readings").count() == len(senders) * (
        args.rounds
    )
    print(
        f"  checked: {accepted:,} readings stored, all accepted; slowest round "
        f"{min(rates):,.0f} messages/s (target 200/s); engine {connection.vendor}"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2, help="messages per account (≥ 1)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use PostgreSQL at DATABASE_URL, else postgres://postgres@127.0.0.1:5432/"
        "civicdesk_bench",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="sending processes (like N web processes)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the rounds (cProfile; one worker)"
    )
    parser.add_argument("--sort", default="cumtime", help="profile order (tottime, cumtime)")
    args = parser.parse_args()
    if args.postgres and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/civicdesk_bench"
    os.environ.setdefault("API_THROTTLE_SMS", "100000000/min")  # see the module docstring
    # Web processes keep their database connection, as docs/deployment.md sets them up (with
    # 0, every request would open a new one: on PostgreSQL a new server process each time).
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query's SQL: not what production measures
    with scratch_database("sms") as (postgres, _work):
        run(args, postgres)


if __name__ == "__main__":
    main()
