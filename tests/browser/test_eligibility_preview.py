"""The eligibility preview in Chromium, with and without JavaScript: the demo's local lead
signs in with MFA, finds the page in the navigation, is told what is missing, previews a staff
list for an employer in the area under a draft of new rules, turns to the second page of rows
and downloads them all as CSV. Every page passes axe."""

import csv
import io

import pytest
from playwright.sync_api import expect

from employers.models import Employer
from tests.browser.test_journeys import axe_violations
from tests.eligibility.rule_sets import STRICTER
from tests.factories import EmployerFactory, local_authority
from tests.uploads.conftest import csv_bytes, person
from workers.models import RuleSet

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LEAD_EMAIL = "lead@carevax.example"  # seed_demo's local lead for Westminster


@pytest.fixture
def staff_list(tmp_path):
    """130 staff: the first page shows 100; row 2 works in home care, row 3 has no contact."""
    people = [person(n, staff_reference=f"RC{n:03d}") for n in range(130)]
    people[0]["work_setting"] = "Home care"
    people[1]["direct_contact"] = "No"
    path = tmp_path / "riverside-staff.csv"
    path.write_bytes(csv_bytes(people))
    return path


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_lead_previews_a_draft_on_a_staff_list(demo, new_page, sign_in, staff_list, javascript):
    EmployerFactory(
        name="Riverside Care",
        kind=Employer.Kind.NON_REGISTERED,
        cqc_location_id=None,
        local_authority=local_authority("E09000033"),
        status=Employer.Status.PENDING,
    )
    draft = RuleSet.objects.create(rules=STRICTER, notes="Home care needs a check")
    page = new_page(javascript=javascript)
    page.set_default_timeout(20_000)

    def accessible() -> bool:
        # axe is a script: it runs where the page may run scripts, on the same markup.
        return not javascript or axe_violations(page) == []

    sign_in(page, LEAD_EMAIL, mfa=True)

    link = page.locator("a.nhsuk-header__navigation-link", has_text="Preview rule changes")
    page.goto(link.get_attribute("href"))
    assert page.locator("h1").inner_text() == "Preview the eligibility rules on a staff list"
    assert accessible()

    page.get_by_role("button", name="Preview", exact=True).click()
    summary = page.locator(".nhsuk-error-summary")
    assert "Choose a staff list file (CSV or Excel) to preview." in summary.inner_text()
    assert page.title().startswith("Error:")
    assert accessible()

    # With JavaScript the design system's file upload covers the input with its own button.
    page.locator("input[type=file][name=file]").set_input_files(staff_list)
    page.get_by_label("Employer (optional)").select_option(label="Riverside Care (not approved)")
    page.get_by_label("Rules to use").select_option(value=str(draft.pk))
    page.get_by_role("button", name="Preview", exact=True).click()

    assert page.locator("h1").inner_text() == "riverside-staff.csv"
    summary_list = page.locator(".nhsuk-summary-list").inner_text()
    assert f"Draft {draft.pk}, not published" in summary_list
    assert "Riverside Care (awaiting approval)" in summary_list
    assert [int(n) for n in page.locator(".carevax-preview-count").all_inner_texts()] == [
        128,
        1,
        1,
    ]
    expect(page.locator("body")).to_contain_text("These rules are a draft")
    rows = page.locator("#preview-rows tbody tr")
    assert rows.count() == 100
    assert rows.nth(0).inner_text().split("\t") == [
        "2",
        "RC000",
        "Needs information",
        "Home care: confirm the visits",
    ]
    assert accessible()

    page.get_by_role("button", name="Next").click()
    assert page.locator("#preview-rows caption").inner_text().endswith("(page 2 of 2)")
    assert rows.count() == 30
    assert rows.last.inner_text().startswith("131\tRC129\tEligible")
    assert accessible()

    with page.expect_download() as download:
        page.get_by_role("button", name="Download all 130 rows (CSV)").click()
    body = open(download.value.path(), encoding="utf-8-sig").read()  # noqa: PTH123, SIM115
    table = list(csv.reader(io.StringIO(body)))
    assert table[0] == ["row", "staff_reference", "outcome", "reason"]
    assert table[1] == ["2", "RC000", "needs information", "Home care: confirm the visits"]
    assert table[2] == ["3", "RC001", "not eligible", "No contact"]
    assert len(table) == 131
    draft.refresh_from_db()
    assert not draft.is_published
