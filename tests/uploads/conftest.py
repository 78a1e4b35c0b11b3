"""Builders for staff list files (CSV and XLSX) and a shortcut that checks one like the job."""

import csv
import io

import openpyxl
import pytest

from employers.bench import nhs_number
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
