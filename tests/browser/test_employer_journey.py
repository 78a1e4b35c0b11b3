"""The issue-3 journey in Chromium: a care employer creates an account, confirms their email
from the link we send, registers their organisation, and the local lead (signing in with MFA)
approves it; the employer is emailed and sees the approval. The upload steps follow on."""

import re

import pytest
from django.core import mail

from employers.models import Employer
from portal.roles import Role

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
    """Let the page finish loading, fonts included, so leaving it aborts no request."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready")


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


def test_employer_signs_up_registers_and_the_lead_approves(demo, new_page, sign_in):
    employer_page = new_page()
    sign_up_and_confirm(employer_page)
    register_organisation(employer_page)

    assert employer_page.locator("h1").inner_text() == "Riverside Care Home"
    assert "is checking your registration" in employer_page.content()
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
    assert "You approved Riverside Care Home" in lead_page.content()
    # Back on the queue, which still holds seed_demo's other pending employer.
    assert "Riverside Care Home" not in lead_page.locator("table").inner_text()

    approval = [m for m in mail.outbox if EMPLOYER_EMAIL in m.to][-1]
    assert "approved" in approval.subject
    employer_page.goto(link_in_last_email(EMPLOYER_EMAIL, r"/employers/\d+/"))
    settle(employer_page)
    assert "Approved" in employer_page.locator(".nhsuk-summary-list").inner_text()
