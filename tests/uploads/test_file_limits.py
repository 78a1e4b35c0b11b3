"""Files built to cost the server far more than a staff list could (the limits of
docs/data-formats.md): a workbook of millions of strings, rows or cells, a header of 200,000
columns, and text in mixed encodings. Each is refused with a plain-English message, the web
request reads no workbook in full, and text is decoded right or not at all, never stored
garbled."""

import csv
import io
import zipfile

import pytest

from employers import staff_files
from employers.imports import commit_staff_upload
from employers.models import StaffUpload
from employers.staff_files import UnreadableFile, open_staff_file
from tests.uploads.conftest import (
    KEYS,
    check,
    csv_bytes,
    person,
    shared_strings_workbook,
    xlsx_bytes,
)
from tests.uploads.test_bad_files import refused
from tests.uploads.test_pages import post_file
from workers.models import Worker
from workers.staff_columns import HEADERS

pytestmark = pytest.mark.django_db

STAFF_TABLE = [HEADERS, [person(1)[key] for key in KEYS]]


def test_a_workbook_declaring_six_million_strings_is_refused_by_the_upload_page(
    postgres, client, employer, employer_user
):
    content = shared_strings_workbook(STAFF_TABLE, unused_strings=1000, declare=6_000_000)
    client.force_login(employer_user)
    response = post_file(client, employer, content, "staff.xlsx")
    assert response.status_code == 200
    assert "The Excel file holds 6,000,000 different pieces of text" in response.content.decode()
    assert StaffUpload.objects.count() == 0


def test_the_upload_page_reads_no_workbook_in_full(
    postgres, client, employer, employer_user, monkeypatch
):
    def parse(*args, **kwargs):
        raise AssertionError("the web request parsed the workbook")

    monkeypatch.setattr(staff_files, "_load_workbook", parse)
    client.force_login(employer_user)
    response = post_file(client, employer, xlsx_bytes(STAFF_TABLE), "staff.xlsx")
    assert response.status_code == 302
    assert StaffUpload.objects.get().status == StaffUpload.Status.VALIDATING


def test_undeclared_strings_are_counted_by_the_check_job(postgres, employer, monkeypatch):
    """Millions of one-letter strings zip small; the limit (lowered here to keep the test
    fast) is counted by the job, which fails the upload with the reason."""
    monkeypatch.setattr(staff_files, "CELLS_PER_ROW", 1)
    content = shared_strings_workbook(STAFF_TABLE, unused_strings=150_000, declare=False)
    assert len(content) < 200_000
    upload = check(employer, content, "staff.xlsx")
    assert upload.status == StaffUpload.Status.FAILED
    assert upload.failure_reason.startswith(
        "The Excel file holds more than 100,000 different pieces of text"
    )
    assert Worker.objects.count() == 0


def test_strings_the_quick_count_misses_are_still_counted_while_parsed(monkeypatch):
    monkeypatch.setattr(staff_files, "CELLS_PER_ROW", 1)
    monkeypatch.setattr(staff_files, "_count_strings", lambda source: 0)
    content = shared_strings_workbook(STAFF_TABLE, unused_strings=150_000, declare=False)
    with pytest.raises(UnreadableFile, match="more than 100,000 different pieces of text"):
        open_staff_file(content, "staff.xlsx")


def test_a_workbook_within_the_limits_reads_its_shared_strings_as_openpyxl_does():
    rows = [
        *STAFF_TABLE,
        [person(2, first_name="Zoë", last_name="x005F_Brontë")[key] for key in KEYS],
    ]
    sheet = open_staff_file(shared_strings_workbook(rows), "staff.xlsx")
    names = [(values["first_name"], values["last_name"]) for _, values in sheet.rows()]
    assert names == [("Amara", person(1)["last_name"]), ("Zoë", "Brontë")]


def test_a_header_of_200000_columns_is_refused(postgres, client, employer, employer_user):
    header = [*HEADERS[:3], *(f"Column {number}" for number in range(200_000 - 3))]
    content = csv_bytes([person(1)], header=header)
    client.force_login(employer_user)
    response = post_file(client, employer, content)
    assert response.status_code == 200
    assert (
        "This file has 200,000 columns. A staff list has at most 200 columns: remove the extra "
        "columns and upload it again."
    ) in response.content.decode()
    assert len(response.content) < 100_000
    assert StaffUpload.objects.count() == 0


def test_a_workbook_declared_wider_than_a_staff_list_is_refused(postgres, employer):
    content = shared_strings_workbook(STAFF_TABLE, dimension="A1:XFD2")
    assert refused(employer, content, "staff.xlsx").startswith("This file has 16,384 columns.")


def test_a_row_wider_than_a_staff_list_is_refused_while_read(postgres, employer):
    rows = [*STAFF_TABLE, [*STAFF_TABLE[1], *(["x"] * 300)]]
    upload = check(employer, shared_strings_workbook(rows), "staff.xlsx")
    assert upload.status == StaffUpload.Status.FAILED
    assert upload.failure_reason.startswith("This file has 313 columns.")


def test_ignored_columns_are_listed_up_to_a_limit(postgres, employer):
    header = [*HEADERS, *(f"Extra {number}" for number in range(150))]
    upload = check(employer, csv_bytes([person(1)], header=header))
    assert upload.new_count == 1
    (warning,) = upload.warnings
    assert warning.count("“Extra") == staff_files.IGNORED_COLUMNS_SHOWN
    assert warning.endswith("“Extra 19” and 130 more.")


def test_a_file_holding_more_cells_than_its_rows_could_is_refused():
    header = [*HEADERS, *(f"Extra {number}" for number in range(100))]
    rows = [[*person(n).values(), *(["filled"] * 100)] for n in range(3)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    with pytest.raises(UnreadableFile, match="more than 300 filled cells"):
        for _ in open_staff_file(buffer.getvalue().encode(), max_rows=10).rows():
            pass


def test_a_sheet_skipping_to_row_five_million_is_refused_while_read(postgres, employer):
    """openpyxl makes an empty row for each row number a sheet skips: five million of them
    would hold the job for seconds, so the reading stops soon after the last row a staff
    list could use."""
    template = zipfile.ZipFile(io.BytesIO(shared_strings_workbook(STAFF_TABLE)))
    sheet = template.read("xl/worksheets/sheet1.xml").replace(
        b"</sheetData>", b'<row r="5000000"><c r="A5000000" t="s"><v>0</v></c></row></sheetData>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in template.infolist():
            archive.writestr(item, template.read(item) if "sheet1" not in item.filename else sheet)
    upload = check(employer, out.getvalue(), "staff.xlsx")
    assert upload.status == StaffUpload.Status.FAILED
    assert upload.failure_reason.startswith("Your file has more than 100,000 rows of staff")


def test_a_utf8_mark_before_windows_1252_text_is_read_as_windows_1252(
    postgres, client, employer, employer_user
):
    rows = [person(1, first_name="Zoë", last_name="Brontë")]
    content = b"\xef\xbb\xbf" + csv_bytes(rows, encoding="cp1252")
    client.force_login(employer_user)
    response = post_file(client, employer, content)
    assert response.status_code == 302
    upload = StaffUpload.objects.get()
    from employers.tasks import validate_staff_upload_task

    validate_staff_upload_task(upload.pk)
    upload.refresh_from_db()
    commit_staff_upload(user=None, upload=upload)
    assert Worker.objects.values_list("first_name", "last_name").get() == ("Zoë", "Brontë")


def test_a_windows_1252_file_is_stored_without_garbling(postgres, employer):
    rows = [person(1, first_name="Zoë", last_name="Brontë", staff_reference="£42")]
    upload = check(employer, csv_bytes(rows, encoding="cp1252"))
    commit_staff_upload(user=None, upload=upload)
    worker = Worker.objects.get()
    assert (worker.first_name, worker.last_name) == ("Zoë", "Brontë")
    assert worker.employments.get().staff_reference == "£42"


def mixed_file(utf8_rows: int, cp1252_rows: int) -> bytes:
    """Lines 2.. in UTF-8, then lines in Windows-1252: two exports pasted together."""
    first = csv_bytes([person(n, first_name="Zoë") for n in range(utf8_rows)])
    second = csv_bytes(
        [person(100 + n, last_name="Brontë") for n in range(cp1252_rows)], encoding="cp1252"
    )
    return first + second.split(b"\r\n", 1)[1]


def test_a_file_mixing_utf8_and_windows_1252_is_refused_naming_the_rows(postgres, employer):
    message = refused(employer, mixed_file(utf8_rows=3, cp1252_rows=1))
    assert message.startswith(
        "Row 5 of the file is saved in a different text encoding from the rest, so we cannot "
        "read its letters correctly."
    )
    assert "CSV UTF-8" in message


def test_a_long_list_of_rows_in_another_encoding_is_cut_short(postgres, employer):
    message = refused(employer, mixed_file(utf8_rows=30, cp1252_rows=25))
    assert message.startswith(
        "Rows 32, 33, 34, 35, 36, 37, 38, 39, 40, 41 and 15 more of the file are saved"
    )


def test_excel_unicode_text_is_read(postgres, employer):
    """Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated."""
    text = csv_bytes([person(1, first_name="Zoë", last_name="Łukasz")], delimiter="\t")
    upload = check(employer, text.decode().encode("utf-16"), "staff.txt")
    assert (upload.error_count, upload.new_count) == (0, 1)
    commit_staff_upload(user=None, upload=upload)
    assert Worker.objects.values_list("first_name", "last_name").get() == ("Zoë", "Łukasz")
