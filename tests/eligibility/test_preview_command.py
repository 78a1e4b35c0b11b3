"""`manage.py eligibility_preview`: a staff list in any upload format, assessed row by row under
the current rules, a published version or a draft, printed as CSV and stored nowhere; exit 0,
1 (row errors, listed on stderr) or 2 (unreadable file, unknown employer or rule set)."""

import csv
import io

import pytest
from django.core.management import call_command
from django.db import connection

from employers.imports import commit_staff_upload
from tests.eligibility.rule_sets import (
    CARE_HOME,
    EMPLOYER_PENDING,
    FRONTLINE,
    NO_CONTACT,
    OFFICE,
    OTHER,
    STRICTER,
    VOLUNTEER,
)
from tests.factories import EmployerFactory, EmploymentFactory
from tests.uploads.conftest import check, csv_bytes, person, table, xlsx_bytes
from workers import services
from workers.models import Employment, RuleSet
from workers.rules import OUTCOME_WORDS

pytestmark = pytest.mark.django_db


# One row for each rule of version 1 in docs/eligibility.md (the employer's approval comes
# from --employer).
STAFF = [
    person(1, staff_reference="R1", direct_contact="No"),
    person(2, staff_reference="R2", job_role="Administrative or office staff"),
    person(3, staff_reference="R3", job_role="Other"),
    person(4, staff_reference="R4", work_setting="Other"),
    person(5, staff_reference="R5", employment_type="Volunteer"),
    person(6, staff_reference="R6", work_setting="Home care"),
    person(7, staff_reference="R7", work_setting="Care home"),
]
EXPECTED = [
    ["row", "staff_reference", "outcome", "reason"],
    ["2", "R1", "not eligible", NO_CONTACT],
    ["3", "R2", "needs information", OFFICE],
    ["4", "R3", "needs information", OTHER],
    ["5", "R4", "needs information", OTHER],
    ["6", "R5", "needs information", VOLUNTEER],
    ["7", "R6", "eligible", FRONTLINE],
    ["8", "R7", "eligible", CARE_HOME],
]


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("eligibility_preview", *[str(arg) for arg in args], stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def parsed(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out)))


def write(tmp_path, content: bytes, name: str = "staff.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def semicolons_with_bom(people) -> bytes:
    return csv_bytes(people, delimiter=";", bom=True)


def windows_1252(people) -> bytes:
    return csv_bytes(people, encoding="cp1252")


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("staff.csv", csv_bytes),
        ("staff.xlsx", lambda people: xlsx_bytes(table(people))),
        ("staff.csv", semicolons_with_bom),
        ("staff.txt", windows_1252),
    ],
    ids=["csv", "xlsx", "semicolons-bom", "windows-1252"],
)
def test_each_rule_of_the_design_in_any_upload_format(tmp_path, postgres, employer, name, build):
    code, out, err = run(write(tmp_path, build(STAFF), name), "--employer", employer.pk)
    assert code == 0, err
    assert out.startswith("row,staff_reference,outcome,reason\r\n"), "exact header, no BOM"
    assert parsed(out) == EXPECTED
    assert "Assessed 7 rows under rule set version 1: 2 eligible, 1 not eligible, 4 needs" in err


def test_an_employer_awaiting_approval_needs_information(tmp_path, postgres, pending_employer):
    path = write(tmp_path, csv_bytes(STAFF))
    code, out, err = run(path, "--employer", pending_employer.pk)
    assert code == 0
    rows = {row[1]: row[2:] for row in parsed(out)[1:]}
    assert rows["R1"] == ["not eligible", NO_CONTACT]
    assert rows["R2"] == ["needs information", f"{OFFICE}; {EMPLOYER_PENDING}"]
    assert rows["R6"] == ["needs information", EMPLOYER_PENDING]
    assert rows["R7"] == ["needs information", EMPLOYER_PENDING]
    assert "(Awaiting approval)" in err
    assert "as if its employer were approved" not in err


def test_without_an_employer_rows_are_assessed_as_if_approved_and_it_says_so(tmp_path, postgres):
    code, out, err = run(write(tmp_path, csv_bytes(STAFF)))
    assert code == 0
    assert parsed(out) == EXPECTED
    assert (
        "No employer was chosen, so every row was assessed as if its employer were approved" in err
    )
    assert "Give --employer ID" in err
    # R2..R7 have direct contact: an employer awaiting approval would change their outcome
    # (R2 only gains a reason); R1 has none, so it is not eligible either way.
    assert "For 6 rows the outcome would be different" in err


def test_rows_with_errors_are_listed_and_not_assessed(tmp_path, postgres, employer):
    people = [
        person(1, staff_reference="R1"),
        person(2, staff_reference="R2", date_of_birth="31/02/1980"),
        person(3, staff_reference="R3", job_role="Astronaut", email="", mobile=""),
        person(4, staff_reference="R4"),
        person(1, staff_reference="R5"),  # the same person as row 2
    ]
    code, out, err = run(write(tmp_path, csv_bytes(people)), "--employer", employer.pk)
    assert code == 1
    assert [row[:3] for row in parsed(out)] == [
        ["row", "staff_reference", "outcome"],
        ["2", "R1", "eligible"],
        ["5", "R4", "eligible"],
    ]
    assert "3 rows have errors and were not assessed" in err
    assert "row 3, Date of birth: 31/02/1980 is not a real date" in err
    assert "row 4, Job role: Astronaut is not a job role we recognise" in err
    assert "row 4, Email: Enter an email or mobile" in err
    assert "row 6, NHS number: Row 2 has the same NHS number" in err


def test_another_employers_record_of_a_person_changes_nothing_in_the_preview(
    tmp_path, postgres, employer
):
    """The same answer as the upload's check: a person another employer holds with another
    date of birth is neither an error nor a hint (docs/decisions/0011)."""
    path = write(tmp_path, csv_bytes([person(1, date_of_birth="04/04/1981"), person(2)]))
    before = run(path, "--employer", employer.pk)
    held = person(1)
    EmploymentFactory(
        employer=EmployerFactory(),
        worker__first_name=held["first_name"],
        worker__last_name=held["last_name"],
        worker__nhs_number=held["nhs_number"],
    )
    after = run(path, "--employer", employer.pk)
    assert after == before
    assert after[0] == 0 and len(parsed(after[1])) == 3  # a header and two rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\x00\x01garbage" * 100, "We could not read this file as a staff list"),
        (b"PK\x03\x04 not really a workbook", "The Excel file is damaged"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "old Excel (.xls) file"),
        (b"Name,Shoe size\nAmara,5\n", "We could not find the staff list columns"),
        (b"First name,Last name\nAmara,Okafor\n", "columns are missing: Date of birth"),
    ],
    ids=["empty", "binary", "broken-xlsx", "xls", "no-columns", "missing-columns"],
)
def test_an_unreadable_file_exits_2_with_the_reason(tmp_path, postgres, content, message):
    code, out, err = run(write(tmp_path, content))
    assert code == 2
    assert out == ""
    assert message in err


def test_a_missing_file_unknown_employer_or_rule_set_exits_2(tmp_path, postgres):
    path = write(tmp_path, csv_bytes(STAFF))
    code, _, err = run(tmp_path / "missing.csv")
    assert (code, "Cannot read") == (2, err[: len("Cannot read")])
    assert run(path, "--employer", 999_999)[0:3:2] == (2, "There is no employer with ID 999999.\n")
    assert "no published rule set version 7" in run(path, "--rule-set", 7)[2]
    published = RuleSet.objects.get(version=1)
    assert "no draft rule set" in run(path, "--draft", published.pk)[2]


def test_a_draft_is_previewed_without_publishing_it(tmp_path, postgres, employer):
    draft = RuleSet.objects.create(rules=STRICTER, notes="Home care needs a check")
    code, out, err = run(write(tmp_path, csv_bytes(STAFF)), "--draft", draft.pk)
    assert code == 0
    rows = {row[1]: row[2:] for row in parsed(out)[1:]}
    assert rows["R6"] == ["needs information", "Home care: confirm the visits"]
    assert rows["R3"] == ["eligible", "In contact"]
    assert f"under draft rule set {draft.pk} (not published)" in err
    draft.refresh_from_db()
    assert not draft.is_published and RuleSet.objects.current().version == 1
    same = run(write(tmp_path, csv_bytes(STAFF)), "--rule-set", 1)
    assert parsed(same[1]) == EXPECTED


def test_a_draft_that_cannot_be_evaluated_exits_2(tmp_path, postgres):
    draft = RuleSet.objects.create(
        rules=[{"when": {"shoe_size": 9}, "outcome": "eligible", "reason": "Big feet"}]
    )
    code, out, err = run(write(tmp_path, csv_bytes(STAFF)), "--draft", draft.pk)
    assert code == 2 and out == ""
    assert (
        f"The draft rule set {draft.pk} cannot be evaluated: Rule 1: unknown fact 'shoe_size'"
        in err
    )


def test_values_are_neutralised_for_spreadsheets(tmp_path, postgres):
    people = [person(1, staff_reference='=HYPERLINK("http://evil.example","x")')]
    code, out, _ = run(write(tmp_path, csv_bytes(people)))
    assert code == 0
    assert parsed(out)[1][1] == '\'=HYPERLINK("http://evil.example","x")'


def table_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for name in connection.introspection.table_names():
            cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608 (introspected names)
            counts[name] = cursor.fetchone()[0]
    return counts


def test_the_preview_stores_nothing_at_all(tmp_path, postgres, employer, pending_employer):
    """Every table keeps its row count, the audit log included: the command is an operator's
    read-only tool (the portal page, used by signed-in leads, records that it ran)."""
    EmploymentFactory(employer=employer)
    draft = RuleSet.objects.create(rules=STRICTER)
    good = write(tmp_path, csv_bytes(STAFF))
    bad = write(tmp_path, csv_bytes([*STAFF, person(9, date_of_birth="soon")]), "bad.csv")
    before = table_counts()
    for table_name in ("portal_auditevent", "employers_staffupload", "workers_eligibilitydecision"):
        assert table_name in before
    assert run(good, "--employer", employer.pk)[0] == 0
    assert run(good, "--employer", pending_employer.pk, "--draft", draft.pk)[0] == 0
    assert run(bad, "--employer", employer.pk)[0] == 1
    assert run(write(tmp_path, b"\x00garbage" * 50, "x.xlsx"))[0] == 2
    assert table_counts() == before


def test_the_preview_says_what_importing_and_assessing_the_file_decides(
    tmp_path, postgres, employer, pending_employer
):
    """The preview and the real assessment are one evaluator: import the file, assess the
    staff, and every employment gets the outcome and reasons the preview printed."""
    # An organisation awaiting approval has nothing imported or assessed until it is
    # approved (docs/decisions/0011); then its staff are assessed as the approved's are.
    waiting = commit_staff_upload(user=None, upload=check(pending_employer, csv_bytes(STAFF)))
    assert waiting.status == "waiting"
    assert not Employment.objects.filter(employer=pending_employer).exists()
    for chosen in (employer,):
        path = write(tmp_path, csv_bytes(STAFF))
        code, out, _ = run(path, "--employer", chosen.pk)
        assert code == 0
        upload = check(chosen, path.read_bytes())
        commit_staff_upload(user=None, upload=upload)
        services.assess_employments(employer_id=chosen.pk)
        assessed = {
            employment.staff_reference: [
                OUTCOME_WORDS[employment.eligibility_outcome],
                "; ".join(employment.current_decision.reasons),
            ]
            for employment in Employment.objects.filter(employer=chosen).select_related(
                "current_decision"
            )
        }
        assert {row[1]: row[2:] for row in parsed(out)[1:]} == assessed
