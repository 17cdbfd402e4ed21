"""The registry import: files in, records upserted by natural key, a report out.

`importer.py` reads and validates rows (pure); this service resolves the references between
records, compares with what is stored and writes only what is new or changed — so importing the
same files twice writes nothing the second time. It works a chunk of rows at a time: one query
per kind reads the chunk's existing rows and the records it refers to, the comparison runs in
memory, and new and changed rows are written with bulk inserts and updates together with their
history (simple_history's bulk helpers, naming the importing user).

Modes: a dry run validates everything and writes nothing; a real run writes the good rows and
reports the bad; all-or-nothing writes nothing at all when any row is bad. Every run, dry or
not, leaves an ImportRun with its counts and errors. The file formats: docs/import.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from civicdesk.registry import importer
from civicdesk.registry.importer import KINDS, Context, FileIssue, Issue, Record
from civicdesk.registry.models import (
    AccountHolder,
    AccountService,
    Building,
    DeliveryPreference,
    HolderRole,
    ImportRun,
    OpeningBalance,
    Operator,
    PersonalAccount,
    Premises,
    Provider,
    ServiceType,
    Territory,
)
from civicdesk.registry.models.organisation import PROVIDER_ERRORS
from civicdesk.registry.selectors import operator_get
from civicdesk.registry.services import account_number_error

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5000  # rows validated, compared and written together
IN_BATCH = 900  # values per `__in` lookup (SQLite's classic limit is 999 parameters)
WRITE_BATCH = 1000
KEPT_ERRORS = 1000  # errors stored on the ImportRun (the count is always complete)
REPORTED_ERRORS = 10_000  # errors kept in memory for the report
CHANGE_REASON = "import"

Progress = Callable[[int, int], None]  # (rows done, rows expected)

KIND_LABELS = {
    "territories": gettext_lazy("territories"),
    "providers": gettext_lazy("providers"),
    "buildings": gettext_lazy("buildings"),
    "premises": gettext_lazy("premises"),
    "accounts": gettext_lazy("personal accounts"),
    "holders": gettext_lazy("account holders"),
    "account_services": gettext_lazy("account services"),
    "opening_balances": gettext_lazy("opening balances"),
}

# The permission a user needs to import each kind (the back office passes what the user has).
KIND_MODELS: dict[str, type[models.Model]] = {
    "territories": Territory,
    "providers": Provider,
    "buildings": Building,
    "premises": Premises,
    "accounts": PersonalAccount,
    "holders": AccountHolder,
    "account_services": AccountService,
    "opening_balances": OpeningBalance,
}


def kinds_permitted(user) -> set[str]:
    """The kinds `user` may import: those whose records they may both add and change."""
    permitted = set()
    for kind, model in KIND_MODELS.items():
        name = model._meta.model_name
        if user.has_perm(f"registry.add_{name}") and user.has_perm(f"registry.change_{name}"):
            permitted.add(kind)
    return permitted


# --- messages -------------------------------------------------------------------------------

MESSAGES = {
    # cells
    "required": gettext_lazy("This column is required."),
    "too_long": gettext_lazy("At most %(max)d characters."),
    "code": gettext_lazy("Use letters, digits, hyphens and underscores only."),
    "not_a_number": gettext_lazy("Not a number."),
    "too_many_decimals": gettext_lazy("At most %(places)d decimals."),
    "too_large": gettext_lazy("Too large: at most %(max_digits)d digits before the point."),
    "below_minimum": gettext_lazy("At least %(minimum)s."),
    "above_maximum": gettext_lazy("At most %(maximum)s."),
    "not_an_integer": gettext_lazy("Not a whole number."),
    "not_a_date": gettext_lazy("Not a date: write 2024-03-31 or 31.03.2024."),
    "choice": gettext_lazy("Not one of: %(choices)s."),
    "unknown_services": gettext_lazy("Unknown service types: %(types)s"),
    "not_a_boolean": gettext_lazy("Write yes or no."),
    "email": gettext_lazy("Not a valid e-mail address."),
    "phone": gettext_lazy("Not a valid phone number: write it with the country code (+…)."),
    "currency": gettext_lazy("The operator's currency is %(currency)s."),
    "control_characters": gettext_lazy("Contains control characters."),
    "extra_values": gettext_lazy("More values than the %(columns)d columns of the header."),
    # rows
    "district_has_parent": gettext_lazy("A district is not part of another territory."),
    "area_needs_parent": gettext_lazy("An area must be part of a district."),
    "own_parent": gettext_lazy("A territory cannot be part of itself."),
    "parent_not_district": gettext_lazy("%(code)s is not a district."),
    "heated_exceeds_total": gettext_lazy("The heated area cannot exceed the total area."),
    "valuation_needs_amount": gettext_lazy("Give the valuation for its date."),
    "closed_before_opened": gettext_lazy("An account cannot close before it opens."),
    "closed_needs_date": gettext_lazy("Give the date the account closed."),
    "suspended_needs_date": gettext_lazy("Give the date the account was suspended."),
    "ends_before_starts": gettext_lazy("A service cannot end before it starts."),
    "duplicate": gettext_lazy("The same record as line %(line)d."),
    "duplicate_elsewhere": gettext_lazy("The same record as line %(line)d of %(file)s."),
    "unknown_territories": gettext_lazy("No territory has the code %(code)s."),
    "unknown_providers": gettext_lazy("No provider has the code %(code)s."),
    "unknown_buildings": gettext_lazy("No building has the code %(code)s."),
    "unknown_premises": gettext_lazy("Building %(building)s has no premises %(number)s."),
    "unknown_accounts": gettext_lazy("No account has the number %(number)s."),
    "balance_posted": gettext_lazy("Already posted to the ledger: it cannot change."),
    # files
    "empty_file": gettext_lazy("The file is empty."),
    "duplicate_columns": gettext_lazy("Columns named twice: %(columns)s."),
    "unnamed_column": gettext_lazy("Column %(position)d has no name."),
    "unknown_kind": gettext_lazy("Unknown kind %(kind)s: choose one of %(kinds)s."),
    "missing_columns": gettext_lazy("A %(kind)s file needs the columns: %(columns)s."),
    "unknown_columns": gettext_lazy("Unknown columns for a %(kind)s file: %(columns)s."),
    "unknown_header": gettext_lazy(
        "These columns make no known kind of file: %(columns)s. See the import guide."
    ),
    "ambiguous_kind": gettext_lazy("The columns fit several kinds (%(kinds)s): choose one."),
    "kind_not_allowed": gettext_lazy("You may not import %(kind)s."),
    "old_excel": gettext_lazy("Old .xls files are not read: save it as .xlsx or CSV."),
    "not_utf8": gettext_lazy("The file is not UTF-8 text: save it as CSV UTF-8."),
    "bad_csv": gettext_lazy("Unreadable CSV: %(reason)s."),
    "bad_xlsx": gettext_lazy("Not a readable XLSX file."),
    "database": gettext_lazy("The database refused these rows (lines %(first)d-%(last)d)."),
}


def issue_message(issue: Issue, operator: Operator) -> str:
    """The issue's reason, translated into the active language."""
    if issue.code.startswith("account_number_"):
        return account_number_error(issue.code.removeprefix("account_number_"), operator)
    if issue.code in PROVIDER_ERRORS:
        return str(PROVIDER_ERRORS[issue.code])
    template = MESSAGES.get(issue.code)
    if template is None:  # pragma: no cover - every code has a message (tested)
        return issue.code
    params = dict(issue.params)
    if "kind" in params and params["kind"] in KIND_LABELS:
        params["kind"] = KIND_LABELS[params["kind"]]
    return str(template) % params if params else str(template)


def error_line(error: dict) -> str:
    """ "premises.csv line 17, total_area: Not a number." — how an error reads on its own."""
    if error["field"]:
        where = _("line %(line)d, %(field)s") % {"line": error["line"], "field": error["field"]}
    else:
        where = _("line %(line)d") % {"line": error["line"]}
    return f"{error['file']} {where}: {error['message']}"


# --- the report -----------------------------------------------------------------------------


@dataclass
class ImportSource:
    """A file to import: its name (for the report) and its bytes (seekable)."""

    name: str
    stream: BinaryIO


@dataclass
class FileReport:
    name: str
    kind: str = ""
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, ""))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }


@dataclass
class ImportReport:
    """What a run read and wrote (or, in a dry run or an all-or-nothing run that failed,
    what it would have written: `applied` says whether the writes were kept)."""

    run: ImportRun
    dry_run: bool
    all_or_nothing: bool
    applied: bool = False
    files: list[FileReport] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def created(self) -> int:
        return self._sum("created")

    @property
    def updated(self) -> int:
        return self._sum("updated")

    @property
    def written(self) -> int:
        return self.created + self.updated

    @property
    def unchanged(self) -> int:
        return self._sum("unchanged")

    @property
    def refused(self) -> int:
        return self._sum("refused")

    @property
    def ok(self) -> bool:
        return self.error_count == 0


# --- the run --------------------------------------------------------------------------------


class _Pending:
    """The primary key of a record a dry run would create (it can match nothing stored)."""

    def __repr__(self) -> str:
        return "<pending>"


PENDING = _Pending()


@dataclass(frozen=True)
class _Table:
    model: type[models.Model]
    key: tuple[str, ...]  # the natural key in the table's columns (foreign keys as <name>_id)


TABLES = {
    "territories": _Table(Territory, ("code",)),
    "providers": _Table(Provider, ("code",)),
    "buildings": _Table(Building, ("code",)),
    "premises": _Table(Premises, ("building_id", "number")),
    "accounts": _Table(PersonalAccount, ("number",)),
    "holders": _Table(AccountHolder, ("account_id", "full_name", "role")),
    "account_services": _Table(
        AccountService, ("account_id", "service_type", "provider_id", "starts_on")
    ),
    "opening_balances": _Table(OpeningBalance, ("account_id", "provider_id", "as_of")),
}
# How a reference by natural key is looked up: model, the key's column(s), a tag to keep.
_SINGLE_KEY_REFS = {
    "territories": (Territory, "code"),
    "providers": (Provider, "code"),
    "buildings": (Building, "code"),
    "accounts": (PersonalAccount, "number"),
}


class _Stop(Exception):
    """Stop reading: the database refused a chunk."""


class _RollBack(Exception):
    """All or nothing, and something was bad."""


def _choices() -> dict[str, frozenset[str]]:
    return {
        "territory_kind": frozenset(Territory.Kind.values),
        "management_form": frozenset(Building.ManagementForm.values),
        "premises_kind": frozenset(Premises.Kind.values),
        "account_status": frozenset(PersonalAccount.Status.values),
        "delivery_preference": frozenset(DeliveryPreference.values),
        "holder_role": frozenset(HolderRole.values),
        "service_type": frozenset(ServiceType.values),
    }


def import_context(operator: Operator) -> Context:
    return Context(
        account_format=operator.account_number_format,
        jurisdiction=operator.jurisdiction,
        currency=operator.currency,
        choices=_choices(),
    )


def _same(current: Any, new: Any) -> bool:
    if isinstance(current, phonenumbers.PhoneNumber):  # stored valid, so no need to check again
        current = phonenumbers.format_number(current, phonenumbers.PhoneNumberFormat.E164)
    if isinstance(new, list) and isinstance(current, list):
        return sorted(map(str, current)) == sorted(map(str, new))
    if current is None or new is None:
        return current is new or (current in ("", None) and new in ("", None))
    return current == new


def registry_import(
    sources: list[ImportSource],
    *,
    user=None,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    kind: str | None = None,
    kinds_allowed: set[str] | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportReport:
    """Import `sources` (CSV or XLSX) in dependency order and report. `kind` forces the kind of
    every file (else each file's header tells); `kinds_allowed` limits what may be imported."""
    operator = operator_get()
    if operator is None:
        raise ValidationError(_("The operator is not set up yet."))
    actor = user if getattr(user, "pk", None) else None
    run = ImportRun.objects.create(
        started_by=actor,
        files=[s.name for s in sources],
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
    )
    job = _Import(
        operator=operator,
        report=ImportReport(run=run, dry_run=dry_run, all_or_nothing=all_or_nothing),
        user=actor,
        kind=kind,
        kinds_allowed=kinds_allowed,
        progress=progress,
        chunk_rows=chunk_rows,
    )
    try:
        job.run(sources)
    except BaseException:
        run.status = ImportRun.Status.FAILED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        raise
    report = job.report
    order = {f.name: i for i, f in enumerate(report.files)}
    report.errors.sort(key=lambda e: (order.get(e["file"], 0), e["line"]))
    run.files = [f.as_dict() for f in report.files]
    run.rows_read = report.rows_read
    run.rows_written = report.written if (report.applied or dry_run) else 0
    run.rows_unchanged = report.unchanged
    run.errors = report.errors[:KEPT_ERRORS]
    run.status = (
        ImportRun.Status.FAILED
        if job.stopped or (all_or_nothing and not report.ok)
        else ImportRun.Status.DONE
    )
    run.finished_at = timezone.now()
    run.save()
    return report


class _Import:
    def __init__(self, *, operator, report, user, kind, kinds_allowed, progress, chunk_rows):
        self.operator = operator
        self.ctx = import_context(operator)
        self.report = report
        self.user = user
        self.kind = kind
        self.kinds_allowed = kinds_allowed
        self.progress = progress
        self.chunk_rows = chunk_rows
        self.now = timezone.now()
        self.stopped = False
        self.rows_done = 0
        self.rows_expected = 0
        # Natural key → (primary key or PENDING, tag) of records known to exist (or to be
        # created by this run); keys known not to exist; keys already seen in this run.
        self.known: dict[str, dict[tuple, tuple[Any, str | None]]] = defaultdict(dict)
        self.absent: dict[str, set[tuple]] = defaultdict(set)
        self.seen: dict[str, dict[tuple, tuple[str, int]]] = defaultdict(dict)

    # -- orchestration ------------------------------------------------------------------------

    @property
    def writing(self) -> bool:
        if self.report.dry_run:
            return False
        return not (self.report.all_or_nothing and self.report.error_count)

    def run(self, sources: list[ImportSource]) -> None:
        opened = []
        try:
            for source in sources:
                file_report = FileReport(name=source.name)
                self.report.files.append(file_report)
                table = self._open(source, file_report)
                if table is not None:
                    opened.append(table)
            opened.sort(key=lambda t: KINDS.index(t[1].kind))
            self._tick()
            if self.report.all_or_nothing and not self.report.dry_run:
                try:
                    with transaction.atomic():
                        self._import_all(opened)
                        if not self.report.ok or self.stopped:
                            raise _RollBack
                    self.report.applied = True
                except _RollBack:
                    self.report.applied = False
            else:
                self._import_all(opened)
                self.report.applied = not self.report.dry_run
        finally:
            for rows, *_rest in opened:
                rows.close()

    def _open(self, source: ImportSource, file_report: FileReport):
        """(rows iterator, file report, column names) once the header is read; else None."""
        try:
            expected = importer.count_rows(source.stream)
            rows = importer.read_table(source.stream)
            first = next(rows, None)
            if first is None:
                raise FileIssue("empty_file")
            names = importer.header_names(first[1])
            kind = importer.detect_kind(names, self.kind)
        except FileIssue as exc:
            self._error(file_report, exc.issue)
            return None
        file_report.kind = kind
        if self.kinds_allowed is not None and kind not in self.kinds_allowed:
            rows.close()
            self._error(file_report, Issue(1, "", "kind_not_allowed", {"kind": kind}))
            return None
        self.rows_expected += expected
        return rows, file_report, names

    def _import_all(self, opened) -> None:
        for rows, file_report, names in opened:
            if self.stopped:
                return
            try:
                self._import_file(rows, file_report, names)
            except _Stop:
                self.stopped = True

    def _import_file(self, rows: Iterator, file_report: FileReport, names: list[str]) -> None:
        kind = file_report.kind
        seen = self.seen[kind]
        # Territories refer to each other (areas to districts): take the file whole.
        size = self.chunk_rows if kind != "territories" else 1 << 30
        batch: list[Record] = []
        try:
            for line, cells in rows:
                if importer.row_is_empty(cells):
                    continue
                file_report.rows_read += 1
                self.rows_done += 1
                row, issues = importer.row_values(names, cells, line)
                result = importer.parse_row(kind, row, line, self.ctx)
                if isinstance(result, list):
                    issues.extend(result)
                elif not issues:
                    if result.key in seen:
                        name, first = seen[result.key]
                        if name == file_report.name:
                            issues.append(Issue(line, "", "duplicate", {"line": first}))
                        else:
                            params = {"line": first, "file": name}
                            issues.append(Issue(line, "", "duplicate_elsewhere", params))
                    else:
                        seen[result.key] = (file_report.name, line)
                        batch.append(result)
                if issues:
                    self._refuse(file_report, issues)
                if len(batch) >= size:
                    self._apply(kind, batch, file_report)
                    batch = []
                    self._tick()
        except FileIssue as exc:
            self._error(file_report, exc.issue)
        if batch:
            self._apply(kind, batch, file_report)
        self._tick()

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.rows_done, max(self.rows_expected, self.rows_done))

    def _error(self, file_report: FileReport, issue: Issue) -> None:
        self.report.error_count += 1
        if len(self.report.errors) < REPORTED_ERRORS:
            self.report.errors.append(
                {
                    "file": file_report.name,
                    "line": issue.line,
                    "field": issue.field,
                    "code": issue.code,
                    "message": issue_message(issue, self.operator),
                }
            )

    def _refuse(self, file_report: FileReport, issues: list[Issue]) -> None:
        file_report.refused += 1
        for issue in issues:
            self._error(file_report, issue)

    # -- one chunk ----------------------------------------------------------------------------

    def _apply(self, kind: str, records: list[Record], file_report: FileReport) -> None:
        if kind == "territories":  # districts first, so that areas find them
            districts = [r for r in records if r.refs.get("parent") is None]
            areas = [r for r in records if r.refs.get("parent") is not None]
            area_keys = {r.key for r in areas}
            for r in areas:  # an area's parent is another area of this file
                if (parent := r.refs["parent"].key) in area_keys:
                    issue = Issue(r.line, "parent_code", "parent_not_district", {"code": parent[0]})
                    self._refuse(file_report, [issue])
            areas = [r for r in areas if r.refs["parent"].key not in area_keys]
            self._apply_chunk(kind, districts, file_report)
            self._apply_chunk(kind, areas, file_report)
        else:
            self._apply_chunk(kind, records, file_report)

    def _apply_chunk(self, kind: str, records: list[Record], file_report: FileReport) -> None:
        if not records:
            return
        rows = self._resolve(kind, records, file_report)
        table = TABLES[kind]
        existing = self._existing(table, [row for _rec, row in rows])
        creates: list[tuple[Record, dict]] = []
        updates: list[tuple[Record, models.Model]] = []
        changed_fields: set[str] = set()
        for rec, row in rows:
            key = tuple(row[f] for f in table.key)
            current = existing.get(key)
            if current is None:
                creates.append((rec, row))
                continue
            changed = [f for f, value in row.items() if not _same(getattr(current, f), value)]
            if changed and kind == "opening_balances" and current.posted_at is not None:
                self._refuse(file_report, [Issue(rec.line, "amount", "balance_posted")])
                continue
            self.known[kind][rec.key] = (current.pk, _tag(kind, row))
            if changed:
                for f in changed:
                    setattr(current, f, row[f])
                updates.append((rec, current))
                changed_fields.update(changed)
            else:
                file_report.unchanged += 1
        file_report.created += len(creates)
        file_report.updated += len(updates)
        if not self.writing:
            for rec, row in creates:
                self.known[kind][rec.key] = (PENDING, _tag(kind, row))
            return
        if not (creates or updates):
            return
        try:
            with transaction.atomic():
                created = self._write(table, creates, [obj for _r, obj in updates], changed_fields)
                if kind == "accounts" and created:
                    self._advance_account_sequence([obj.number for obj in created])
        except DatabaseError as exc:
            logger.exception("registry import: the database refused a chunk")
            file_report.created -= len(creates)
            file_report.updated -= len(updates)
            lines = [rec.line for rec in records]
            self._error(
                file_report,
                Issue(min(lines), "", "database", {"first": min(lines), "last": max(lines)}),
            )
            raise _Stop from exc
        for (rec, row), obj in zip(creates, created, strict=True):
            self.known[kind][rec.key] = (obj.pk, _tag(kind, row))

    def _resolve(self, kind: str, records: list[Record], file_report: FileReport):
        """(record, row of column values) for the records whose references all resolve."""
        wanted: dict[str, set[tuple]] = defaultdict(set)
        for rec in records:
            for ref in rec.refs.values():
                if ref is None:
                    continue
                if ref.key not in self.known[ref.kind] and ref.key not in self.absent[ref.kind]:
                    wanted[ref.kind].add(ref.key)
        for ref_kind, keys in wanted.items():
            self._look_up(ref_kind, keys)
        rows = []
        for rec in records:
            row = dict(rec.fields)
            issues = []
            for name, ref in rec.refs.items():
                if ref is None:
                    row[f"{name}_id"] = None
                    continue
                hit = self.known[ref.kind].get(ref.key)
                if hit is None:
                    issues.append(
                        Issue(rec.line, ref.column, f"unknown_{ref.kind}", _ref_params(ref))
                    )
                    continue
                pk, tag = hit
                if kind == "territories" and tag != "district":
                    issues.append(
                        Issue(rec.line, ref.column, "parent_not_district", {"code": ref.key[0]})
                    )
                row[f"{name}_id"] = pk
            if issues:
                self._refuse(file_report, issues)
            else:
                rows.append((rec, row))
        return rows

    def _look_up(self, kind: str, keys: set[tuple]) -> None:
        known = self.known[kind]
        if kind == "premises":
            for group in importer.chunks(sorted(keys), IN_BATCH // 2):
                found = Premises.objects.filter(
                    building__code__in={k[0] for k in group}, number__in={k[1] for k in group}
                ).values_list("building__code", "number", "pk")
                for code, number, pk in found:
                    known[(code, number)] = (pk, None)
        else:
            model, column = _SINGLE_KEY_REFS[kind]
            extra = ("kind",) if kind == "territories" else ()
            for group in importer.chunks(sorted(keys), IN_BATCH):
                found = model.objects.filter(**{f"{column}__in": [k[0] for k in group]})
                for value, pk, *tag in found.values_list(column, "pk", *extra):
                    known[(value,)] = (pk, tag[0] if tag else None)
        self.absent[kind].update(k for k in keys if k not in known)

    def _existing(self, table: _Table, rows: list[dict]) -> dict[tuple, models.Model]:
        """The stored rows with these natural keys, by key (one query per IN_BATCH values)."""
        first = table.key[0]
        values = {row[first] for row in rows if row[first] is not PENDING}
        wanted = {tuple(row[f] for f in table.key) for row in rows}
        existing = {}
        for group in importer.chunks(sorted(values), IN_BATCH):
            for obj in table.model.objects.filter(**{f"{first}__in": group}):
                key = tuple(getattr(obj, f) for f in table.key)
                if key in wanted:
                    existing[key] = obj
        return existing

    def _write(self, table: _Table, creates, updates, changed_fields) -> list[models.Model]:
        model = table.model
        history = hasattr(model, "history")
        created: list[models.Model] = []
        if creates:
            objs = [model(**row) for _rec, row in creates]
            if history:
                created = bulk_create_with_history(
                    objs,
                    model,
                    batch_size=WRITE_BATCH,
                    default_user=self.user,
                    default_change_reason=CHANGE_REASON,
                    default_date=self.now,
                )
            else:
                created = model.objects.bulk_create(objs, batch_size=WRITE_BATCH)
        if updates:
            fields = sorted(changed_fields)
            if any(f.name == "updated_at" for f in model._meta.fields):
                for obj in updates:
                    obj.updated_at = self.now
                fields.append("updated_at")
            if history:
                bulk_update_with_history(
                    updates,
                    model,
                    fields,
                    batch_size=WRITE_BATCH,
                    default_user=self.user,
                    default_change_reason=CHANGE_REASON,
                    default_date=self.now,
                )
            else:
                model.objects.bulk_update(updates, fields, batch_size=WRITE_BATCH)
        return created

    def _advance_account_sequence(self, numbers: list[str]) -> None:
        """Keep the operator's counter past imported numbers, so new accounts never collide."""
        fmt = self.operator.account_number_format
        sequences = [int(n[len(fmt.prefix) : -1]) for n in numbers if n.startswith(fmt.prefix)]
        if sequences:
            top = max(sequences) + 1
            Operator.objects.filter(pk=self.operator.pk, account_number_next__lt=top).update(
                account_number_next=top
            )


def _tag(kind: str, row: dict) -> str | None:
    """What references need to know besides the key: a territory's kind (district or area)."""
    return row.get("kind") if kind == "territories" else None


def _ref_params(ref: importer.Ref) -> dict[str, Any]:
    if ref.kind == "premises":
        return {"building": ref.key[0], "number": ref.key[1]}
    if ref.kind == "accounts":
        return {"number": ref.key[0]}
    return {"code": ref.key[0]}
