"""`manage.py load_tariffs`: what it prints per tariff, every error of every file with the
file and the path, all or nothing across files, the dry run. Errors end in CommandError,
which `manage.py` turns into exit status 1."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civicdesk.core.models import AuditEvent
from civicdesk.tariffs.models import Tariff
from civicdesk.tariffs.tests.test_api import EXAMPLE_YAML

pytestmark = pytest.mark.django_db

WATER_YAML = """\
code: demo-water
name: Domestic water
service: cold_water
unit: kL
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: block
    blocks:
      - {up_to: 6, price: "24.10"}
      - {up_to: null, price: "31.75"}
"""
BROKEN_YAML = """\
code: broken
service: electricity
unit: kWh
currency: ZAR
valid_from: 2025-07-01
charges:
  - kind: block
    blocks:
      - {up_to: 100, price: "-2.50"}
      - {up_to: 50, price: "3.00"}
  - kind: fixed
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_tariffs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_loads_files_and_prints_each_tariff(tmp_path):
    out, _ = command(
        write(tmp_path, "electricity.yaml", EXAMPLE_YAML), write(tmp_path, "water.yaml", WATER_YAML)
    )
    assert out.splitlines() == ["example-electricity v1 created", "demo-water v1 created"]
    assert sorted(Tariff.objects.values_list("code", "version")) == [
        ("demo-water", 1),
        ("example-electricity", 1),
    ]


def test_the_same_text_twice_is_unchanged_and_a_change_is_the_next_version(tmp_path):
    path = write(tmp_path, "electricity.yaml", EXAMPLE_YAML)
    command(path)
    assert command(path)[0].splitlines() == ["example-electricity v1 unchanged"]
    write(tmp_path, "electricity.yaml", EXAMPLE_YAML.replace('"150.00"', '"165.00"'))
    assert command(path)[0].splitlines() == ["example-electricity v2 created"]
    assert Tariff.objects.count() == 2


def test_errors_are_all_printed_and_nothing_is_loaded(tmp_path):
    good = write(tmp_path, "electricity.yaml", EXAMPLE_YAML)
    bad = write(tmp_path, "broken.yaml", BROKEN_YAML)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="3 errors: no tariff was loaded"):
        call_command("load_tariffs", good, bad, stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{bad}: ") for line in lines)
    for path in (
        "charges[0].blocks[0].price",
        "charges[0].blocks[1].up_to",
        "charges[1]:",
    ):
        assert any(f"{bad}: {path}" in line for line in lines), (path, lines)
    assert "example-electricity" not in out.getvalue()
    assert not Tariff.objects.exists()  # the good file was not loaded either


def test_a_dry_run_checks_and_stores_nothing(tmp_path):
    path = write(tmp_path, "electricity.yaml", EXAMPLE_YAML)
    out, _ = command(path, "--dry-run")
    assert out.splitlines() == ["example-electricity v1 created", "Dry run: nothing was stored."]
    assert not Tariff.objects.exists()
    assert not AuditEvent.objects.exists()
    with pytest.raises(CommandError):
        command(write(tmp_path, "broken.yaml", BROKEN_YAML), "--dry-run")


def test_the_loader_is_recorded(tmp_path, make_user):
    officer = make_user(role="revenue_officer")
    command(write(tmp_path, "electricity.yaml", EXAMPLE_YAML), "--user", officer.email)
    assert Tariff.objects.get().loaded_by == officer
    with pytest.raises(CommandError, match="No member of staff"):
        command(write(tmp_path, "water.yaml", WATER_YAML), "--user", "nobody@example.org")


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        command(str(tmp_path / "missing.yaml"))
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: Caf\xe9".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        command(str(latin))
