"""Builders for staff list files (CSV and XLSX) and a shortcut that checks one like the job."""

import csv
import io
import random
import zipfile

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from benchmarks.staff_upload import nhs_number
from employers.imports import create_upload, validate_upload
from employers.models import StaffUpload
from portal.roles import Role
from tests.factories import EmployerFactory, make_user
from workers.staff_columns import COLUMNS, HEADERS

KEYS = [column.key for column in COLUMNS]


def letters(number: int) -> str:
    """A name-like suffix for person ``number`` (names need letters, not digits)."""
    text = ""
    number += 1
    while number:
        number, remainder = divmod(number - 1, 26)
        text = chr(ord("a") + remainder) + text
    return text


def person(number: int, **overrides) -> dict:
    """A valid staff list row for person ``number`` (same number, same person)."""
    values = {
        "first_name": "Amara",
        "last_name": f"Okafor{letters(number)}",
        "date_of_birth": "03/04/1980",
        "nhs_number": nhs_number(943_000_000 + number * 3) or nhs_number(943_000_001 + number * 3),
        "home_postcode": "SW1A 2AA",
        "email": f"amara{number}@example.com",
        "mobile": "07700 900123",
        "job_role": "Care worker",
        "work_setting": "Care home",
        "employment_type": "",
        "direct_contact": "Yes",
        "staff_reference": f"EMP{number:05d}",
        "ethnicity": "A",
    }
    values.update(overrides)
    return values


def table(people: list[dict], header: list[str] | None = None) -> list[list]:
    return [header or HEADERS] + [[row.get(key, "") for key in KEYS] for row in people]


def csv_bytes(people, *, header=None, encoding="utf-8", delimiter=",", bom=False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(table(people, header))
    content = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + content) if bom else content


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def check(employer, content: bytes, filename="staff.csv", mode=StaffUpload.Mode.ADD, user=None):
    """Store and check a file as the web upload does, running the job in this process."""
    upload = create_upload(
        user=user, employer=employer, content=content, filename=filename, mode=mode, enqueue=False
    )
    return validate_upload(upload.pk)


def problems(upload) -> list[tuple[int, str, str]]:
    return list(
        upload.errors.order_by("row_number", "id").values_list("row_number", "column", "message")
    )


@pytest.fixture
def employer(db):
    return EmployerFactory(name="Sunrise Care")


@pytest.fixture
def other_employer(db):
    return EmployerFactory(name="Moonlight Homes")


@pytest.fixture
def employer_user(employer):
    return make_user(Role.EMPLOYER, employer=employer)


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PACKAGE_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="xl/workbook.xml" Type="http://schemas.openxmlformats'
        '.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets>'
        '<sheet name="Staff" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
        '<Relationship Id="rId2" Target="sharedStrings.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
        "</Relationships>"
    ),
}


def shared_strings_workbook(
    rows: list[list[str]], *, unused_strings: int = 0, declare: bool | int = True, dimension=""
) -> bytes:
    """A workbook written as Excel writes one: every cell a shared string. After the strings
    ``rows`` use come ``unused_strings`` one-letter strings, streamed into the zip (random
    enough that the zip's ratio checks pass, as a file built to get past the limits of
    docs/data-formats.md would be). ``declare`` writes the table's count and uniqueCount:
    True for the real ones, a number to declare that many."""
    table: dict[str, int] = {}
    cells = []
    for number, row in enumerate(rows, start=1):
        refs = "".join(
            f'<c r="{get_column_letter(index + 1)}{number}" t="s">'
            f"<v>{table.setdefault(value, len(table))}</v></c>"
            for index, value in enumerate(row)
        )
        cells.append(f'<row r="{number}">{refs}</row>')
    sheet = f'<worksheet xmlns="{MAIN_NS}">'
    if dimension:
        sheet += f'<dimension ref="{dimension}"/>'
    sheet += f"<sheetData>{''.join(cells)}</sheetData></worksheet>"
    total = len(table) + unused_strings if declare is True else declare
    counts = f' count="{total}" uniqueCount="{total}"' if declare is not False else ""
    draw = random.Random(8)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in PACKAGE_PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        with archive.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(f'<sst xmlns="{MAIN_NS}"{counts}>'.encode())
            strings.write("".join(f"<si><t>{value}</t></si>" for value in table).encode())
            for start in range(0, unused_strings, 100_000):
                letters = draw.choices("abc", k=min(100_000, unused_strings - start))
                strings.write("".join(f"<si><t>{x}</t></si>" for x in letters).encode())
            strings.write(b"</sst>")
    return out.getvalue()
