"""Files that cannot be read as a staff list are refused with a clear message and nothing is
stored (docs/data-formats.md), and the readable oddities (encodings, delimiters, Excel cells)
are read right."""

import csv
import datetime
import io
import zipfile

import msoffcrypto.format.ooxml
import openpyxl
import pytest

from employers.imports import create_upload
from employers.models import StaffUpload, StaffUploadFile
from employers.staff_files import MAX_ROWS, UnreadableFile, open_staff_file
from tests.uploads.conftest import KEYS, check, csv_bytes, person, problems, xlsx_bytes
from workers.models import Employment, Worker
from workers.staff_columns import HEADERS

pytestmark = pytest.mark.django_db


def refused(employer, content: bytes, filename: str = "staff.csv") -> str:
    with pytest.raises(UnreadableFile) as caught:
        create_upload(user=None, employer=employer, content=content, filename=filename)
    assert StaffUpload.objects.count() == 0
    assert Worker.objects.count() == 0
    return caught.value.message


def test_empty_file(postgres, employer):
    assert "The file is empty" in refused(employer, b"")
    assert "The file is empty" in refused(employer, b"\r\n  \n")


def test_header_only(postgres, employer):
    message = refused(employer, csv_bytes([]))
    assert message.startswith("The file has column names but no staff")


def test_missing_required_column_is_named(postgres, employer):
    header = [h for h in HEADERS if h not in ("Date of birth", "Job role")]
    rows = [
        [v for h, v in zip(HEADERS, r, strict=True) if h in header]
        for r in [list(person(1).values())]
    ]
    content = ("\n".join(",".join(r) for r in [header, *rows])).encode()
    message = refused(employer, content)
    assert message.startswith("The columns are missing: Date of birth, Job role.")


def test_unknown_columns_are_ignored_and_listed_as_a_warning(postgres, employer):
    header = [*HEADERS, "Favourite colour", "Shoe size"]
    rows = [header, [*person(1).values(), "blue", "7"]]
    upload = check(employer, xlsx_bytes(rows), "staff.xlsx")
    assert upload.error_count == 0
    assert upload.new_count == 1
    assert upload.warnings == [
        "These columns are not part of the staff list template and were ignored: "
        "“Favourite colour”, “Shoe size”."
    ]


def test_binary_garbage(postgres, employer):
    garbage = bytes(range(256)) * 40
    assert "We could not read this file as a staff list" in refused(employer, garbage)


def test_renamed_non_spreadsheets(postgres, employer):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x10" * 200
    assert "We could not read this file" in refused(employer, png, "staff.csv")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert "This is not an Excel workbook" in refused(employer, docx.getvalue(), "staff.xlsx")
    prose = b"Dear colleague,\nplease find our staff below.\nThanks\n"
    assert "could not find the staff list columns" in refused(employer, prose, "staff.csv")


def test_password_protected_xlsx(postgres, employer):
    plain = io.BytesIO(xlsx_bytes([HEADERS, list(person(1).values())]))
    encrypted = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(plain).encrypt("secret", encrypted)
    message = refused(employer, encrypted.getvalue(), "staff.xlsx")
    assert message.startswith("The file is protected with a password")


def test_corrupt_xlsx(postgres, employer):
    content = xlsx_bytes([HEADERS, list(person(1).values())])
    truncated = content[: len(content) // 2]
    assert "The Excel file is damaged" in refused(employer, truncated, "staff.xlsx")
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook><sheets><sheet")
    assert "The Excel file is damaged" in refused(employer, broken.getvalue(), "staff.xlsx")


def test_zip_bomb(postgres, employer):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (400 * 1024 * 1024))
    assert len(bomb.getvalue()) < 1024 * 1024
    message = refused(employer, bomb.getvalue(), "staff.xlsx")
    assert "expands to far more data than a staff list holds" in message


def _sheet_with_rows(count: int, *, declare: bool) -> bytes:
    """A real workbook whose sheet has ``count`` data rows, streamed into the zip."""
    template = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADERS])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in template.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(item, template.read(item.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            if declare:
                sheet.write(f'<dimension ref="A1:M{count + 1}"/>'.encode())
            sheet.write(b'<sheetData><row r="1">')
            for index, header in enumerate(HEADERS):
                letter = chr(ord("A") + index)
                sheet.write(f'<c r="{letter}1" t="inlineStr"><is><t>{header}</t></is></c>'.encode())
            sheet.write(b"</row>")
            for number in range(2, count + 2):
                cell = f'<c r="A{number}" t="inlineStr"><is><t>A</t></is></c>'
                sheet.write(f'<row r="{number}">{cell}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def test_million_row_xlsx_is_refused_from_its_declared_size(postgres, employer):
    content = _sheet_with_rows(1_000_000, declare=True)
    assert len(content) < 20 * 1024 * 1024
    message = refused(employer, content, "staff.xlsx")
    assert message.startswith("Your file has more than 100,000 rows of staff")
    assert "1,000,000" in message


def test_too_many_rows_are_counted_while_streaming_when_undeclared(postgres, employer):
    sheet = open_staff_file(_sheet_with_rows(MAX_ROWS + 5, declare=False), "staff.xlsx")
    with pytest.raises(UnreadableFile, match="more than 100,000 rows"):
        for _ in sheet.rows():
            pass


def test_the_check_job_fails_an_upload_found_too_long(postgres, employer, monkeypatch):
    monkeypatch.setattr("employers.staff_files.MAX_ROWS", 3)
    upload = check(employer, csv_bytes([person(n) for n in range(5)]))
    assert upload.status == StaffUpload.Status.FAILED
    assert upload.failure_reason.startswith("Your file has more than 3 rows")
    assert upload.errors.count() == 0
    assert not StaffUploadFile.objects.filter(upload=upload).exists()
    assert Worker.objects.count() == 0


def test_windows_1252_file_with_pound_and_accent(postgres, employer):
    rows = [person(1, first_name="Zoë", last_name="Brontë", staff_reference="£42")]
    upload = check(employer, csv_bytes(rows, encoding="cp1252"))
    assert (upload.error_count, upload.new_count) == (0, 1)
    rows_seen = list(open_staff_file(csv_bytes(rows, encoding="cp1252")).rows())
    assert rows_seen[0][1]["first_name"] == "Zoë"
    assert rows_seen[0][1]["staff_reference"] == "£42"


def test_utf8_with_bom_and_semicolons(postgres, employer):
    rows = [person(1, first_name="Zoë")]
    sheet = open_staff_file(csv_bytes(rows, bom=True, delimiter=";"))
    assert sheet.columns["first_name"] == 0
    assert next(sheet.rows())[1]["first_name"] == "Zoë"
    upload = check(employer, csv_bytes(rows, bom=True, delimiter="\t"))
    assert (upload.error_count, upload.new_count) == (0, 1)


def test_excel_typed_cells(postgres, employer):
    first = person(1)
    row = list(first.values())
    row[2] = datetime.datetime(1980, 4, 3)  # a real date cell
    row[3] = float(first["nhs_number"])  # NHS number stored as a number
    row[6] = 7700900123  # mobile whose leading 0 Excel dropped
    row[10] = True  # a TRUE cell for Yes
    row[11] = 42.0  # a staff number
    upload = check(employer, xlsx_bytes([HEADERS, row]), "staff.xlsx")
    assert problems(upload) == []
    from employers.imports import commit_staff_upload

    commit_staff_upload(user=None, upload=upload)
    worker = Worker.objects.get()
    employment = worker.employments.get()
    assert worker.date_of_birth == datetime.date(1980, 4, 3)
    assert worker.nhs_number == first["nhs_number"]
    assert employment.mobile == "+447700900123"
    assert employment.staff_reference == "42"
    assert employment.direct_contact is True


def test_header_matching_ignores_case_spacing_and_aliases(postgres, employer):
    header = ["FIRST NAME", "surname", "D.O.B.", "nhs no", "Post code", "E-mail", "Phone"]
    header += ["Role", "Setting", "Contract", "Direct contact", "Staff ID", "Ethnic group"]
    upload = check(employer, csv_bytes([person(1)], header=header))
    assert (upload.error_count, upload.new_count, upload.warnings) == (0, 1, [])


def test_row_estimate_for_the_progress_bar_counts_a_last_line_without_newline(postgres, employer):
    content = csv_bytes([person(1), person(2)])
    assert open_staff_file(content).estimated_rows == 2
    assert open_staff_file(content.rstrip(b"\r\n")).estimated_rows == 2


def test_windows_1252_file_with_messy_headers(postgres, employer):
    """A list saved by Excel on Windows: Windows-1252 text (£, é, curly quotes), headers in
    odd case with stray spaces and punctuation, aliases, a note in brackets, and columns the
    template does not have."""
    header = [
        "  FORENAME ",
        "Surname:",
        "D.O.B (dd/mm/yyyy)",
        "NHS No.",
        "Post-Code",
        "E-Mail Address",
        "Mobile No",
        "Job Title",
        "Care Setting",
        "Contract Type",
        "Frontline?",
        "Payroll Number",
        "Ethnic Origin",
        "Notes (internal)",
        "",
    ]
    rows = [
        [
            "Renée",
            "O’Brien",
            "03/04/1980",
            "943 476 5919",
            "sw1a 2aa",
            "renee@example.com",
            "07700 900123",
            "Senior care worker",
            "Home care",
            "Bank or relief",
            "Y",
            "£42",
            "White Irish",
            "Café shift",
            "",
        ]
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    content = buffer.getvalue().encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    upload = check(employer, content)
    assert problems(upload) == []
    assert (upload.new_count, upload.error_count) == (1, 0)
    assert upload.warnings == [
        "These columns are not part of the staff list template and were ignored: "
        "“Notes (internal)”."
    ]
    from employers.imports import commit_staff_upload

    commit_staff_upload(user=None, upload=upload)
    employment = Employment.objects.select_related("worker").get()
    worker = employment.worker
    assert (worker.first_name, worker.last_name) == ("Renée", "O’Brien")
    assert (worker.home_postcode, worker.nhs_number) == ("SW1A 2AA", "9434765919")
    assert worker.ethnicity == "B"
    assert employment.staff_reference == "£42"
    assert (employment.job_role, employment.work_setting) == (
        "senior_care_worker",
        "domiciliary_care",
    )
    assert employment.employment_type == "bank"
    assert employment.direct_contact is True


def test_excel_typed_cells_that_lost_their_leading_zeros(postgres, employer):
    """Numbers Excel keeps as numbers: an NHS number as a whole number, a mobile number as a
    decimal that lost its 0, a date of birth as a date cell with a time, and a Yes typed 1."""
    first = person(1)
    row = [first[key] for key in KEYS]
    row[KEYS.index("nhs_number")] = int(first["nhs_number"])
    row[KEYS.index("mobile")] = 7700900123.0
    row[KEYS.index("date_of_birth")] = datetime.datetime(1980, 4, 3, 0, 0)
    row[KEYS.index("direct_contact")] = 1
    second = person(2)
    other = [second[key] for key in KEYS]
    other[KEYS.index("date_of_birth")] = datetime.date(1975, 12, 31)
    other[KEYS.index("mobile")] = "+44 (0)7700 900456"
    upload = check(employer, xlsx_bytes([HEADERS, row, other]), "staff.xlsx")
    assert problems(upload) == []
    from employers.imports import commit_staff_upload

    commit_staff_upload(user=None, upload=upload)
    by_nhs = {w.nhs_number: w for w in Worker.objects.prefetch_related("employments")}
    worker = by_nhs[first["nhs_number"]]
    assert worker.date_of_birth == datetime.date(1980, 4, 3)
    assert worker.employments.get().mobile == "+447700900123"
    assert worker.employments.get().direct_contact is True
    other_worker = by_nhs[second["nhs_number"]]
    assert other_worker.date_of_birth == datetime.date(1975, 12, 31)
    assert other_worker.employments.get().mobile == "+447700900456"


def test_title_and_notes_above_the_column_names_are_skipped(postgres, employer):
    """An export with a title, a date and a blank line above the column names (semicolons,
    Windows-1252): the staff are read, and an error names the row as the spreadsheet shows."""
    body = csv_bytes(
        [person(1), person(2, date_of_birth="31/02/1980")], delimiter=";", encoding="cp1252"
    )
    content = "Staff list – Riverside Care\r\nExported 04/01/2021 by Zoë\r\n\r\n".encode("cp1252")
    upload = check(employer, content + body)
    assert upload.new_count == 1
    assert [(row, column) for row, column, _ in problems(upload)] == [(6, "Date of birth")]


def test_staff_list_on_a_later_sheet_behind_instructions(postgres, employer):
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Read me"
    notes.append(["How to fill in this list"])
    notes.append(["Job role", "Use the allowed values"])
    staff = workbook.create_sheet("Staff")
    staff.append(["Riverside Care staff, January 2021"])
    staff.append([])
    staff.append(HEADERS)
    staff.append(list(person(1).values()))
    staff.append(list(person(2, home_postcode="not a postcode").values()))
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = check(employer, buffer.getvalue(), "staff.xlsx")
    assert upload.new_count == 1
    assert [(row, column) for row, column, _ in problems(upload)] == [(5, "Home postcode")]


def test_a_file_without_column_names_says_where_they_belong(postgres, employer):
    content = "\n".join(",".join(list(person(n).values())) for n in range(1, 4)).encode()
    message = refused(employer, content)
    assert message.startswith("We could not find the staff list columns at the top of the file")


def test_a_stray_nul_character_is_dropped_not_stored(postgres, employer):
    """A NUL byte (left by a broken export) means nothing and no database column can hold
    it: it is dropped, and the rest of the row is read."""
    content = csv_bytes([person(1, staff_reference="A\x00B"), person(2)])
    upload = check(employer, content)
    assert (upload.error_count, upload.new_count) == (0, 2)
    rows = list(open_staff_file(content).rows())
    assert rows[0][1]["staff_reference"] == "AB"
