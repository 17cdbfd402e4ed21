"""`manage.py import_registry`: summary, errors with line numbers, progress bar, exit status."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicdesk.registry.models import ImportRun, Premises, Territory

DATA = Path(__file__).parent / "data"


def command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_registry", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_imports_files_with_a_summary_and_a_progress_bar(operator, make_user):
    admin = make_user(role="operator_admin")
    out, err = command(
        str(DATA / "buildings.csv"), str(DATA / "territories.csv"), "--user", admin.email
    )
    assert "Rows read: 4; written: 4 (new 4, changed 0); unchanged: 0; refused: 0." in out
    assert "territories.csv (territories): read 2, new 2" in out
    assert "4/4" in err and "rows" in err  # tqdm
    assert Territory.history.filter(history_user=admin).count() == 2
    assert ImportRun.objects.get().started_by == admin


def test_bad_rows_are_listed_with_their_line_and_column(operator):
    command(str(DATA / "territories.csv"), str(DATA / "buildings.csv"), "--no-progress")
    out, err = command(str(DATA / "premises_bad.csv"), "--no-progress")
    assert "premises_bad.csv line 3, total_area: Not a number." in out
    assert "premises_bad.csv line 4, building_code: No building has the code b-nowhere." in out
    assert "premises_bad.csv line 7: The same record as line 2." in out
    assert "refused: 4" in out and err == ""
    assert Premises.objects.count() == 2


@pytest.mark.parametrize("mode", ["--dry-run", "--all-or-nothing"])
def test_bad_rows_fail_a_dry_run_and_an_all_or_nothing_run(operator, mode):
    command(str(DATA / "territories.csv"), str(DATA / "buildings.csv"), "--no-progress")
    with pytest.raises(CommandError, match="4 errors: nothing was written"):
        command(str(DATA / "premises_bad.csv"), mode, "--no-progress")
    assert Premises.objects.count() == 0


def test_a_clean_dry_run_succeeds_and_writes_nothing(operator):
    out, _err = command(str(DATA / "territories.csv"), "--dry-run", "--no-progress")
    assert out.startswith("Dry run: nothing was written.")
    assert Territory.objects.count() == 0


def test_forced_kind_unknown_user_and_missing_file(operator):
    out, _err = command(str(DATA / "territories.csv"), "--kind", "territories", "--no-progress")
    assert "new 2" in out
    with pytest.raises(CommandError, match="No user"):
        command(str(DATA / "territories.csv"), "--user", "nobody@example.org")
    with pytest.raises(CommandError, match="No such file"):
        command(str(DATA / "nothing-here.csv"))


def test_without_an_operator_the_command_says_so(db):
    with pytest.raises(CommandError, match="operator is not set up"):
        command(str(DATA / "territories.csv"), "--no-progress")
