"""The issue's "done when" journey in Chromium: a local lead filters the queue, approves an
employer's eligible workers in bulk, asks the employer about two others, the employer answers,
the lead decides them, and the employer prints a letter whose code verifies."""

import os

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from employers.models import Employer
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, make_user
from workers import services

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium(chromium_path):
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The sync API runs an event loop in this thread; the test still reads the database.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            # Django's connections are context-local and Playwright's loop gave the test a
            # context of its own: close what the test opened there, or the test database
            # cannot be dropped at the end of the run.
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def signed_in_page(browser, live_server, user):
    """A browser page already signed in as ``user`` (sign-in itself is tested elsewhere)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context.new_page()


def test_lead_and_employer_take_workers_from_upload_to_a_verified_letter(
    chromium, live_server, local_authority
):
    employer = EmployerFactory(
        name="Riverside Care", local_authority=local_authority, status=Employer.Status.APPROVED
    )
    EmployerFactory(name="Hilltop Homes", local_authority=local_authority)
    for name in ("Amy", "Ben", "Cat"):
        EmploymentFactory(
            employer=employer,
            worker__first_name=name,
            worker__last_name="Carer",
            job_role="care_worker",
            work_setting="care_home_older_adults",
        )
    for name in ("Dev", "Eve"):
        EmploymentFactory(
            employer=employer,
            worker__first_name=name,
            worker__last_name="Office",
            job_role="administrative_staff",
            work_setting="care_home_older_adults",
        )
    services.assess_employments()
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    employer_user = make_user(Role.EMPLOYER, employer=employer)

    page = signed_in_page(chromium, live_server, lead)
    page.goto("/workers/eligibility/")
    page.get_by_text("Filter and sort").click()
    page.get_by_label("Employer").select_option(label="Riverside Care")
    page.get_by_role("button", name="Apply filters").click()
    assert "5 shown" in page.locator(".carevax-counts").inner_text()

    page.get_by_role("link", name="Approve 3 eligible").click()
    assert page.locator("h1").inner_text() == "Approve as eligible: 3 workers"
    page.get_by_role("button", name="Approve 3 workers").click()
    expect(page.locator("body")).to_contain_text("You approved 3 workers as eligible.")

    # Back to everyone still waiting at this employer.
    page.goto(f"/workers/eligibility/?employer={employer.pk}")
    assert "2 shown" in page.locator(".carevax-counts").inner_text()
    page.get_by_label("Choose Dev Office").check()
    page.get_by_label("Choose Eve Office").check()
    page.get_by_role("button", name="Ask the employer about chosen").click()
    assert page.locator("h1").inner_text() == "Ask the employer: 2 workers"
    page.get_by_label("Your question to the employer").fill(
        "Do they give personal care to residents?"
    )
    page.get_by_role("button", name="Send the question").click()
    expect(page.locator("body")).to_contain_text("You asked about 2 workers")

    employer_page = signed_in_page(chromium, live_server, employer_user)
    for name in ("Dev Office", "Eve Office"):
        employer_page.goto("/workers/questions/")
        employer_page.get_by_role("link", name=f"Answer about {name}").click()
        employer_page.get_by_label("Your answer").fill("Yes, they cover care shifts every week.")
        employer_page.get_by_role("button", name="Send your answer").click()
        expect(employer_page.locator("body")).to_contain_text(
            f"You answered the question about {name}"
        )

    for name in ("Dev Office", "Eve Office"):
        page.goto("/workers/eligibility/")
        page.get_by_role("link", name=name).click()
        expect(page.locator("body")).to_contain_text("they cover care shifts every week")
        page.get_by_label("Eligible", exact=True).check()
        page.get_by_label("Reason").fill("The employer confirmed weekly personal care shifts")
        page.get_by_role("button", name="Record the decision").click()
        expect(page.locator("body")).to_contain_text("You recorded a decision")

    employer_page.goto(f"/workers/letters/?employer={employer.pk}")
    letters = employer_page.locator("article.carevax-letter")
    assert letters.count() == 5
    code = letters.first.locator(".carevax-letter__code-value").inner_text().strip()
    assert code.startswith("CVX-")
    # Printed, the letter stands alone: no menus, no instructions, the code still there.
    employer_page.emulate_media(media="print")
    assert not employer_page.locator(".nhsuk-header__navigation").is_visible()
    assert not employer_page.locator(".carevax-no-print").first.is_visible()
    assert letters.first.locator(".carevax-letter__code-value").is_visible()

    public = chromium.new_context(base_url=live_server.url).new_page()
    public.goto("/workers/verify/")
    public.get_by_label("Eligibility code").fill(code)
    public.get_by_role("button", name="Check the code").click()
    expect(public.locator("body")).to_contain_text("This code is valid for Amy C., Riverside Care.")
