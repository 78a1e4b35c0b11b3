"""Every row is checked (docs/data-formats.md): each problem is reported with the employer's
row number, the column, the value, and what to do; a file with any error imports nothing."""

import pytest

from employers.imports import UploadNotReady, commit_staff_upload
from employers.staff_files import open_staff_file
from employers.upload_report import errors_csv_response
from tests.uploads.conftest import KEYS, check, csv_bytes, person, problems, xlsx_bytes
from workers.models import Employment, Worker
from workers.staff_columns import HEADERS

pytestmark = pytest.mark.django_db


def test_impossible_and_future_dates_of_birth(postgres, employer):
    rows = [person(1), person(2, date_of_birth="31/02/1980"), person(3, date_of_birth="01/01/2099")]
    upload = check(employer, csv_bytes(rows))
    assert problems(upload) == [
        (3, "Date of birth", "31/02/1980 is not a real date. Check the day and the month"),
        (4, "Date of birth", "Date of birth is in the future. Check the year"),
    ]
    assert (upload.new_count, upload.error_count) == (1, 2)
    with pytest.raises(UploadNotReady):
        commit_staff_upload(user=None, upload=upload)
    assert Worker.objects.count() == 0


def test_each_field_is_checked(postgres, employer):
    rows = [
        person(1, first_name="", nhs_number="123 456 7890", home_postcode="XX1 1XX"),
        person(2, email="not-an-email", mobile="0207 946 0000", job_role="Astronaut"),
        person(3, email="", mobile="", direct_contact="Maybe", ethnicity="Q"),
        person(4, work_setting="", employment_type="Pirate", date_of_birth="03/04/2015"),
    ]
    found = {(row, column) for row, column, _message in problems(check(employer, csv_bytes(rows)))}
    assert found == {
        (2, "First name"),
        (2, "NHS number"),
        (2, "Home postcode"),
        (3, "Email"),
        (3, "Mobile"),
        (3, "Job role"),
        (4, "Email"),
        (4, "Direct contact with clinically vulnerable people"),
        (4, "Ethnicity"),
        (5, "Work setting"),
        (5, "Employment type"),
        (5, "Date of birth"),
    }


def test_duplicates_inside_the_file(postgres, employer):
    first = person(1)
    rows = [
        first,
        person(2, nhs_number=first["nhs_number"]),
        person(3, staff_reference=first["staff_reference"]),
        person(1, nhs_number="", staff_reference="OTHER"),
    ]
    upload = check(employer, csv_bytes(rows))
    assert [(row, column) for row, column, _ in problems(upload)] == [
        (3, "NHS number"),
        (4, "Staff reference"),
        (5, "First name"),
    ]
    assert problems(upload)[0][2].startswith("Row 2 has the same NHS number")


def test_formula_text_is_stored_as_text_and_neutralised_in_the_error_download(postgres, employer):
    formula = '=HYPERLINK("http://evil.example","Click")'
    clean = check(employer, csv_bytes([person(1, staff_reference=formula[:50])]))
    commit_staff_upload(user=None, upload=clean)
    assert Employment.objects.get().staff_reference == formula[:50]

    bad = check(employer, csv_bytes([person(2, job_role=formula)]))
    error = bad.errors.get()
    assert error.value == formula
    assert error.shown_value == "'" + formula
    body = b"".join(errors_csv_response(bad).streaming_content).decode("utf-8")
    assert body.startswith("\ufeffRow,Column,Value,What is wrong and how to fix it")
    assert "'=HYPERLINK" in body
    assert ',"=HYPERLINK' not in body and ",=HYPERLINK" not in body


def test_errors_keep_the_files_row_order_across_batches(postgres, employer, monkeypatch):
    monkeypatch.setattr("employers.imports.BATCH_SIZE", 7)
    rows = [
        person(n, date_of_birth="31/02/1980" if n % 4 == 0 else "03/04/1980") for n in range(40)
    ]
    upload = check(employer, csv_bytes(rows))
    numbers = [row for row, _column, _message in problems(upload)]
    assert numbers == sorted(numbers) == [n + 2 for n in range(40) if n % 4 == 0]
    assert upload.rows_done == upload.total_rows == 40


def test_formula_text_in_names_and_references_is_kept_and_neutralised_in_every_export(
    postgres, employer, tmp_path
):
    """Formula-like text is plain text: stored as typed, never evaluated (the XLSX reader does
    not compute formulas), and every file we hand out that can hold it starts it with an
    apostrophe: the errors download and the eligibility preview's CSV. A name never holds
    formula symbols, so there it is an error row."""
    import csv
    import io

    from django.core.management import call_command

    formula = '=HYPERLINK("http://evil.example","Pay")'
    named = check(employer, csv_bytes([person(1, first_name="@SUM(A1)")]))
    assert [(row, column) for row, column, _ in problems(named)] == [(2, "First name")]

    rows = [person(1, first_name="-Ann", staff_reference="+44 REF"), person(2)]
    rows[1]["staff_reference"] = formula[:50]
    upload = check(employer, csv_bytes(rows))
    assert problems(upload) == []
    commit_staff_upload(user=None, upload=upload)
    stored = {e.staff_reference: e for e in Employment.objects.select_related("worker")}
    assert stored["+44 REF"].worker.first_name == "-Ann"
    assert formula[:50] in stored

    # The same list as an XLSX whose cell holds a real formula: read as the text typed.
    workbook_row = [person(3)[key] for key in KEYS]
    workbook_row[KEYS.index("staff_reference")] = "=1+1"
    sheet = open_staff_file(xlsx_bytes([HEADERS, workbook_row]), "staff.xlsx")
    assert next(sheet.rows())[1]["staff_reference"] == "=1+1"

    path = tmp_path / "staff.csv"
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("eligibility_preview", str(path), stdout=out, stderr=io.StringIO())
    printed = {line[1] for line in csv.reader(io.StringIO(out.getvalue()))}
    assert "'+44 REF" in printed and "'" + formula[:50] in printed
    assert not any(value.startswith(("=", "+", "@")) for value in printed)
