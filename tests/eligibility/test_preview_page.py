"""The eligibility preview page: leads and administrators upload a staff list, choose an
employer in their scope and the rules (a draft included), see the counts and the rows page by
page, and download the CSV; only an audit event that the preview ran is stored."""

import csv
import io

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.models import AuditEvent
from portal.roles import Role
from tests.eligibility.rule_sets import EMPLOYER_PENDING, FRONTLINE, STRICTER
from tests.eligibility.test_preview_command import STAFF, table_counts
from tests.factories import EmployerFactory, make_user
from tests.uploads.conftest import (
    csv_bytes,
    person,
    shared_strings_workbook,
    table,
    xlsx_bytes,
)
from workers.models import RuleSet

pytestmark = pytest.mark.django_db

PAGE = reverse("employers:eligibility_preview")
RESULTS = reverse("employers:eligibility_preview_results")
DOWNLOAD = reverse("employers:eligibility_preview_csv")


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def staff_file(people=STAFF, name="staff.csv") -> SimpleUploadedFile:
    content = xlsx_bytes(table(people)) if name.endswith(".xlsx") else csv_bytes(people)
    return SimpleUploadedFile(name, content)


def preview(client, *, people=STAFF, name="staff.csv", employer=None, rule_set=None, **extra):
    data = {"file": staff_file(people, name), "rule_set": rule_set or RuleSet.objects.current().pk}
    if employer is not None:
        data["employer"] = employer.pk
    return client.post(PAGE, {**data, **extra})


def token_of(response) -> str:
    return response.context["token"]


def shown_rows(response) -> list[tuple]:
    return [
        (row.row_number, row.staff_reference, row.outcome_words, row.reason)
        for row in response.context["page"].object_list
    ]


def test_the_form_offers_the_leads_employers_and_every_rule_set(
    lead_client, employer, pending_employer, other_local_authority, postgres
):
    elsewhere = EmployerFactory(local_authority=other_local_authority, name="Far Away Care")
    draft = RuleSet.objects.create(rules=STRICTER, notes="Home care needs a check")
    response = lead_client.get(PAGE)
    assert response.status_code == 200
    form = response.context["form"]
    employers = dict(form.fields["employer"].choices)
    assert employers[employer.pk] == employer.name
    assert employers[pending_employer.pk] == f"{pending_employer.name} (not approved)"
    assert elsewhere.pk not in employers
    rule_sets = [label for _value, label in form.fields["rule_set"].choices]
    assert rule_sets[0].startswith(f"Draft {draft.pk}, not published")
    assert "Home care needs a check" in rule_sets[0]
    assert rule_sets[1] == "Version 1, in force"
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "up to 20,000 rows" in html
    assert "keep nothing from it" in html


def test_lead_previews_a_file_for_an_employer_under_a_draft(
    lead_client, lead, pending_employer, postgres
):
    draft = RuleSet.objects.create(rules=STRICTER)
    before = table_counts()
    response = preview(lead_client, employer=pending_employer, rule_set=draft.pk, name="a.xlsx")
    assert response.status_code == 200
    assert response.context["counts"] == [
        ("Eligible", 5),
        ("Not eligible", 1),
        ("Needs information", 1),
    ]
    assert shown_rows(response)[0] == (2, "R1", "not eligible", "No contact")
    assert shown_rows(response)[5] == (
        7,
        "R6",
        "needs information",
        "Home care: confirm the visits",
    )
    html = response.content.decode()
    assert "These rules are a draft" in html
    assert f"{pending_employer.name} (awaiting approval)" in html
    assert "as if its employer were approved" not in html
    draft.refresh_from_db()
    assert not draft.is_published
    # Only the audit event is new: no upload, no worker, no decision, no file.
    after = table_counts()
    assert after.pop("portal_auditevent") == before.pop("portal_auditevent") + 1
    assert after == before
    event = AuditEvent.objects.get(verb="eligibility_preview_run")
    assert event.actor == lead and event.object_id == str(draft.pk)
    assert event.details["draft"] is True and event.details["rule_set_version"] is None
    assert event.details["employer_id"] == pending_employer.pk
    assert event.details["counts"] == {"eligible": 5, "not_eligible": 1, "needs_information": 1}
    assert len(event.details["file_sha256"]) == 64
    assert "R1" not in str(event.details), "no staff reference is kept"


def test_the_employers_approval_counts_under_the_rules_in_force(
    lead_client, pending_employer, postgres
):
    response = preview(lead_client, employer=pending_employer)
    rows = {row[1]: row for row in shown_rows(response)}
    assert rows["R6"][2:] == ("needs information", EMPLOYER_PENDING)
    assert "Version 1, in force" in response.content.decode()


def test_without_an_employer_the_page_says_what_it_assumed(lead_client, postgres):
    response = preview(lead_client)
    rows = {row[1]: row for row in shown_rows(response)}
    assert rows["R6"][2:] == ("eligible", FRONTLINE)
    html = response.content.decode()
    assert "as if its employer were approved" in html
    assert "For 6 rows the outcome would be different" in html
    assert "None chosen" in html


def test_rows_page_by_page_and_the_whole_csv_in_file_order(lead_client, postgres):
    people = [person(n, staff_reference=f"S{n:03d}") for n in range(150)]
    people[0]["staff_reference"] = "=cmd|' /C calc'!A0"
    first = preview(lead_client, people=people)
    assert [row[0] for row in shown_rows(first)] == list(range(2, 102))
    assert first.context["page"].paginator.num_pages == 2
    html = first.content.decode()
    assert "Next" in html and 'name="page" value="2"' in html
    second = lead_client.post(RESULTS, {"results": token_of(first), "page": "2"})
    assert second.status_code == 200
    assert [row[0] for row in shown_rows(second)] == list(range(102, 152))
    assert shown_rows(second)[-1][1] == "S149"
    assert 'name="page" value="1"' in second.content.decode()

    download = lead_client.post(DOWNLOAD, {"results": token_of(second)})
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="staff-eligibility-preview.csv"'
    )
    body = b"".join(download.streaming_content)
    assert body.startswith(b"\xef\xbb\xbfrow,staff_reference,outcome,reason\r\n")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 151
    assert rows[1] == ["2", "'=cmd|' /C calc'!A0", "eligible", "Care home staff (cohort 1)"]
    assert [int(row[0]) for row in rows[1:]] == list(range(2, 152))
    # Paging and downloading run no new preview and record nothing more.
    assert AuditEvent.objects.filter(verb="eligibility_preview_run").count() == 1


def test_rows_with_errors_are_listed_and_left_out(lead_client, employer, postgres):
    people = [person(1), person(2, date_of_birth="31/02/1980"), person(3, job_role="Pilot")]
    response = preview(lead_client, people=people, employer=employer)
    assert [row[0] for row in shown_rows(response)] == [2]
    html = response.content.decode()
    assert "2 rows could not be assessed" in html
    assert "31/02/1980 is not a real date" in html
    assert "Pilot is not a job role we recognise" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "file", "Choose a staff list file (CSV or Excel) to preview."),
        (
            {"file": SimpleUploadedFile("x.csv", b"\x00\x01garbage" * 100)},
            "file",
            "We could not read this file as a staff list",
        ),
        (
            {"file": SimpleUploadedFile("x.csv", b"Name,Shoe size\nAmara,5\n")},
            "file",
            "We could not find the staff list columns",
        ),
        ({"file": "staff", "rule_set": "999999"}, "rule_set", "Select a valid choice"),
    ],
    ids=["no-file", "unreadable", "not-a-staff-list", "unknown-rule-set"],
)
def test_problems_are_shown_in_the_error_summary_and_by_the_field(
    lead_client, postgres, data, field, message
):
    if data.get("file") == "staff":
        data["file"] = staff_file()
    data.setdefault("rule_set", RuleSet.objects.current().pk)
    response = lead_client.post(PAGE, data)
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    html = response.content.decode()
    assert "There is a problem" in html and "nhsuk-error-summary" in html
    assert "nhsuk-error-message" in html
    assert "<title>Error:" in html
    assert not AuditEvent.objects.filter(verb="eligibility_preview_run").exists()


def test_a_file_longer_than_the_page_takes_is_refused_with_the_limit(
    lead_client, postgres, monkeypatch
):
    monkeypatch.setattr("employers.eligibility_preview.PAGE_MAX_ROWS", 3)
    response = preview(lead_client, people=[person(n) for n in range(5)])
    assert response.context["form"].errors["file"] == [
        "Your file has more than 3 rows of staff. "
        "Split it into files of up to 3 rows and upload each one."
    ]


def test_a_utf8_mark_before_windows_1252_text_is_previewed(lead_client, postgres):
    people = [person(1, first_name="Zoë", last_name="Brontë")]
    content = b"\xef\xbb\xbf" + csv_bytes(people, encoding="cp1252")
    response = lead_client.post(
        PAGE,
        {
            "file": SimpleUploadedFile("staff.csv", content),
            "rule_set": RuleSet.objects.current().pk,
        },
    )
    assert response.status_code == 200
    assert [row[0] for row in shown_rows(response)] == [2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            csv_bytes([person(1, first_name="Zoë")])
            + csv_bytes([person(2, first_name="Zoë")], encoding="cp1252").split(b"\r\n", 1)[1],
            "Row 3 of the file is saved in a different text encoding from the rest",
        ),
        (
            shared_strings_workbook(table([person(1)]), declare=6_000_000),
            "The Excel file holds 6,000,000 different pieces of text",
        ),
    ],
    ids=["mixed-encodings", "six-million-strings"],
)
def test_a_file_built_to_cost_the_server_is_refused(lead_client, postgres, content, message):
    name = "staff.xlsx" if content.startswith(b"PK") else "staff.csv"
    response = lead_client.post(
        PAGE, {"file": SimpleUploadedFile(name, content), "rule_set": RuleSet.objects.current().pk}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"][0].startswith(message)


def test_a_draft_that_cannot_be_evaluated_is_an_error_on_the_rules(lead_client, postgres):
    draft = RuleSet.objects.create(
        rules=[{"when": {"shoe_size": 9}, "outcome": "eligible", "reason": "Big feet"}]
    )
    response = preview(lead_client, rule_set=draft.pk)
    error = response.context["form"].errors["rule_set"][0]
    assert error.startswith("This draft cannot be used: Rule 1: unknown fact 'shoe_size'")


def test_a_forged_employer_is_404(lead_client, other_local_authority, postgres):
    elsewhere = EmployerFactory(local_authority=other_local_authority)
    assert preview(lead_client, employer=elsewhere).status_code == 404
    assert lead_client.get(PAGE, {"employer": elsewhere.pk}).status_code == 404
    assert lead_client.post(PAGE, {"employer": "1 OR 1=1"}).status_code == 404
    assert not AuditEvent.objects.filter(verb="eligibility_preview_run").exists()


def test_a_link_can_choose_the_employer(lead_client, employer, postgres):
    response = lead_client.get(PAGE, {"employer": employer.pk})
    assert response.context["form"]["employer"].value() == employer.pk


def test_administrators_may_choose_any_employer(client, other_local_authority, postgres):
    elsewhere = EmployerFactory(local_authority=other_local_authority)
    client.force_login(make_user(Role.ADMINISTRATOR))
    response = preview(client, employer=elsewhere)
    assert response.status_code == 200
    assert response.context["results"]["employer"].startswith(elsewhere.name)


@pytest.mark.parametrize("role", [Role.EMPLOYER, Role.NHS_TEAM, Role.SITE_STAFF])
def test_other_roles_cannot_preview(client, role, employer, postgres):
    client.force_login(
        make_user(role, employer=employer) if role == Role.EMPLOYER else make_user(role)
    )
    assert client.get(PAGE).status_code == 403
    assert preview(client).status_code == 403
    assert client.post(RESULTS, {"results": "x"}).status_code == 403
    assert client.post(DOWNLOAD, {"results": "x"}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, postgres):
    assert client.get(PAGE)["Location"].startswith(reverse("account_login"))


def test_results_cannot_be_forged_shared_or_kept_for_ever(
    lead_client, local_authority, postgres, monkeypatch
):
    token = token_of(preview(lead_client))
    forged = lead_client.post(RESULTS, {"results": token[:-4] + "AAAA", "page": "1"})
    assert forged.status_code == 400
    assert "We could not read these results" in forged.content.decode()
    colleague = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    lead_client.force_login(colleague)
    assert lead_client.post(DOWNLOAD, {"results": token}).status_code == 400
    monkeypatch.setattr("employers.preview_views.RESULTS_MAX_AGE", -1)
    lead_client.force_login(colleague)
    expired = lead_client.post(RESULTS, {"results": token_of(preview(lead_client))})
    assert "These results have expired" in expired.content.decode()
    assert lead_client.get(RESULTS).status_code == 405


def test_the_results_token_holds_no_more_than_the_rows_need(lead_client, postgres):
    response = preview(lead_client, people=[person(1, staff_reference="R1")])
    payload = signing.loads(
        token_of(response), salt=f"employers.eligibility_preview:{response.wsgi_request.user.pk}"
    )
    assert payload["rows"] == [[2, "R1", 0, 0]]
    assert "Okafor" not in str(payload) and "1980" not in str(payload)


def test_leads_and_administrators_see_it_in_their_navigation(client, lead, postgres):
    for user in (lead, make_user(Role.ADMINISTRATOR)):
        client.force_login(user)
        html = client.get(PAGE).content.decode()
        assert f'href="{PAGE}" aria-current="page"' in html
        assert "Preview rule changes" in html
        # Only the preview is the current page, not "Employers" at /employers/ as well.
        assert html.count('aria-current="page"') == 1
