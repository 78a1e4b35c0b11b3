"""`manage.py import_staff`: the same service, summary and errors as the web upload, with exit
codes 0 (clean), 1 (row errors) and 2 (unreadable file)."""

import io

import pytest
from django.core.management import call_command

from tests.uploads.conftest import csv_bytes, person
from workers.models import Employment

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_staff", *[str(arg) for arg in args], stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_clean_file_checks_then_imports_with_commit(postgres, employer, tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(csv_bytes([person(1), person(2)]))
    code, out, _ = run(employer.pk, path)
    assert code == 0
    assert "New: 2" in out and "Nothing was imported" in out
    assert Employment.objects.count() == 0
    code, out, _ = run(employer.pk, path, "--commit")
    assert code == 0
    assert "Imported: 2 new, 0 updated, 0 unchanged, 0 marked as left." in out
    assert Employment.objects.count() == 2
    path.write_bytes(csv_bytes([person(1)]))
    code, out, _ = run(employer.pk, path, "--commit", "--replace")
    assert code == 0
    assert "To be marked as left: 1" in out and "1 marked as left" in out


def test_row_errors_exit_1_with_the_errors_listed(postgres, employer, tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(csv_bytes([person(1), person(2, date_of_birth="31/02/1980")]))
    code, out, _ = run(employer.pk, path, "--commit")
    assert code == 1
    assert "Rows with errors: 1" in out
    assert "3\tDate of birth\t31/02/1980\t31/02/1980 is not a real date." in out
    assert Employment.objects.count() == 0


def test_unreadable_file_exits_2(postgres, employer, tmp_path):
    path = tmp_path / "staff.xlsx"
    path.write_bytes(b"\x00\x01garbage" * 100)
    code, _, err = run(employer.pk, path)
    assert code == 2
    assert "We could not read this file as a staff list" in err
    code, _, err = run(employer.pk, tmp_path / "missing.csv")
    assert code == 2
