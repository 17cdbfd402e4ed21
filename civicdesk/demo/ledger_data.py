"""Demo bank statements: a CSV format for a local bank in each jurisdiction (ZA, UA, RU), the
generic ISO 20022 camt.053 format, and a sample statement imported through the same service as
the back office. Most of its lines name an account number and are posted at once; a few wait
in suspense for the revenue officer (no number, a mistyped check digit), one is a bank fee.
The demo resident who owes money has reported one of those payments as missing, so the
officer's whole flow can be tried: find it among the unmatched lines, match it, the case is
resolved.

Called by ``demo_build`` (the lead wires it): ``build_banking(jurisdiction=..., ...)``.
Deterministic for a given ``rng``; idempotent (a format that exists is kept, a sample already
imported is not imported again)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from civicdesk.ledger import banking
from civicdesk.ledger.models import BankFormat, BankStatement
from civicdesk.registry.models import PersonalAccount


@dataclass(frozen=True)
class FormatSpec:
    code: str
    name: str
    kind: str
    bank_account: str = ""
    mapping: dict = field(default_factory=dict)


CAMT053 = FormatSpec(
    code="iso20022-camt053",
    name="ISO 20022 camt.053 (any bank)",
    kind=BankFormat.Kind.CAMT053,
)

CSV_FORMATS = {
    # FNB-style export: comma separated, ISO dates, signed amounts.
    "ZA": FormatSpec(
        code="za-fnb-csv",
        name="FNB business account (CSV)",
        kind=BankFormat.Kind.CSV,
        bank_account="62000000001",
        mapping={
            "columns": {
                "date": "Date",
                "amount": "Amount",
                "reference": "Reference",
                "counterparty": "Description",
                "bank_ref": "Transaction ID",
            },
            "delimiter": ",",
            "date_format": "%Y/%m/%d",
            "default_currency": "ZAR",
            "statement_id": "fnb",
        },
    ),
    # PrivatBank-style export: semicolons, dd.mm.yyyy, decimal comma, credit and debit columns.
    "UA": FormatSpec(
        code="ua-privat-csv",
        name="ПриватБанк, поточний рахунок (CSV)",
        kind=BankFormat.Kind.CSV,
        bank_account="UA213223130000026007233566001",
        mapping={
            "columns": {
                "date": "Дата операції",
                "credit": "Надходження",
                "debit": "Списання",
                "reference": "Призначення платежу",
                "counterparty": "Контрагент",
                "bank_ref": "Номер документа",
            },
            "delimiter": ";",
            "date_format": "%d.%m.%Y",
            "decimal_separator": ",",
            "thousands_separator": " ",
            "default_currency": "UAH",
            "statement_id": "privat",
        },
    ),
    # Sberbank-style export: semicolons, dd.mm.yyyy, decimal comma, signed amounts.
    "RU": FormatSpec(
        code="ru-sber-csv",
        name="Сбербанк, расчётный счёт (CSV)",
        kind=BankFormat.Kind.CSV,
        bank_account="40702810938000000001",
        mapping={
            "columns": {
                "date": "Дата",
                "amount": "Сумма",
                "currency": "Валюта",
                "reference": "Назначение платежа",
                "counterparty": "Плательщик",
                "bank_ref": "Номер операции",
            },
            "delimiter": ";",
            "date_format": "%d.%m.%Y",
            "decimal_separator": ",",
            "statement_id": "sber",
        },
    ),
}

# What payers write in the reference, per language; {number} is the account number.
REFERENCES = {
    "ZA": ("Rates acc {number}", "ACC {spaced}", "{number} water", "Municipal account {number}"),
    "UA": ("Оплата за послуги, о/р {number}", "о/р {spaced}", "Особовий рахунок {number}"),
    "RU": ("Оплата ЖКУ, л/с {number}", "л/с {spaced}", "Лицевой счёт {number} за март"),
}
UNREADABLE = {"ZA": "Payment flat 4", "UA": "Комуналка, квартира 4", "RU": "Квартплата кв. 4"}
PAYERS = {
    "ZA": ("T Mokoena", "P van der Merwe", "S Nkosi", "L Dlamini", "A Zulu", "J Botha"),
    "UA": ("Коваленко О.", "Шевченко Т.", "Бондар І.", "Ткаченко М.", "Мельник Н."),
    "RU": ("Иванов И. И.", "Смирнова А. П.", "Кузнецов Д. С.", "Попова Е. В."),
}
FEE = {"ZA": "Service fee", "UA": "Комісія банку", "RU": "Комиссия банка"}


def build_formats(jurisdiction: str) -> list[BankFormat]:
    """The jurisdiction's CSV format and the camt.053 one (kept when they exist)."""
    formats = []
    for spec in (CSV_FORMATS[jurisdiction], CAMT053):
        bank_format, _created = BankFormat.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "kind": spec.kind,
                "mapping": spec.mapping,
                "bank_account": spec.bank_account,
            },
        )
        formats.append(bank_format)
    return formats


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _typo(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 3) % 10)


def _amount_text(minor: int, mapping: dict) -> str:
    text = format(Decimal(minor).scaleb(-2), "f")
    return text.replace(".", mapping.get("decimal_separator", "."))


def sample_rows(
    jurisdiction: str, numbers: list[str], rng: random.Random, today: dt.date
) -> tuple[list[dict], dict]:
    """The sample statement's lines as logical rows, and the line a resident will report
    (its date and amount)."""
    references = REFERENCES[jurisdiction]
    payers = PAYERS[jurisdiction]
    rows = []
    for index, number in enumerate(numbers):
        template = references[index % len(references)]
        rows.append(
            {
                "date": today - dt.timedelta(days=1 + index % 5),
                "minor": rng.randrange(20_000, 250_000),
                "reference": template.format(number=number, spaced=_spaced(number)),
                "counterparty": payers[index % len(payers)],
            }
        )
    reported = {
        "date": today - dt.timedelta(days=3),
        "minor": 64_250,
        "reference": UNREADABLE[jurisdiction],
        "counterparty": payers[0],
    }
    rows.append(reported)
    rows.append(
        {
            "date": today - dt.timedelta(days=2),
            "minor": rng.randrange(20_000, 90_000),
            "reference": references[0].format(number=_typo(numbers[0]), spaced=""),
            "counterparty": payers[-1],
        }
    )
    rows.append(
        {"date": today - dt.timedelta(days=1), "minor": -4_500, "reference": FEE[jurisdiction]}
    )
    rows.sort(key=lambda row: row["date"])
    for index, row in enumerate(rows, start=1):
        row["bank_ref"] = f"{today:%y%m%d}{index:05d}"
    return rows, reported


def sample_csv(spec: FormatSpec, rows: list[dict], currency: str) -> bytes:
    """The rows written as the format's bank would write them."""
    mapping = spec.mapping
    columns = mapping["columns"]
    delimiter = mapping.get("delimiter", ",")
    header = list(columns.values())
    lines = [delimiter.join(header)]
    for row in rows:
        minor = row["minor"]
        cells = {
            "date": row["date"].strftime(mapping.get("date_format", "%Y-%m-%d")),
            "amount": _amount_text(minor, mapping),
            "credit": _amount_text(minor, mapping) if minor > 0 else "",
            "debit": _amount_text(-minor, mapping) if minor < 0 else "",
            "currency": currency,
            "reference": row.get("reference", ""),
            "counterparty": row.get("counterparty", ""),
            "bank_ref": row["bank_ref"],
        }
        values = []
        for logical in columns:
            value = cells[logical].replace('"', "'")
            if delimiter in value:
                value = f'"{value}"'
            values.append(value)
        lines.append(delimiter.join(values))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def build_banking(
    *,
    jurisdiction: str,
    currency: str,
    resident_accounts: list[str],
    rng: random.Random,
    actor=None,
    payments: int = 12,
) -> dict:
    """Formats, one sample statement imported, and a missing-payment report by the demo
    resident who owes (the second of ``resident_accounts``) for a line left in suspense."""
    formats = build_formats(jurisdiction)
    csv_format = formats[0]
    if BankStatement.objects.filter(bank_format=csv_format).exists():
        return {"formats": [f.code for f in formats], "statement": None, "report": None}
    today = timezone.localdate()
    others = list(
        PersonalAccount.objects.exclude(number__in=resident_accounts)
        .exclude(status=PersonalAccount.Status.CLOSED)
        .order_by("number")
        .values_list("number", flat=True)[:payments]
    )
    rows, reported = sample_rows(jurisdiction, list(resident_accounts[:1]) + others, rng, today)
    data = sample_csv(CSV_FORMATS[jurisdiction], rows, currency)
    statement = banking.statement_import(
        bank_format=csv_format,
        data=data,
        file_name=f"{csv_format.code}-{today:%Y%m%d}.csv",
        actor=actor,
    )
    report = None
    if len(resident_accounts) > 1:
        report = _report_missing(resident_accounts[1], reported, currency)
    return {
        "formats": [f.code for f in formats],
        "statement": statement.statement_id,
        "report": report.case.reference if report and report.case else None,
    }


def _report_missing(number: str, reported: dict, currency: str):
    from civicdesk.registry.models import AccountLink

    link = (
        AccountLink.objects.filter(account__number=number, revoked_at=None)
        .select_related("user", "account")
        .first()
    )
    if link is None:
        return None
    return banking.missing_payment_report(
        account=link.account,
        reporter=link.user,
        paid_on=reported["date"] - dt.timedelta(days=1),
        amount=Decimal(reported["minor"]).scaleb(-2),
        bank_reference="",
        proof=None,
    )
