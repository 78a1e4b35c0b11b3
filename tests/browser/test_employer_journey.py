"""The issue-3 journey in Chromium: a care employer creates an account, confirms their email
from the link we send, registers their organisation, and the local lead (signing in with MFA)
approves it; the employer is emailed and sees the approval. The employer then uploads a staff
list with mistakes, which a real Celery worker checks while the page shows its progress, reads
the errors in the order of their file, uploads the corrected file, confirms, and sees their
staff. With JavaScript the progress bar is polled by htmx; without it the page reloads itself.
Every page is checked with axe."""

import csv
import io
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from employers.models import Employer, StaffUpload
from portal.celery import app as celery_app
from portal.roles import Role
from tests.browser.test_journeys import axe_violations
from tests.conftest import database_url
from tests.factories import EmployerFactory, make_user
from tests.uploads.conftest import KEYS, person
from workers.models import Employment
from workers.staff_columns import HEADERS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

EMPLOYER_EMAIL = "manager@riverside-care.example"
EMPLOYER_PASSWORD = "a-long-riverside-password"
LEAD_EMAIL = "lead@carevax.example"  # seed_demo's local lead for Westminster


def link_in_last_email(to: str, pattern: str) -> str:
    """The path of the first link matching ``pattern`` in the latest email to ``to``."""
    message = [m for m in mail.outbox if to in m.to][-1]
    found = re.search(rf"https?://[^/\s]+({pattern})", message.body)
    assert found, message.body
    return found.group(1)


def settle(page) -> None:
    """Let the page finish loading, fonts and icon included, so leaving it aborts no request
    (the browser asks for the icon only after the load event)."""
    page.wait_for_load_state("networkidle")
    if scripts_run(page):
        page.evaluate("document.fonts.ready")


def scripts_run(page) -> bool:
    # Playwright cannot evaluate anything in a page whose context has JavaScript turned off.
    return not getattr(page, "carevax_without_javascript", False)


def assert_accessible(page) -> None:
    """axe finds nothing (axe is a script: pages without JavaScript are the same pages,
    checked on the JavaScript journey)."""
    if scripts_run(page):
        assert axe_violations(page) == []


def sign_up_and_confirm(page) -> None:
    page.goto("/")
    settle(page)
    page.get_by_role("link", name="Create an account").click()
    settle(page)
    page.fill("input[name=email]", EMPLOYER_EMAIL)
    page.fill("input[name=password1]", EMPLOYER_PASSWORD)
    page.fill("input[name=password2]", EMPLOYER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    settle(page)
    assert page.locator("h1").inner_text() == "Check your email"
    page.goto(link_in_last_email(EMPLOYER_EMAIL, r"/accounts/confirm-email/[^\s]+/"))
    settle(page)
    page.get_by_role("button", name="Confirm email address").click()
    settle(page)
    # The start page's link carried on to registration through sign-up and confirmation.


def register_organisation(page) -> None:
    page.wait_for_url("**/employers/register/")
    page.fill("input[name=name]", "Riverside Care Home")
    page.get_by_label("CQC-registered provider location").check()
    page.fill("input[name=cqc_location_id]", "1-123 456 789")
    page.fill("input[name=address_line_1]", "1 River Street")
    page.fill("input[name=town]", "London")
    page.fill("input[name=postcode]", "sw1a 1aa")
    page.select_option("select[name=local_authority]", label="Westminster")
    page.fill("input[name=contact_name]", "Ada Lovelace")
    page.fill("input[name=contact_phone]", "020 7946 0000")
    page.get_by_role("button", name="Register organisation").click()
    settle(page)


def test_employer_signs_up_is_approved_and_uploads_their_staff_list(
    demo, new_page, sign_in, redis_url, start_worker
):
    employer_page = new_page()
    sign_up_and_confirm(employer_page)
    register_organisation(employer_page)

    assert employer_page.locator("h1").inner_text() == "Riverside Care Home"
    expect(employer_page.locator("body")).to_contain_text("is checking your registration")
    employer = Employer.objects.get(cqc_location_id="1-123456789")
    assert employer.status == Employer.Status.PENDING
    assert employer.postcode == "SW1A 1AA"
    assert employer.memberships.get().user.role == Role.EMPLOYER

    lead_page = new_page()
    sign_in(lead_page, LEAD_EMAIL, mfa=True)
    settle(lead_page)
    assert lead_page.locator("h1").inner_text() == "Employers to approve"
    lead_page.get_by_role("link", name="Riverside Care Home").click()
    settle(lead_page)
    lead_page.get_by_label("Approve this employer").check()
    lead_page.get_by_role("button", name="Save decision").click()
    settle(lead_page)
    expect(lead_page.locator("body")).to_contain_text("You approved Riverside Care Home")
    # Back on the queue, which still holds seed_demo's other pending employer.
    assert "Riverside Care Home" not in lead_page.locator("table").inner_text()

    approval = [m for m in mail.outbox if EMPLOYER_EMAIL in m.to][-1]
    assert "approved" in approval.subject
    employer_page.goto(link_in_last_email(EMPLOYER_EMAIL, r"/employers/\d+/"))
    settle(employer_page)
    assert "Approved" in employer_page.locator(".nhsuk-summary-list").inner_text()

    upload_with_errors_then_corrected(
        employer_page, employer, start_worker, redis_url, javascript=True
    )


# Five staff; rows 3, 4 and 6 (as the employer's spreadsheet numbers them) have mistakes, and
# a column the template does not have is ignored with a warning.
STAFF = [person(n, first_name=name) for n, name in enumerate(["Amy", "Ben", "Cat", "Dev", "Eve"])]
MISTAKES = {
    1: {"date_of_birth": "31/02/1980"},
    2: {"nhs_number": "943 476 5918"},
    4: {"email": "", "mobile": ""},
}
EXPECTED_ERRORS = [
    ("3", "Date of birth", "31/02/1980", "31/02/1980 is not a real date"),
    ("4", "NHS number", "943 476 5918", "This is not a valid NHS number"),
    ("6", "Email", "", "Enter an email or mobile, so we can send the invitation"),
]


def staff_file(*, with_mistakes: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*HEADERS, "Notes"])
    for index, row in enumerate(STAFF):
        if with_mistakes:
            row = {**row, **MISTAKES.get(index, {})}
        writer.writerow([row[key] for key in KEYS] + ["Call first"])
    return buffer.getvalue().encode()


def follow(page, link: str, *, to: str) -> None:
    """Follow a link to the page headed ``to``, and check that page with axe."""
    page.get_by_role("link", name=link).click()
    settle(page)
    assert page.locator("h1").inner_text() == to
    assert_accessible(page)


def upload_file(page, content: bytes, name: str) -> None:
    page.set_input_files(
        "input[name=file]", files=[{"name": name, "mimeType": "text/csv", "buffer": content}]
    )
    page.get_by_role("button", name="Upload and check").click()
    settle(page)


def wait_for_summary(page) -> None:
    """The check has finished and the page shows its summary (htmx or a reload put it there)."""
    page.locator("#summary-heading").wait_for(timeout=120_000)
    settle(page)


def error_table(page) -> list[tuple[str, ...]]:
    rows = page.locator("#upload-errors tbody tr")
    return [
        tuple(cell.strip() for cell in rows.nth(index).locator("td").all_inner_texts())
        for index in range(rows.count())
    ]


def watch_progress_requests(page) -> list[str]:
    """The progress bar's own requests (htmx sends them; a page reload does not)."""
    requests: list[str] = []
    page.on(
        "request",
        lambda request: requests.append(request.url) if "/progress/" in request.url else None,
    )
    return requests


def upload_with_errors_then_corrected(
    page, employer, start_worker, redis_url, *, javascript: bool
) -> None:
    # Nothing may be waiting on this test's queue but the jobs this journey queues.
    celery_app.set_current()
    celery_app.control.purge()
    progress_requests = watch_progress_requests(page)

    page.goto(f"/employers/{employer.pk}/")
    settle(page)
    follow(page, "Upload a staff list", to="Staff list uploads")
    follow(page, "Upload a staff list", to="Upload a staff list")
    upload_file(page, staff_file(with_mistakes=True), "staff with mistakes.csv")

    # No worker is running yet: the check waits in the queue and the page shows its progress.
    assert "Checking rows: 0 of 5" in page.locator("#upload-progress").inner_text()
    refresh = page.locator('meta[http-equiv="refresh"]')
    assert refresh.count() == (0 if javascript else 1)
    assert_accessible(page)
    worker = start_worker(DATABASE_URL=database_url(), REDIS_URL=redis_url)
    wait_for_summary(page)
    if javascript:
        assert progress_requests, "htmx never polled the progress bar"
    else:
        assert progress_requests == []

    upload = StaffUpload.objects.get(employer=employer)
    assert upload.status == StaffUpload.Status.READY, worker.output()
    summary = page.locator(".carevax-upload-summary").inner_text()
    assert "Rows checked\t5" in summary
    assert "Rows with errors\t3" in summary
    assert "“Notes”" in summary  # the ignored column is named in a warning
    expect(page.locator("body")).to_contain_text("Nothing has been imported")
    shown = error_table(page)
    assert [row[:3] for row in shown] == [expected[:3] for expected in EXPECTED_ERRORS]
    for row, expected in zip(shown, EXPECTED_ERRORS, strict=True):
        assert row[3].startswith(expected[3]), row
    # The summary stays above the errors.
    summary_box = page.locator(".carevax-upload-summary").bounding_box()
    assert summary_box["y"] < page.locator("#upload-errors").bounding_box()["y"]
    assert page.get_by_role("button", name=re.compile("Import")).count() == 0
    assert_accessible(page)
    assert Employment.objects.filter(employer=employer).count() == 0

    page.get_by_role("link", name="Upload the corrected file").click()
    settle(page)
    upload_file(page, staff_file(with_mistakes=False), "staff corrected.csv")
    wait_for_summary(page)
    assert page.locator("#count-new").inner_text() == "5"
    assert page.locator("#count-errors").inner_text() == "0"
    assert page.locator("#upload-errors").count() == 0
    assert_accessible(page)
    page.get_by_role("button", name="Import 5 staff").click()
    settle(page)
    page.get_by_role("link", name="See your staff list").wait_for(timeout=120_000)
    settle(page)
    assert page.locator("#summary-heading").inner_text() == "Imported"
    assert_accessible(page)
    follow(page, "See your staff list", to="Staff")
    expect(page.locator("body")).to_contain_text("5 current members of staff")
    names = page.locator("table.nhsuk-table tbody tr td:first-child").all_inner_texts()
    expected = sorted(f"{row['last_name']}, {row['first_name']}" for row in STAFF)
    assert sorted(name.strip() for name in names) == expected
    assert Employment.objects.filter(employer=employer).count() == 5


def signed_in_page(new_page, live_server, user, *, javascript: bool):
    """A page already signed in as ``user`` (signing in is tested by the journey above)."""
    client = Client()
    client.force_login(user)
    page = new_page(javascript=javascript)
    page.carevax_without_javascript = not javascript
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def test_upload_journey_without_javascript_reloads_the_progress_page(
    new_page, live_server, local_authority, redis_url, start_worker
):
    employer = EmployerFactory(name="Hillside Care", local_authority=local_authority)
    user = make_user(Role.EMPLOYER, employer=employer)
    page = signed_in_page(new_page, live_server, user, javascript=False)
    upload_with_errors_then_corrected(page, employer, start_worker, redis_url, javascript=False)
