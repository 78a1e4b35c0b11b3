"""A local lead's invitation journey in Chromium, with JavaScript and without: start a
campaign, see queued / sent / booked per site, find a worker's invitation and send a new
link; the worker's new link shows their site, the old one says it was replaced. Every page
is checked with axe."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from bookings import invitations
from bookings.models import Invitation, Message
from portal.roles import Role
from tests.browser.test_journeys import axe_violations
from tests.factories import EmployerFactory, EmploymentFactory, VaccinationSiteFactory, make_user
from tests.invitations.conftest import add_capacity
from workers import services

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def sign_in_by_cookie(page, live_server, user) -> None:
    """Sign-in itself is tested elsewhere: hand the page a session cookie."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def link_of(message: Message) -> str:
    """Send-time context, as the outbox builds it: the path of the message's new link."""
    return re.sub(r"^https?://[^/]+", "", invitations.link_context(message)["link"])


def check(page) -> None:
    """Let the page finish loading (leaving it early aborts font requests), then run axe
    (a script: the pages without JavaScript are the same pages)."""
    page.wait_for_load_state("networkidle")
    if page.context_javascript:
        page.evaluate("document.fonts.ready")
        assert axe_violations(page) == []


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_lead_runs_a_campaign_and_resends_a_link(
    javascript, new_page, page_watch, live_server, local_authority
):
    site = VaccinationSiteFactory(
        name="St Thomas' Hospital hub",
        address="Westminster Bridge Road, London",
        postcode="SE1 7EH",
        local_authorities=[local_authority],
    )
    add_capacity(site, places=2)  # room for 3 at 1.5
    employer = EmployerFactory(name="Riverside Care", local_authority=local_authority)
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    employments = [
        EmploymentFactory(employer=employer, worker__first_name=name, worker__last_name="Carer")
        for name in ("Amy", "Ben", "Cat", "Dev")
    ]
    services.approve_employments(
        lead=lead, employment_ids=[e.pk for e in employments], reason="Frontline care"
    )

    page = new_page(javascript=javascript)
    page.context_javascript = javascript
    sign_in_by_cookie(page, live_server, lead)
    page.goto("/")
    check(page)
    page.get_by_role("link", name="Invitations").first.click()
    assert page.locator("h1").inner_text() == "Invitation campaigns"
    check(page)
    page.get_by_role("link", name="Start a campaign").click()
    check(page)
    page.get_by_label("Who to invite").select_option(label="Everyone approved in your area")
    page.get_by_label("Over-invite factor").fill("1.5")
    page.get_by_role("button", name="Start campaign").click()
    expect(page.locator("body")).to_contain_text("You started the campaign")
    assert "Campaign for everyone approved in" in page.locator("h1").inner_text()
    check(page)

    # The release runs in a Celery job; here it runs as the job would.
    campaign_id = int(re.search(r"/campaigns/(\d+)/", page.url).group(1))
    invitations.release_campaign(campaign_id=campaign_id)
    page.reload()
    check(page)
    row = page.locator("table.nhsuk-table tbody tr").first
    assert row.locator("td").all_inner_texts() == ["St Thomas' Hospital hub", "2", "1", "3", "0"]
    check(page)

    page.get_by_role("link", name="See each invitation").click()
    check(page)
    page.get_by_label("Status").select_option(label="Being sent")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("body")).to_contain_text("3 invitations")
    check(page)
    page.locator("table.nhsuk-table tbody a").first.click()
    assert page.locator("h1").inner_text().startswith("Invitation for ")
    check(page)
    old = Invitation.objects.get(pk=int(re.search(r"/invitations/(\d+)/", page.url).group(1)))
    old_link = link_of(Message.objects.get(invitation=old))

    page.get_by_role("link", name="Send a new link").click()
    check(page)
    page.get_by_role("button", name="Send a new link").click()
    expect(page.locator("body")).to_contain_text("The old link no longer works")
    check(page)

    worker = new_page(javascript=javascript)
    worker.context_javascript = javascript
    new = Invitation.objects.get(supersedes=old)
    worker.goto(link_of(Message.objects.get(invitation=new)))
    assert worker.locator("h1").inner_text() == "Your COVID-19 vaccination"
    expect(worker.locator("body")).to_contain_text("St Thomas' Hospital hub")
    check(worker)
    worker.goto(old_link)
    assert worker.locator("h1").inner_text() == "This link has been replaced"
    check(worker)
    # The replaced link answers 410 Gone on purpose; nothing else may fail.
    page_watch.problems = [problem for problem in page_watch.problems if old_link not in problem]
