"""Each demo role signs in through the real pages and sees only its own navigation; the pages
have no accessibility violations (axe), work without JavaScript, print without navigation,
and load every stylesheet, script, icon and font they ask for."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from demo.management.commands.seed_demo import DEMO_USERS
from portal.models import User
from portal.navigation import NAVIGATION, navigation_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Axe()


def axe_violations(page) -> list[str]:
    """Every axe-core violation on the page, one line each (impact, rule, where)."""
    results = AXE.run(page)
    return [
        f"{violation['impact']}: {violation['id']} – {violation['help']} at "
        + ", ".join(node["target"][0] for node in violation["nodes"][:5])
        for violation in results.response["violations"]
    ]


def navigation_texts(page) -> list[str]:
    return [
        text.strip() for text in page.locator("a.nhsuk-header__navigation-link").all_text_contents()
    ]


def test_start_and_sign_in_pages_are_accessible_and_load_their_assets(demo, new_page, page_watch):
    page = new_page()
    page.goto("/")
    assert page.locator("h1").first.text_content()
    assert page.locator("a.nhsuk-skip-link").get_attribute("href") == "#maincontent"
    assert page.locator("header.nhsuk-header svg.nhsuk-header__logo").count() == 1
    assert navigation_texts(page) == []
    # init.js ran: the design system's scripts were imported and started.
    assert "nhsuk-frontend-supported" in page.locator("body").get_attribute("class")
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check(\"19px 'Frutiger W01'\")")
    assert page_watch.fonts_served
    icon = page.locator("link[rel=icon]").first.get_attribute("href")
    assert page.request.get(icon).status == 200
    assert axe_violations(page) == []

    page.goto("/accounts/login/")
    assert page.locator("input[name=login]").count() == 1
    assert axe_violations(page) == []


def check_role_journey(page, sign_in, email: str, role: str, needs_mfa: bool) -> None:
    user = User.objects.get(email=email)
    expected = [item.text for item in navigation_for(user, "/")]
    assert expected, f"{role} has no navigation at all"
    sign_in(page, email, mfa=needs_mfa)

    assert page.url.endswith(navigation_for(user, "/")[0].href), page.url
    assert email in page.locator(".nhsuk-header__account").inner_text()
    shown = navigation_texts(page)
    assert shown == expected
    theirs = {text for item_role, text, _url in NAVIGATION if item_role == role}
    others_only = {text for item_role, text, _url in NAVIGATION if item_role != role} - theirs
    assert not others_only & set(shown)
    assert axe_violations(page) == []


def test_each_role_signs_in_and_sees_only_its_own_navigation(demo, new_page, sign_in):
    """One seeded database for all roles (seeding per role would triple the run time); each
    role gets its own browser context, and every role's failure is reported, not the first."""
    failures = {}
    for email, _name, role, _scope, needs_mfa in DEMO_USERS:
        try:
            check_role_journey(new_page(), sign_in, email, role, needs_mfa)
        except AssertionError as error:
            failures[email] = str(error)
    assert not failures, "\n\n".join(f"{email}: {error}" for email, error in failures.items())


def test_signing_in_works_without_javascript(demo, new_page, sign_in):
    page = new_page(javascript=False)
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "carehome@carevax.example")
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.locator("input[name=password]").count() == 1, "still on the sign-in page"
    assert "nhsuk-frontend-supported" not in (page.locator("body").get_attribute("class") or "")

    sign_in(page, "lead@carevax.example", mfa=True)
    lead = User.objects.get(email="lead@carevax.example")
    assert navigation_texts(page) == [item.text for item in navigation_for(lead, "/")]
    assert page.locator(".nhsuk-header__navigation").is_visible()
    with page.expect_navigation():
        page.locator(".nhsuk-header__account-button").click()
    assert page.locator(".nhsuk-header__account").inner_text().strip() == "Sign in"


def test_print_shows_the_content_without_navigation(demo, new_page, sign_in):
    page = new_page()
    sign_in(page, "carehome@carevax.example", mfa=False)
    assert page.locator("link[rel=stylesheet][media=print]").count() == 1
    page.emulate_media(media="print")
    assert not page.locator(".nhsuk-header__navigation").is_visible()
    assert not page.locator(".nhsuk-footer").is_visible()
    assert page.locator("main h1").is_visible()
