"""The en, af, uk and ru catalogues are complete: every translatable string in the code and
templates has a translation in each, with the same placeholders."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[3]
LOCALE = ROOT / "civicdesk" / "locale"
LANGUAGES = ("af", "uk", "ru")
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{\{\s*\w+\s*\}\}|\{\w*\}")

pytestmark = pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="gettext is not installed (apt-get install gettext)"
)


@pytest.fixture(scope="module")
def source_msgids(tmp_path_factory) -> set[str]:
    """Every msgid the code and templates use, extracted afresh with makemessages."""
    work = tmp_path_factory.mktemp("messages")
    shutil.copytree(
        ROOT / "civicdesk",
        work / "civicdesk",
        ignore=shutil.ignore_patterns("locale", "tests", "__pycache__", "static"),
    )
    (work / "civicdesk" / "locale").mkdir()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "makemessages", "-l", "en", "--no-location"],
        cwd=work / "civicdesk",
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CIVICDESK_ENV": "development"},
    )
    catalogue = polib.pofile(
        str(work / "civicdesk" / "locale" / "en" / "LC_MESSAGES" / "django.po")
    )
    return {_key(entry) for entry in catalogue}


def _key(entry) -> str:
    return f"{entry.msgctxt or ''}\x04{entry.msgid}"


@pytest.mark.parametrize("language", ("en", *LANGUAGES))
def test_catalogue_has_every_string(language, source_msgids):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    present = {_key(entry) for entry in catalogue if not entry.obsolete}
    missing = sorted(k.split("\x04", 1)[1] for k in source_msgids - present)
    assert not missing, f"{language}: run `make makemessages` and translate: {missing[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"{language} untranslated: {untranslated[:20]}"
    assert not fuzzy, f"{language} fuzzy: {fuzzy[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_their_placeholders(language):
    catalogue = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    wrong = []
    for entry in catalogue.translated_entries():
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        if entry.msgid_plural:
            forms = entry.msgstr_plural.values()
            expected_any = [expected, sorted(PLACEHOLDER.findall(entry.msgid_plural))]
            if any(sorted(PLACEHOLDER.findall(f)) not in expected_any for f in forms):
                wrong.append(entry.msgid)
        elif sorted(PLACEHOLDER.findall(entry.msgstr)) != expected:
            wrong.append(entry.msgid)
    assert not wrong, f"{language}: placeholders differ in {wrong[:10]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_is_current(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make messages`"
    compiled = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(mo)) if not e.msgid_plural}
    stale = [
        e.msgid
        for e in polib.pofile(str(po)).translated_entries()
        if not e.msgid_plural and compiled.get((e.msgctxt, e.msgid)) != e.msgstr
    ]
    assert not stale, f"{language}: run `make messages`; stale: {stale[:10]}"
