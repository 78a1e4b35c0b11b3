"""The staff list's columns (workers/staff_columns.py) and the downloadable template."""

import pytest

from workers.staff_columns import COLUMNS, HEADERS, REQUIRED_ONE_OF, match_header
from workers.validation import fold

CANONICAL = [
    "First name",
    "Last name",
    "Date of birth",
    "NHS number",
    "Home postcode",
    "Email",
    "Mobile",
    "Job role",
    "Work setting",
    "Employment type",
    "Direct contact with clinically vulnerable people",
    "Staff reference",
    "Ethnicity",
]


def test_canonical_headers_in_design_order():
    assert HEADERS == CANONICAL


def test_required_columns():
    required = {column.key for column in COLUMNS if column.required}
    assert required == {
        "first_name",
        "last_name",
        "date_of_birth",
        "home_postcode",
        "job_role",
        "work_setting",
        "direct_contact",
    }
    assert REQUIRED_ONE_OF == [("email", "mobile")]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("First name", "first_name"),
        ("FIRST NAME", "first_name"),
        ("first_name", "first_name"),
        ("  First   Name ", "first_name"),
        ("Forename", "first_name"),
        ("Surname", "last_name"),
        ("Last-name", "last_name"),
        ("DOB", "date_of_birth"),
        ("D.O.B.", "date_of_birth"),
        ("Date of birth (DD/MM/YYYY)", "date_of_birth"),
        ("Date of Birth [dd/mm/yyyy]", "date_of_birth"),
        ("NHS No", "nhs_number"),
        ("NHS No.", "nhs_number"),
        ("nhs number", "nhs_number"),
        ("Postcode", "home_postcode"),
        ("Post Code", "home_postcode"),
        ("Email address", "email"),
        ("E-mail", "email"),
        ("Phone", "mobile"),
        ("Mobile number", "mobile"),
        ("Role", "job_role"),
        ("Job title", "job_role"),
        ("Setting", "work_setting"),
        ("Contract type", "employment_type"),
        ("Direct contact with clinically vulnerable people", "direct_contact"),
        ("Direct contact with clinically vulnerable people (Yes/No)", "direct_contact"),
        ("Direct contact", "direct_contact"),
        ("Staff ID", "staff_reference"),
        ("Ethnic group", "ethnicity"),
    ],
)
def test_match_header(raw, key):
    assert match_header(raw) == key


@pytest.mark.parametrize("raw", ["", None, "Shoe size", "Notes", "Name"])
def test_unknown_headers(raw):
    assert match_header(raw) is None


def test_no_heading_names_two_columns():
    seen = {}
    for column in COLUMNS:
        for text in (column.header, column.key, *column.aliases):
            assert seen.setdefault(fold(text), column.key) == column.key, text
