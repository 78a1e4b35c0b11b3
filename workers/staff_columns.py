"""The columns of the staff list (docs/data-formats.md), in template order: the one place the
canonical headers, which are required, the other headings people use for them, and the
reference values behind them are written down. The template and the upload both read it."""

import re
from dataclasses import dataclass

from workers.models import ReferenceValue
from workers.validation import fold


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool
    aliases: tuple[str, ...] = ()
    # The kind of ReferenceValue the column's cells must match, if any.
    reference_kind: str | None = None
    hint: str = ""
    example: str = ""


COLUMNS: list[Column] = [
    Column(
        "first_name",
        "First name",
        True,
        ("Forename", "Forenames", "First names", "Given name", "Given names", "Christian name"),
        example="Amara",
    ),
    Column(
        "last_name",
        "Last name",
        True,
        ("Surname", "Family name", "Second name"),
        example="Okafor",
    ),
    Column(
        "date_of_birth",
        "Date of birth",
        True,
        ("DOB", "D.O.B.", "Birth date", "Date of birth (DD/MM/YYYY)", "Birthdate"),
        hint="DD/MM/YYYY, like 03/04/1980 for 3 April 1980, or a date cell",
        example="03/04/1980",
    ),
    Column(
        "nhs_number",
        "NHS number",
        False,
        ("NHS No", "NHS No.", "NHS num", "NHS", "NHS ID"),
        hint="10 digits. Leave blank if you do not know it",
        example="943 476 5919",
    ),
    Column(
        "home_postcode",
        "Home postcode",
        True,
        ("Postcode", "Post code", "Home post code", "Postal code", "Home address postcode"),
        hint="The worker's home postcode, in full",
        example="SW1A 2AA",
    ),
    Column(
        "email",
        "Email",
        False,
        ("Email address", "E-mail", "E-mail address", "Personal email", "Work email"),
        hint="Give an email or a mobile, or both",
        example="amara.okafor@example.com",
    ),
    Column(
        "mobile",
        "Mobile",
        False,
        (
            "Mobile number",
            "Mobile phone",
            "Mobile phone number",
            "Mobile no",
            "Phone",
            "Phone number",
            "Telephone",
            "Telephone number",
            "Tel",
            "Contact number",
        ),
        hint="A UK mobile number, like 07700 900123",
        example="07700 900123",
    ),
    Column(
        "job_role",
        "Job role",
        True,
        ("Role", "Job title", "Staff group", "Job", "Position"),
        reference_kind=ReferenceValue.Kind.JOB_ROLE,
        example="Care worker",
    ),
    Column(
        "work_setting",
        "Work setting",
        True,
        ("Setting", "Care setting", "Service type", "Workplace", "Place of work"),
        reference_kind=ReferenceValue.Kind.WORK_SETTING,
        example="Care home for older adults",
    ),
    Column(
        "employment_type",
        "Employment type",
        False,
        ("Contract type", "Employment status", "Contract", "Type of employment"),
        reference_kind=ReferenceValue.Kind.EMPLOYMENT_TYPE,
        hint="Leave blank for employed",
        example="Employed",
    ),
    Column(
        "direct_contact",
        "Direct contact with clinically vulnerable people",
        True,
        (
            "Direct contact",
            "Close contact",
            "Close personal contact",
            "Direct contact with vulnerable people",
            "Frontline",
            "Client facing",
        ),
        hint="Yes or No",
        example="Yes",
    ),
    Column(
        "staff_reference",
        "Staff reference",
        False,
        (
            "Staff ref",
            "Staff ID",
            "Staff number",
            "Employee number",
            "Employee ID",
            "Employee reference",
            "Payroll number",
            "Reference",
        ),
        hint="Your own reference for the worker, if you have one",
        example="EMP0042",
    ),
    Column(
        "ethnicity",
        "Ethnicity",
        False,
        ("Ethnic group", "Ethnic category", "Ethnic origin", "Ethnicity code", "Ethnic code"),
        reference_kind=ReferenceValue.Kind.ETHNICITY,
        hint="The letter or the name of the category. Leave blank if not stated",
        example="N",
    ),
]

# At least one column of each group must have a value in every row.
REQUIRED_ONE_OF: list[tuple[str, ...]] = [("email", "mobile")]

COLUMNS_BY_KEY: dict[str, Column] = {column.key: column for column in COLUMNS}
HEADERS: list[str] = [column.header for column in COLUMNS]

_HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    for _text in (_column.header, _column.key, *_column.aliases):
        _HEADER_KEYS.setdefault(fold(_text), _column.key)

_TRAILING_NOTE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")


def match_header(raw_header: str) -> str | None:
    """The column key a heading names, ignoring case, spacing and punctuation, else None.

    A note in brackets at the end (``Date of birth (DD/MM/YYYY)``) is ignored if the heading
    does not match with it.
    """
    text = "" if raw_header is None else str(raw_header)
    key = _HEADER_KEYS.get(fold(text))
    if key is None:
        key = _HEADER_KEYS.get(fold(_TRAILING_NOTE.sub("", text)))
    return key


def example_row() -> dict[str, str]:
    return {column.key: column.example for column in COLUMNS}
