"""The staff list's columns (workers/staff_columns.py) and the downloadable template."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.urls import reverse

from portal import postcodes
from portal.roles import Role
from tests.factories import EmployerFactory
from workers import reference, validation
from workers.models import ReferenceValue
from workers.staff_columns import COLUMNS, HEADERS, REQUIRED_ONE_OF, example_row, match_header
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


def _download(client, name):
    response = client.get(reverse(f"employers:{name}"))
    assert response.status_code == 200
    return response


@pytest.fixture
def employer_client(client, make_user):
    client.force_login(make_user(Role.EMPLOYER, employer=EmployerFactory()))
    return client


def test_csv_template_has_bom_canonical_header_and_an_example_row(employer_client):
    response = _download(employer_client, "template_csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "staff-list-template.csv" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == CANONICAL
    assert len(rows) == 2
    example = dict(zip(rows[0], rows[1], strict=True))
    assert example["Date of birth"] == "03/04/1980"
    assert example["Direct contact with clinically vulnerable people"] == "Yes"


def test_csv_example_row_passes_every_check(db):
    """The example must itself be a valid row, or the template teaches mistakes."""
    example = example_row()
    assert validation.normalise_name(example["first_name"])
    assert validation.normalise_name(example["last_name"])
    validation.check_date_of_birth(validation.parse_date(example["date_of_birth"]))
    assert validation.normalise_nhs_number(example["nhs_number"]) == "9434765919"
    assert postcodes.is_known_district(postcodes.normalise_postcode(example["home_postcode"]))
    assert validation.normalise_email(example["email"])
    assert validation.normalise_mobile(example["mobile"]) == "+447700900123"
    for column in COLUMNS:
        if column.reference_kind:
            assert reference.match(column.reference_kind, example[column.key]), column.key
    assert reference.parse_yes_no(example["direct_contact"]) is True


def _workbook(client):
    response = _download(client, "template_xlsx")
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "staff-list-template.xlsx" in response["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def test_xlsx_template_staff_sheet(employer_client):
    workbook = _workbook(employer_client)
    assert workbook.sheetnames[:2] == ["Staff", "Guidance"]
    staff = workbook["Staff"]
    assert [cell.value for cell in staff[1]] == CANONICAL
    example = {header: cell.value for header, cell in zip(CANONICAL, staff[2], strict=True)}
    assert example["Date of birth"] == datetime.datetime(1980, 4, 3)
    assert staff["C2"].number_format == "DD/MM/YYYY"
    assert example["Job role"] == "Care worker"
    assert staff.max_row == 2


def test_xlsx_template_drop_downs(employer_client):
    workbook = _workbook(employer_client)
    staff = workbook["Staff"]
    lists = workbook["Lists"]
    assert lists.sheet_state == "hidden"
    by_column = {}
    for validation_rule in staff.data_validations.dataValidation:
        assert validation_rule.type == "list"
        assert validation_rule.errorStyle == "warning"  # aliases are accepted too
        column = str(validation_rule.sqref).split(":")[0].rstrip("0123456789")
        sheet_name, cells = validation_rule.formula1.lstrip("=").split("!")
        first, last = cells.replace("$", "").split(":")
        by_column[column] = [
            row[0].value for row in workbook[sheet_name][f"{first}:{last}"] if row[0].value
        ]
        assert str(validation_rule.sqref).endswith("100001")
    header = {cell.value: cell.column_letter for cell in staff[1]}
    assert by_column[header["Job role"]] == [text for _, text in reference.choices("job_role")]
    assert len(by_column[header["Job role"]]) == 16
    assert len(by_column[header["Work setting"]]) == 13
    assert by_column[header["Employment type"]][0] == "Employed"
    assert len(by_column[header["Employment type"]]) == 7
    assert by_column[header["Direct contact with clinically vulnerable people"]] == ["Yes", "No"]
    assert by_column[header["Ethnicity"]][0] == "White British"
    assert len(by_column[header["Ethnicity"]]) == 17
    assert set(by_column) == {
        header[name]
        for name in (
            "Job role",
            "Work setting",
            "Employment type",
            "Direct contact with clinically vulnerable people",
            "Ethnicity",
        )
    }


def test_xlsx_template_guidance_lists_required_columns_values_and_aliases(employer_client):
    guidance = _workbook(employer_client)["Guidance"]
    rows = [list(row) for row in guidance.iter_rows(values_only=True)]
    by_first = {row[0]: row for row in rows if row[0]}
    assert by_first["First name"][1] == "Required"
    assert by_first["NHS number"][1] == "Optional"
    assert by_first["Email"][1] == "Required if there is no mobile"
    assert "Surname" in by_first["Last name"][2]
    for label_text in [text for _, text in reference.choices("work_setting")]:
        assert label_text in by_first
    assert "Home care" in by_first["Domiciliary care (home care)"][2]
    assert by_first["White British"][1] == "A"
    assert by_first["Not stated"][1] == "Z"
    assert "Y" in by_first["Yes"][2]


def test_admin_added_values_appear_in_the_template(employer_client):
    ReferenceValue.objects.create(
        kind="job_role", code="physiotherapist", label="Physiotherapist", sort_order=999
    )
    guidance = _workbook(employer_client)["Guidance"]
    assert "Physiotherapist" in [row[0] for row in guidance.iter_rows(values_only=True)]


def test_formula_like_admin_values_are_neutralised_in_the_template(employer_client):
    ReferenceValue.objects.create(
        kind="job_role", code="odd", label="=1+1", aliases=["@evil"], sort_order=999
    )
    workbook = _workbook(employer_client)
    values = [cell for row in workbook["Guidance"].iter_rows(values_only=True) for cell in row]
    assert "'=1+1" in values and "'@evil" in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in values)


@pytest.mark.parametrize("role", [Role.LOCAL_LEAD, Role.ADMINISTRATOR])
def test_leads_and_administrators_may_download(client, make_user, role):
    client.force_login(make_user(role))
    _download(client, "template_csv")
    _download(client, "template_xlsx")


@pytest.mark.parametrize("role", [Role.SITE_STAFF, Role.NHS_TEAM])
def test_other_roles_may_not_download(client, make_user, role):
    client.force_login(make_user(role))
    for name in ("template_csv", "template_xlsx"):
        assert client.get(reverse(f"employers:{name}")).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    for name in ("template_csv", "template_xlsx"):
        response = client.get(reverse(f"employers:{name}"))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_employer_page_links_to_both_templates(client, make_user):
    employer = EmployerFactory()
    client.force_login(make_user(Role.EMPLOYER, employer=employer))
    page = client.get(reverse("employers:detail", args=[employer.pk])).content.decode()
    assert f'href="{reverse("employers:template_xlsx")}"' in page
    assert f'href="{reverse("employers:template_csv")}"' in page
