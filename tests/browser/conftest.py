"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live
server, the demo data, and a watch on every page that fails the test on a failed request, an
HTTP error, a console error (CSP refusals included) or an uncaught script error."""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from demo.management.commands.seed_demo import DEFAULT_DEMO_PASSWORD
from tests.factories import usable_totp_code

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The NHS.UK stylesheet loads Frutiger from the NHS CDN, which the CSP allows. Tests run
# offline, so the CDN is played by a route that answers with a free font: the request, its
# CORS and the CSP are still exercised.
FONT_CDN = re.compile(r"^https://assets\.nhs\.uk/fonts/")
STAND_IN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="package")
def browser(chromium_path, django_db_setup):
    """One Chromium for the browser tests, closed before the rest of the suite runs."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Django's connections are context-local (asgiref), and Playwright's running event loop
    # gives this thread a fresh context: carry over the migrated data that the test database
    # saved at creation, which serialized_rollback restores before each browser test.
    saved = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }

    # Playwright's sync API keeps an event loop in this thread; Django would otherwise refuse
    # ORM calls from the test (seeding, reading MFA codes) as if they were async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            for alias, contents in saved.items():
                connections[alias]._test_serialized_contents = contents
            yield browser
            browser.close()
            # Close what the tests opened in Playwright's context (see above), or the test
            # database cannot be dropped at the end of the run.
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageWatch:
    """Everything that went wrong while pages loaded, and the fonts the CDN stand-in served."""

    def __init__(self, live_url: str):
        self.live_url = live_url
        self.problems: list[str] = []
        self.fonts_served: list[str] = []
        self.failed_requests: list[tuple[str, str, str]] = []
        self.downloads: set[str] = set()

    def on_console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location})")

    def on_response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def on_request_failed(self, request) -> None:
        self.failed_requests.append((request.url, request.failure, request.resource_type))

    def on_download(self, download) -> None:
        self.downloads.add(download.url)

    def all_problems(self) -> list[str]:
        """Chromium reports as aborted the navigation that turned into a download (that is the
        download working) and a picture or stylesheet still loading when the person moved on to
        the next page (that is the person being quick). Anything refused or missing still
        counts: a missing file answers 404 and is caught by ``on_response``."""
        failed = [
            f"request failed: {url} ({failure})"
            for url, failure, resource_type in self.failed_requests
            if not (
                failure == "net::ERR_ABORTED"
                and (url in self.downloads or resource_type != "document")
            )
        ]
        return self.problems + failed

    def on_page_error(self, error) -> None:
        self.problems.append(f"uncaught script error: {error}")

    def serve_font(self, route) -> None:
        self.fonts_served.append(route.request.url)
        route.fulfill(
            status=200,
            body=STAND_IN_FONT.read_bytes(),
            headers={"Content-Type": "font/ttf", "Access-Control-Allow-Origin": "*"},
        )

    def refuse_other_sites(self, route) -> None:
        self.problems.append(f"request to another site: {route.request.url}")
        route.abort()


@pytest.fixture
def page_watch(live_server):
    return PageWatch(live_server.url)


@pytest.fixture
def new_page(browser, live_server, page_watch):
    """Open a page (JavaScript on unless ``javascript=False``); fail on anything it logs."""
    contexts = []

    def open_page(*, javascript: bool = True):
        context = browser.new_context(
            base_url=live_server.url,
            java_script_enabled=javascript,
            viewport={"width": 1280, "height": 900},
        )
        context.route(FONT_CDN, page_watch.serve_font)
        context.route(
            lambda url: not url.startswith(live_server.url) and not FONT_CDN.match(url),
            page_watch.refuse_other_sites,
        )
        page = context.new_page()
        page.on("console", page_watch.on_console)
        page.on("response", page_watch.on_response)
        page.on("requestfailed", page_watch.on_request_failed)
        page.on("download", page_watch.on_download)
        page.on("pageerror", page_watch.on_page_error)
        contexts.append(context)
        return page

    yield open_page
    for context in contexts:
        context.close()
    problems = page_watch.all_problems()
    assert not problems, "\n".join(problems)


@pytest.fixture
def demo(settings):
    """The seed_demo data, as `make run` loads it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    debug, settings.DEBUG = settings.DEBUG, True
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = debug
    # allauth remembers spent TOTP codes in the cache; an earlier test must not spend ours.
    cache.clear()


@pytest.fixture
def sign_in():
    return sign_in_as


def sign_in_as(page, email: str, *, mfa: bool) -> None:
    """Sign in through the real pages, typing the MFA code when the account has one."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_DEMO_PASSWORD)
    # Enter submits the field's own form, as a keyboard user would, with or without JavaScript.
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    if mfa:
        page.fill("input[name=code]", usable_totp_code(email))
        with page.expect_navigation():
            page.press("input[name=code]", "Enter")
