"""Bank statements and missing payments: every write.

Importing a statement parses it (``statement_formats``, pure), refuses one already imported,
then in one transaction stores the statement and its lines and posts each credit line: to the
account its reference names (check digit verified, account open) or to the account of a
resident's missing-payment report it fits — debit bank clearing, credit the receivable,
allocated — or, when nothing fits, to suspense (debit bank clearing, credit suspense) for an
officer. Debit lines are recorded and ignored. Lookups are set-based: one query for every
candidate account number, one for the open reports.

An officer matching a suspense line moves the money suspense → receivable exactly once (the
line is locked and must still be in suspense). A resident's report of a payment that does not
show becomes a case in the revenue team's queue; matching it resolves the case and tells the
resident.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civicdesk.cases import services as case_services
from civicdesk.cases import workflow
from civicdesk.cases.models import Category, Channel
from civicdesk.core.bulk import bulk_insert
from civicdesk.core.identifiers import InvalidIdentifier, account_number_check
from civicdesk.ledger import postings
from civicdesk.ledger import statement_formats as parsing
from civicdesk.ledger.casework import money_case_open
from civicdesk.ledger.models import (
    BankFormat,
    BankLine,
    BankStatement,
    LedgerAccount,
    MissingPaymentReport,
    Transaction,
)
from civicdesk.ledger.postings import Leg
from civicdesk.ledger.services import (
    TransactionSpec,
    accounts_allocate,
    money_to_minor,
    payment_post,
    receivables_ensure,
    system_account,
    transactions_post_bulk,
)
from civicdesk.registry.models import PersonalAccount

# How far back a resident may report a payment, and how many account numbers one query asks
# for (SQLite allows 32,766 parameters; stay well below).
REPORT_MAX_AGE_YEARS = 3
LOOKUP_CHUNK = 5000

# Why a line went where it went (BankLine.match_reason). The parser's own codes pass through.
REASON_LABELS = {
    "account_in_reference": gettext_lazy("Account number in the reference"),
    "missing_payment_report": gettext_lazy("Fits a resident's missing-payment report"),
    "officer": gettext_lazy("Matched by an officer"),
    "not_a_credit": gettext_lazy("Money out (not a payment to us)"),
    "currency": gettext_lazy("Not in the operator's currency"),
    "several_accounts": gettext_lazy("Several account numbers in the reference"),
    "several_reports": gettext_lazy("Several missing-payment reports fit"),
    "no_match": gettext_lazy("No account number in the reference"),
    "check_digit": gettext_lazy("An account number with a wrong check digit"),
    "unknown_account": gettext_lazy("No account has the number in the reference"),
    "closed_account": gettext_lazy("The account in the reference is closed"),
    "already_imported": gettext_lazy("The same bank transaction came in an earlier statement"),
    "posting_refused": gettext_lazy("The ledger refused the posting"),
}


def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code or ""))


# --- small helpers --------------------------------------------------------------------------


def _operator():
    from civicdesk.registry.selectors import operator_get

    operator = operator_get()
    if operator is None:
        raise ValidationError(_("Set up the operator before using the ledger."))
    return operator


def operator_today() -> dt.date:
    """Today in the operator's timezone (the database keeps UTC)."""
    operator = _operator()
    try:
        zone = zoneinfo.ZoneInfo(operator.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.localdate(timezone.now(), zone)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def money_text(amount_minor: int, currency: str) -> str:
    """An amount for people, in the active language (e.g. "R 1 234,50")."""
    from civicdesk.ledger.templatetags.ledger import minor_money

    return minor_money(amount_minor, currency)


def _date_text(day: dt.date) -> str:
    return formats.date_format(day, "DATE_FORMAT")


def _number_checker(operator):
    """The check-digit callback for the parser: the normalised number when it is a valid
    account number of the operator's format, else None. The same rule as
    ``registry.services.account_number_parse``, with the operator read once per import."""
    fmt = operator.account_number_format

    def check(raw: str) -> str | None:
        try:
            return account_number_check(fmt, raw)
        except InvalidIdentifier:
            return None

    return check


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- parsing --------------------------------------------------------------------------------

# The parser's error codes (statement_formats.StatementError.code), said for people. Where the
# parser knows it, the message starts with the line (CSV) or the statement and entry (camt).
FORMAT_ERRORS = {
    "bad_input": gettext_lazy("The file cannot be read."),
    "empty_file": gettext_lazy("The file holds no statement lines."),
    "bad_encoding": gettext_lazy("The text is not in the format's encoding (%(encoding)s)."),
    "bad_csv": gettext_lazy("The file is not valid CSV (a quote is not closed?)."),
    "missing_column": gettext_lazy(
        "The header has no column “%(header)s”, which the format reads the %(column)s from."
    ),
    "missing_value": gettext_lazy("The %(column)s is empty."),
    "bad_date": gettext_lazy("“%(value)s” is not a date as the format writes them."),
    "bad_amount": gettext_lazy(
        "“%(value)s” is not an amount, or it has more decimals than its currency."
    ),
    "bad_currency": gettext_lazy("“%(value)s” is not a currency code."),
    "mixed_currency": gettext_lazy("The statement changes currency here (%(value)s)."),
    "xml_forbidden": gettext_lazy(
        "The file declares a DTD or entities; such XML files are refused."
    ),
    "bad_xml": gettext_lazy("The file is not well-formed XML."),
    "not_camt053": gettext_lazy("The file is not an ISO 20022 camt.053 bank statement."),
    "missing_element": gettext_lazy("The element %(element)s is missing."),
    "batch_total_mismatch": gettext_lazy(
        "The transactions of a batched entry do not add up to the entry's amount."
    ),
    "bad_credit_debit": gettext_lazy("A credit/debit indicator is neither CRDT nor DBIT."),
}
# Errors in a bank format's CSV mapping (they name the setting).
MAPPING_ERROR = gettext_lazy(
    "The bank format's column mapping is not valid (setting “%(field)s”): %(detail)s"
)


def _format_error(exc: parsing.StatementError) -> ValidationError:
    params = {key: str(value) for key, value in (exc.params or {}).items()}
    if "field" in params:
        return ValidationError(
            {
                "format": ValidationError(
                    MAPPING_ERROR % {"field": params["field"] or "—", "detail": str(exc)},
                    code="bad_mapping",
                )
            }
        )
    values = {"encoding": "", "header": "", "column": "", "value": "", "element": "", **params}
    template = FORMAT_ERRORS.get(exc.code, FORMAT_ERRORS["bad_input"])
    reason = str(template) % values
    if params.get("line"):
        message = _("Line %(line)s: %(reason)s") % {"line": params["line"], "reason": reason}
    elif params.get("entry"):
        message = _("Statement %(statement)s, entry %(entry)s: %(reason)s") % {
            "statement": params.get("statement", "—"),
            "entry": params["entry"],
            "reason": reason,
        }
    elif params.get("statement"):
        message = _("Statement %(statement)s: %(reason)s") % {
            "statement": params["statement"],
            "reason": reason,
        }
    else:
        message = reason
    return ValidationError({"file": ValidationError(message, code=exc.code)})


def bank_format_mapping_check(mapping: object) -> None:
    """A ValidationError on ``mapping`` when a CSV column mapping cannot be used."""
    try:
        parsing.CsvMapping.from_dict(mapping)
    except (parsing.StatementError, TypeError) as exc:
        field_name = getattr(exc, "params", {}).get("field", "")
        raise ValidationError(
            {"mapping": MAPPING_ERROR % {"field": field_name or "—", "detail": str(exc)}}
        ) from exc


def statement_parse(bank_format: BankFormat, data: bytes) -> list[parsing.ParsedStatement]:
    """The statements in ``data`` read with ``bank_format``; a ValidationError on ``file``
    (or ``format`` for a mapping that cannot be used) naming the line and the reason when it
    cannot be read. Nothing is written."""
    if not data:
        raise ValidationError({"file": _("The file is empty.")})
    try:
        if bank_format.kind == BankFormat.Kind.CSV:
            try:
                mapping = parsing.CsvMapping.from_dict(bank_format.mapping or {})
            except TypeError as exc:
                raise ValidationError(
                    {"format": MAPPING_ERROR % {"field": "—", "detail": str(exc)}}
                ) from exc
            statements = [parsing.parse_csv(bytes(data), mapping)]
        elif bank_format.kind == BankFormat.Kind.CAMT053:
            statements = list(parsing.parse_camt053(bytes(data)))
        else:
            raise ValidationError({"format": _("Unknown kind of bank statement format.")})
    except parsing.StatementError as exc:
        raise _format_error(exc) from exc
    if not statements:
        raise ValidationError({"file": _("The file holds no statement.")})
    return statements


# --- importing ------------------------------------------------------------------------------


@dataclass
class _PlannedLine:
    source: parsing.StatementLine
    amount_minor: int
    status: str
    reason: str = ""
    account: PersonalAccount | None = None
    report: MissingPaymentReport | None = None
    transaction_id: object = None


@dataclass
class _Plan:
    parsed: parsing.ParsedStatement
    bank_account: str
    digest: str
    lines: list[_PlannedLine] = field(default_factory=list)


def _statement_bank_account(parsed: parsing.ParsedStatement, bank_format: BankFormat) -> str:
    return ((parsed.account or bank_format.bank_account or "").replace(" ", "").upper())[:40]


def _duplicate_error(earlier: BankStatement) -> ValidationError:
    when = timezone.localtime(earlier.imported_at)
    return ValidationError(
        {
            "file": ValidationError(
                _(
                    "This statement was already imported on %(date)s (%(file)s, statement "
                    "%(statement)s); it is not imported twice."
                ),
                code="duplicate_statement",
                params={
                    "date": formats.date_format(when, "DATETIME_FORMAT"),
                    "file": earlier.file_name or "—",
                    "statement": earlier.statement_id,
                },
            )
        }
    )


def _refuse_duplicates(plans: list[_Plan]) -> None:
    digests = [plan.digest for plan in plans]
    if len(set(digests)) != len(digests):
        raise ValidationError({"file": _("The file holds the same statement twice.")})
    earlier = BankStatement.objects.filter(digest__in=digests).order_by("imported_at").first()
    if earlier is not None:
        raise _duplicate_error(earlier)
    for plan in plans:
        earlier = (
            BankStatement.objects.filter(
                bank_account=plan.bank_account, statement_id=plan.parsed.statement_id
            )
            .order_by("imported_at")
            .first()
        )
        if earlier is not None:
            raise _duplicate_error(earlier)


def _statement_digest(
    parsed: parsing.ParsedStatement, bank_account: str, data: bytes, many: bool
) -> str:
    """The file's SHA-256; for a file of several statements, one derived per statement (the
    stored digest is unique), so the same file is still recognised."""
    digest = parsed.digest or hashlib.sha256(data).hexdigest()
    if many:
        key = f"{digest}:{bank_account}:{parsed.statement_id}"
        digest = hashlib.sha256(key.encode()).hexdigest()
    return digest[:64]


def _plans(
    bank_format: BankFormat, statements: list[parsing.ParsedStatement], data: bytes
) -> list[_Plan]:
    many = len(statements) > 1
    plans = []
    for parsed in statements:
        bank_account = _statement_bank_account(parsed, bank_format)
        plans.append(
            _Plan(
                parsed=parsed,
                bank_account=bank_account,
                digest=_statement_digest(parsed, bank_account, data, many),
            )
        )
    return plans


def _to_minor(line: parsing.StatementLine) -> int:
    try:
        return abs(line.amount_minor)
    except postings.PostingError as exc:  # the parser checks; this is the last word
        raise _format_error(
            parsing.StatementError(
                "bad_amount", str(exc), line=line.line_no, value=str(line.amount)
            )
        ) from exc


def _accounts_by_number(numbers: set[str]) -> dict[str, PersonalAccount]:
    found: dict[str, PersonalAccount] = {}
    for chunk in _chunks(sorted(numbers), LOOKUP_CHUNK):
        found.update(
            (account.number, account)
            for account in PersonalAccount.objects.filter(number__in=chunk).only(
                "pk", "number", "status"
            )
        )
    return found


def _seen_bank_refs(bank_format: BankFormat, bank_accounts: set[str], refs: set[str]) -> set:
    """(bank account, bank_ref, amount, booked_on) of lines an earlier statement of the same
    bank account already brought: an overlapping export must not bring the same money twice."""
    seen = set()
    for chunk in _chunks(sorted(refs), LOOKUP_CHUNK):
        seen.update(
            BankLine.objects.filter(
                statement__bank_account__in=bank_accounts,
                statement__bank_format=bank_format,
                bank_ref__in=chunk,
                amount_minor__gt=0,
            ).values_list("statement__bank_account", "bank_ref", "amount_minor", "booked_on")
        )
    return seen


def _plan(bank_format: BankFormat, plans: list[_Plan], operator) -> None:
    """Decide every line in memory: what it is, where its money goes. Three queries in all:
    accounts by number, open reports, lines already seen."""
    check = _number_checker(operator)
    currency = operator.currency.upper()
    credits: list[tuple[_Plan, parsing.StatementLine, int]] = []
    numbers: set[str] = set()
    refs: set[str] = set()
    for plan in plans:
        for line in plan.parsed.lines:
            amount_minor = _to_minor(line)
            if line.amount <= 0 or amount_minor == 0:
                plan.lines.append(
                    _PlannedLine(line, amount_minor, BankLine.Status.IGNORED, "not_a_credit")
                )
                continue
            credits.append((plan, line, amount_minor))
            if line.currency.upper() == currency:
                numbers.update(parsing.find_account_numbers(line.reference, check=check))
            if line.bank_ref:
                refs.add(line.bank_ref)
    accounts = _accounts_by_number(numbers)
    seen = _seen_bank_refs(bank_format, {p.bank_account for p in plans}, refs) if refs else set()
    reports = {
        report.id: report
        for report in MissingPaymentReport.objects.select_for_update(of=("self",))
        .filter(status=MissingPaymentReport.Status.OPEN, currency=currency)
        .select_related("account")
        .order_by("created_at")
    }
    hints = [
        parsing.ReportHint(
            id=report.id,
            account_number=report.account.number,
            amount_minor=report.amount_minor,
            paid_on=report.paid_on,
            bank_reference=report.bank_reference,
        )
        for report in reports.values()
    ]

    def existing(raw: str) -> str | None:
        number = check(raw)
        if number is None:
            return None
        account = accounts.get(number)
        if account is None or account.status == PersonalAccount.Status.CLOSED:
            return None
        return number

    for plan, line, amount_minor in credits:
        planned = _PlannedLine(line, amount_minor, BankLine.Status.SUSPENSE)
        plan.lines.append(planned)
        if line.currency.upper() != currency:
            planned.reason = "currency"
            continue
        key = (plan.bank_account, line.bank_ref, amount_minor, line.booked_on)
        if line.bank_ref and key in seen:
            planned.status, planned.reason = BankLine.Status.IGNORED, "already_imported"
            continue
        seen.add(key)  # a later statement of the same file may repeat it
        match = parsing.match_line(line, check=existing, open_reports=hints)
        report = reports.get(match.report_id) if match.report_id is not None else None
        if match.kind == "account":
            planned.status = BankLine.Status.MATCHED
            planned.account = accounts[match.account_number]
            planned.reason = match.reason_code
            if report is not None and report.account_id == planned.account.pk:
                planned.report = report
        elif match.kind == "report" and report is not None:
            if report.account.status == PersonalAccount.Status.CLOSED:
                planned.reason = "closed_account"
                continue
            planned.status = BankLine.Status.MATCHED
            planned.account = report.account
            planned.report = report
            planned.reason = match.reason_code
        else:
            planned.reason = _unmatched_reason(line, operator, check, accounts, match)
        if planned.report is not None:  # a report is answered by one line
            hints = [hint for hint in hints if hint.id != planned.report.id]
    for plan in plans:
        plan.lines.sort(key=lambda planned: planned.source.line_no)


def _unmatched_reason(line, operator, check, accounts, match) -> str:
    """Why a credit line found no home, for the officer: the parser's reason, made precise
    when the reference holds a number that is almost an account number."""
    if match.kind == "ambiguous":
        return match.reason_code
    valid = parsing.find_account_numbers(line.reference, check=check)
    if valid:
        return "closed_account" if any(n in accounts for n in valid) else "unknown_account"
    if parsing.find_account_numbers(line.reference, check=_wrong_check_digit(operator)):
        return "check_digit"
    return match.reason_code or "no_match"


def _wrong_check_digit(operator):
    """A callback finding numbers of the account number format whose check digit is wrong."""
    fmt = operator.account_number_format

    def check(raw: str) -> str | None:
        try:
            account_number_check(fmt, raw)
        except InvalidIdentifier as exc:
            return raw if exc.reason == "check_digit" else None
        return None

    return check


def _line_reference(statement: BankStatement, line: parsing.StatementLine) -> str:
    """The posting's reference: the bank's id of the entry, or the statement and line."""
    if line.bank_ref and not line.bank_ref_synthetic:
        return line.bank_ref[:100]
    return f"{statement.statement_id}:{line.line_no}"[:100]


def _line_description(bank_format: BankFormat, line: parsing.StatementLine) -> str:
    parts = [bank_format.name, line.booked_on.isoformat(), line.counterparty, line.reference]
    return " · ".join(part for part in parts if part)[:300]


class _Books:
    """The ledger accounts one import posts to, looked up once: bank clearing and suspense per
    currency, and the receivables of the accounts it pays into, locked in a fixed order."""

    def __init__(self, bank_format: BankFormat):
        self.bank_format = bank_format
        self._system: dict[tuple[str, str], LedgerAccount] = {}
        self.receivables: dict[int, LedgerAccount] = {}

    def bank(self, currency: str) -> LedgerAccount:
        key = (LedgerAccount.Kind.BANK_CLEARING, currency)
        if key not in self._system:
            self._system[key] = system_account(key[0], currency, key=self.bank_format.code)
        return self._system[key]

    def suspense(self, currency: str) -> LedgerAccount:
        key = (LedgerAccount.Kind.SUSPENSE, currency)
        if key not in self._system:
            self._system[key] = system_account(key[0], currency)
        return self._system[key]

    def lock_receivables(self, accounts: Iterable[PersonalAccount]) -> None:
        """Every change to what a resident owes is serialised on their receivable's row (see
        ``services.receivable_lock``); an import takes all of its locks first, in key order,
        so two imports cannot deadlock. Missing receivables are created in bulk."""
        by_pk = {account.pk: account.number for account in accounts}
        for chunk in _chunks(sorted(by_pk), LOOKUP_CHUNK):
            receivables_ensure({pk: by_pk[pk] for pk in chunk})
            self.receivables.update(
                (ledger_account.personal_account_id, ledger_account)
                for ledger_account in LedgerAccount.objects.filter(
                    kind=LedgerAccount.Kind.RECEIVABLE, personal_account_id__in=chunk
                )
            )
        ids = sorted(ledger_account.pk for ledger_account in self.receivables.values())
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            list(
                LedgerAccount.objects.select_for_update()
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", flat=True)
            )


def _spec(books: _Books, statement: BankStatement, planned: _PlannedLine, target: LedgerAccount):
    """One transaction per bank line: debit bank clearing, credit ``target`` (a receivable or
    suspense)."""
    line = planned.source
    currency = line.currency.upper()
    return TransactionSpec(
        kind=Transaction.Kind.PAYMENT,
        legs=(
            Leg(books.bank(currency).code, planned.amount_minor),
            Leg(target.code, -planned.amount_minor),
        ),
        value_date=line.value_date or line.booked_on,
        reference=_line_reference(statement, line),
        description=_line_description(books.bank_format, line),
    )


def _post(
    bank_format: BankFormat, statement: BankStatement, plan: _Plan, actor, progress=None
) -> None:
    """Post every credit line of the plan: matched ones to their account's receivable, the
    rest to suspense; then allocate every account paid into. This is ``payment_post`` (lock
    the receivable, post, allocate) for a whole statement, set-based: the locks are taken up
    front in key order, the transactions go through the ledger's bulk path (each checked as
    a single posting is), and the accounts are allocated together afterwards (the operator's
    rule sets their credits against their charges oldest first). A matched line the ledger
    would refuse (a closed receivable, another currency) goes to suspense instead, so one bad
    account never stops an import."""
    books = _Books(bank_format)
    matched = [p for p in plan.lines if p.status == BankLine.Status.MATCHED]
    books.lock_receivables(p.account for p in matched)
    paid: set[int] = set()
    by_currency: dict[str, list[tuple[_PlannedLine, TransactionSpec]]] = {}
    for planned in plan.lines:
        currency = planned.source.currency.upper()
        if planned.status == BankLine.Status.MATCHED:
            receivable = books.receivables[planned.account.pk]
            if receivable.closed_at is not None or receivable.currency != currency:
                planned.status, planned.reason = BankLine.Status.SUSPENSE, "posting_refused"
                planned.account = planned.report = None
            else:
                paid.add(planned.account.pk)
                by_currency.setdefault(currency, []).append(
                    (planned, _spec(books, statement, planned, receivable))
                )
        if planned.status == BankLine.Status.SUSPENSE:
            by_currency.setdefault(currency, []).append(
                (planned, _spec(books, statement, planned, books.suspense(currency)))
            )
    for currency, items in by_currency.items():
        specs = [spec for _planned, spec in items]
        ids = transactions_post_bulk(specs, currency=currency, actor=actor)
        for (planned, _unused), txn_id in zip(items, ids, strict=True):
            planned.transaction_id = txn_id
        if progress is not None:
            progress(len(items))
    accounts_allocate(sorted(paid), actor=actor)


def _store_lines(statement: BankStatement, plan: _Plan, actor) -> int:
    """The statement's lines, written in one set-based insert (COPY on PostgreSQL)."""
    now = timezone.now()
    fields = [
        "id",
        "statement_id",
        "line_no",
        "booked_on",
        "value_date",
        "amount_minor",
        "currency",
        "reference",
        "counterparty",
        "bank_ref",
        "status",
        "match_reason",
        "account_id",
        "transaction_id",
        "resolved_transaction_id",
        "resolved_by_id",
        "resolved_at",
        "report_id",
    ]
    rows = [
        (
            uuid.uuid4(),
            statement.pk,
            planned.source.line_no,
            planned.source.booked_on,
            planned.source.value_date or planned.source.booked_on,
            planned.amount_minor if planned.source.amount > 0 else -planned.amount_minor,
            planned.source.currency.upper(),
            (planned.source.reference or "")[:500],
            (planned.source.counterparty or "")[:200],
            (planned.source.bank_ref or "")[:100],
            planned.status,
            planned.reason[:40],
            planned.account.pk if planned.account else None,
            planned.transaction_id,
            None,
            None,
            now if planned.report else None,
            planned.report.pk if planned.report else None,
        )
        for planned in plan.lines
    ]
    written = bulk_insert(BankLine, fields, rows)
    for planned in plan.lines:
        if planned.report is not None:
            _report_found(
                planned.report,
                amount_minor=planned.amount_minor,
                booked_on=planned.source.booked_on,
                actor=actor,
            )
    return written


def statements_import(
    *, bank_format: BankFormat, data: bytes, file_name: str, actor, progress=None
) -> list[BankStatement]:
    """Import every statement in the file (a camt.053 file may hold several); all or nothing.
    Refused with a ValidationError on ``file`` (nothing written) when it cannot be read or a
    statement in it was imported before (same file, or the same bank account and statement
    identifier in another file). ``progress(n)`` is called as lines are posted."""
    if not bank_format.active:
        raise ValidationError({"format": _("This bank format is switched off.")})
    operator = _operator()
    statements = statement_parse(bank_format, data)
    try:
        with transaction.atomic():
            plans = _plans(bank_format, statements, data)
            _refuse_duplicates(plans)
            _plan(bank_format, plans, operator)
            return [_import_one(bank_format, plan, file_name, actor, progress) for plan in plans]
    except IntegrityError:
        # Someone imported the same statement at the same moment: the unique keys decided.
        _refuse_duplicates(_plans(bank_format, statements, data))
        raise


def statement_import(
    *, bank_format: BankFormat, data: bytes, file_name: str, actor
) -> BankStatement:
    """Import a file holding one statement (see ``statements_import`` for files with several:
    here their first is returned; all are imported)."""
    statements = statements_import(
        bank_format=bank_format, data=data, file_name=file_name, actor=actor
    )
    return statements[0]


def _import_one(
    bank_format: BankFormat, plan: _Plan, file_name: str, actor, progress=None
) -> BankStatement:
    parsed = plan.parsed
    statement = BankStatement.objects.create(
        bank_format=bank_format,
        statement_id=(parsed.statement_id or "")[:100],
        bank_account=plan.bank_account,
        digest=plan.digest,
        file_name=(file_name or "")[:255],
        currency=(parsed.currency or _operator().currency).upper()[:3],
        line_count=len(plan.lines),
        imported_by=actor if getattr(actor, "pk", None) else None,
    )
    _post(bank_format, statement, plan, actor, progress)
    _store_lines(statement, plan, actor)
    statement.matched_count = sum(
        1 for planned in plan.lines if planned.status == BankLine.Status.MATCHED
    )
    statement.total_minor = sum(
        planned.amount_minor for planned in plan.lines if planned.source.amount > 0
    )
    BankStatement.objects.filter(pk=statement.pk).update(
        matched_count=statement.matched_count, total_minor=statement.total_minor
    )
    return statement


# --- an officer matches a suspense line -----------------------------------------------------

LINE_STATE_ERRORS = {
    BankLine.Status.MATCHED: gettext_lazy(
        "This bank line was matched automatically to account %(number)s; it cannot be matched "
        "again."
    ),
    BankLine.Status.RESOLVED: gettext_lazy(
        "This bank line was already matched to account %(number)s on %(date)s."
    ),
    BankLine.Status.IGNORED: gettext_lazy(
        "This bank line is not a payment to us and cannot be matched."
    ),
}


def _check_account_open(account: PersonalAccount, field_name: str = "account_number") -> None:
    if account.status == PersonalAccount.Status.CLOSED:
        raise ValidationError(
            {
                field_name: _("Account %(number)s is closed: money cannot be put on it.")
                % {"number": account.number}
            }
        )


@transaction.atomic
def bank_line_match(
    *, line: BankLine, account: PersonalAccount, actor, report: MissingPaymentReport | None = None
) -> BankLine:
    """Move an unmatched line's money from suspense to ``account``'s receivable (allocated
    like any payment) and mark the line resolved by ``actor``. With ``report`` (or when the
    account has one open report of that amount) the report is marked found, its case resolved
    and the resident told. Matching a line twice is refused; nothing is posted then."""
    line = (
        BankLine.objects.select_for_update(of=("self",))
        .select_related("statement", "account", "transaction")
        .get(pk=line.pk)
    )
    if line.status != BankLine.Status.SUSPENSE:
        raise ValidationError(
            {
                "line": ValidationError(
                    LINE_STATE_ERRORS[line.status],
                    code="already_matched",
                    params={
                        "number": line.account.number if line.account else "—",
                        "date": _date_text(timezone.localdate(line.resolved_at))
                        if line.resolved_at
                        else "—",
                    },
                )
            }
        )
    _check_account_open(account)
    currency = _operator().currency.upper()
    if line.currency.upper() != currency:
        raise ValidationError(
            {
                "line": _(
                    "This line is in %(line)s but accounts are kept in %(currency)s: it cannot "
                    "be put on an account; return it to the payer."
                )
                % {"line": line.currency, "currency": currency}
            }
        )
    report = _report_for_match(line, account, report)
    suspense = system_account(LedgerAccount.Kind.SUSPENSE, currency)
    txn = payment_post(
        account=account,
        amount_minor=line.amount_minor,
        currency=currency,
        value_date=line.value_date,
        source=suspense,
        reference=line.transaction.reference
        if line.transaction_id
        else f"{line.statement.statement_id}:{line.line_no}"[:100],
        description=(
            _("Bank payment of %(date)s matched by an officer")
            % {"date": line.booked_on.isoformat()}
        )[:300],
        actor=actor,
        kind=Transaction.Kind.TRANSFER,
    )
    now = timezone.now()
    line.status = BankLine.Status.RESOLVED
    line.match_reason = "officer"
    line.account = account
    line.resolved_transaction = txn
    line.resolved_by = actor
    line.resolved_at = now
    line.report = report
    line.save(
        update_fields=[
            "status",
            "match_reason",
            "account",
            "resolved_transaction",
            "resolved_by",
            "resolved_at",
            "report",
        ]
    )
    if report is not None:
        _report_found(report, amount_minor=line.amount_minor, booked_on=line.booked_on, actor=actor)
    return line


def _report_for_match(
    line: BankLine, account: PersonalAccount, report: MissingPaymentReport | None
) -> MissingPaymentReport | None:
    if report is None:
        candidates = list(
            MissingPaymentReport.objects.select_for_update(of=("self",))
            .filter(
                account=account,
                status=MissingPaymentReport.Status.OPEN,
                amount_minor=line.amount_minor,
                currency=line.currency,
            )
            .order_by("created_at")
        )
        if not candidates:
            return None
        # The one reported nearest the booking date.
        return min(candidates, key=lambda r: (abs((r.paid_on - line.booked_on).days), r.created_at))
    report = MissingPaymentReport.objects.select_for_update(of=("self",)).get(pk=report.pk)
    if report.status != MissingPaymentReport.Status.OPEN:
        raise ValidationError(
            {
                "report": _("This missing-payment report is already closed: %(status)s.")
                % {"status": report.get_status_display()}
            }
        )
    if report.account_id != account.pk:
        raise ValidationError({"report": _("This report is about another account.")})
    if report.amount_minor != line.amount_minor or report.currency != line.currency:
        raise ValidationError(
            {
                "report": _("The report is for %(report)s but the bank line brought %(line)s.")
                % {
                    "report": money_text(report.amount_minor, report.currency),
                    "line": money_text(line.amount_minor, line.currency),
                }
            }
        )
    return report


# --- missing-payment reports ----------------------------------------------------------------


def _resident_language(user) -> str:
    from civicdesk.notifications.rendering import supported_language

    return supported_language(getattr(user, "preferred_language", "") or None)


def _case_close(report: MissingPaymentReport, *, actor, note_for, template_key: str) -> None:
    """Resolve the report's case with a public note in the resident's language (the cases app
    notifies them once the transaction commits). A case already resolved or closed by hand
    cannot carry the note: the resident is then told directly."""
    from civicdesk.notifications.services import notify

    resident = report.reporter or (report.case.requester if report.case else None)
    language = _resident_language(resident) if resident else None
    with translation.override(language):
        note = note_for()
    case = report.case
    if case is not None:
        case.refresh_from_db(fields=["status"])
        if workflow.can_move(case.status, workflow.RESOLVED):
            case_services.case_transition(
                case=case, target=workflow.RESOLVED, actor=actor, note=note, public=True
            )
            return
    if resident is not None:
        context = {
            "report": report,
            "reference": case.reference if case else "",
            "note": note,
        }
        transaction.on_commit(lambda: notify(resident, template_key, context), robust=True)


def _report_found(
    report: MissingPaymentReport, *, amount_minor: int, booked_on: dt.date, actor
) -> None:
    report = MissingPaymentReport.objects.select_related("case", "account", "reporter").get(
        pk=report.pk
    )
    report.status = MissingPaymentReport.Status.MATCHED
    report.resolved_at = timezone.now()
    report.save(update_fields=["status", "resolved_at", "updated_at"])

    def note() -> str:
        return _(
            "We found your payment of %(amount)s (booked by the bank on %(date)s) and credited it "
            "to account %(number)s."
        ) % {
            "amount": money_text(amount_minor, report.currency),
            "date": _date_text(booked_on),
            "number": report.account.number,
        }

    _case_close(report, actor=actor, note_for=note, template_key="ledger/missing_payment_found")


def _validated_report(
    *, account: PersonalAccount, paid_on, amount, bank_reference: str, currency: str
) -> tuple[dt.date, int, str]:
    errors: dict[str, list[str]] = {}
    amount_minor = 0
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        errors["amount"] = [_("Give the amount as a number.")]
    else:
        try:
            amount_minor = money_to_minor(Decimal(amount), currency=currency, field="amount")
        except ValidationError as exc:
            errors["amount"] = exc.message_dict["amount"]
        else:
            if amount_minor <= 0:
                errors["amount"] = [_("The amount must be more than zero.")]
    today = operator_today()
    if not isinstance(paid_on, dt.date) or isinstance(paid_on, dt.datetime):
        errors["paid_on"] = [_("Give the date you paid.")]
    elif paid_on > today:
        errors["paid_on"] = [_("The date you paid cannot be in the future.")]
    elif paid_on < _years_before(today, REPORT_MAX_AGE_YEARS):
        errors["paid_on"] = [
            _("Payments older than %(years)d years cannot be reported here; please call us.")
            % {"years": REPORT_MAX_AGE_YEARS}
        ]
    reference = " ".join((bank_reference or "").split())
    if len(reference) > 100:
        errors["bank_reference"] = [_("The bank reference has at most 100 characters.")]
    if account.status == PersonalAccount.Status.CLOSED:
        errors["account"] = [_("Account %(number)s is closed.") % {"number": account.number}]
    if errors:
        raise ValidationError(errors)
    return paid_on, amount_minor, reference


@transaction.atomic
def missing_payment_report(
    *,
    account: PersonalAccount,
    reporter,
    paid_on: dt.date,
    amount: Decimal,
    bank_reference: str,
    proof=None,
    channel: str = Channel.PORTAL,
    actor=None,
) -> MissingPaymentReport:
    """A resident says a payment does not show: validate it, file a case for the revenue team
    (the proof goes in as a case attachment, checked by its content) and keep the report.
    The caller has checked that ``reporter`` may see ``account``; the service checks again that
    it is linked to them."""
    from civicdesk.registry.selectors import accounts_for_user

    currency = _operator().currency.upper()
    if not accounts_for_user(reporter).filter(pk=account.pk).exists():
        raise ValidationError({"account": _("This account is not linked to you.")})
    paid_on, amount_minor, reference = _validated_report(
        account=account,
        paid_on=paid_on,
        amount=amount,
        bank_reference=bank_reference,
        currency=currency,
    )
    earlier = (
        MissingPaymentReport.objects.filter(
            account=account,
            status=MissingPaymentReport.Status.OPEN,
            paid_on=paid_on,
            amount_minor=amount_minor,
        )
        .select_related("case")
        .first()
    )
    if earlier is not None:
        raise ValidationError(
            {
                "amount": _(
                    "You already reported this payment (request %(reference)s); we are looking "
                    "for it."
                )
                % {"reference": earlier.case.reference if earlier.case else "—"}
            }
        )
    amount_label = money_text(amount_minor, currency)
    subject = _("Payment of %(amount)s on %(date)s does not show") % {
        "amount": amount_label,
        "date": paid_on.isoformat(),
    }
    description = "\n".join(
        [
            _("Account: %(number)s") % {"number": account.number},
            _("Paid on: %(date)s") % {"date": paid_on.isoformat()},
            _("Amount: %(amount)s") % {"amount": amount_label},
            _("Bank reference: %(reference)s") % {"reference": reference or "—"},
        ]
    )
    try:
        case = money_case_open(
            kind=Category.Kind.MISSING_PAYMENT,
            account=account,
            requester=reporter,
            subject=subject[:200],
            description=description,
            channel=channel,
            attachments=[proof] if proof else [],
            actor=actor or reporter,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "attachments" in exc.error_dict:
            errors = dict(exc.message_dict)
            errors["proof"] = errors.pop("attachments")
            raise ValidationError(errors) from exc
        raise
    return MissingPaymentReport.objects.create(
        account=account,
        reporter=reporter,
        paid_on=paid_on,
        amount_minor=amount_minor,
        currency=currency,
        bank_reference=reference,
        case=case,
    )


@transaction.atomic
def missing_payment_reject(
    *, report: MissingPaymentReport, actor, reason: str
) -> MissingPaymentReport:
    """The payment cannot be found: close the report, resolve its case with the reason (the
    resident is told)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Say why the payment cannot be found.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("Keep the reason under 500 characters.")})
    report = (
        MissingPaymentReport.objects.select_for_update(of=("self",))
        .select_related("case", "account", "reporter")
        .get(pk=report.pk)
    )
    if report.status != MissingPaymentReport.Status.OPEN:
        raise ValidationError(
            {
                "report": _("This missing-payment report is already closed: %(status)s.")
                % {"status": report.get_status_display()}
            }
        )
    report.status = MissingPaymentReport.Status.REJECTED
    report.resolved_at = timezone.now()
    report.save(update_fields=["status", "resolved_at", "updated_at"])

    def note() -> str:
        return _("We could not find your payment of %(amount)s made on %(date)s: %(reason)s") % {
            "amount": money_text(report.amount_minor, report.currency),
            "date": _date_text(report.paid_on),
            "reason": reason,
        }

    _case_close(report, actor=actor, note_for=note, template_key="ledger/missing_payment_rejected")
    return report
