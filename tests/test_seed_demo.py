"""`manage.py seed_demo` loads the same rows however often it runs, refuses to run outside DEBUG
unless forced, and every demo account can sign in (MFA accounts with `demo_totp`'s code)."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from bookings.models import Session, SiteStaffMembership, Slot, VaccinationSite
from demo.management.commands.demo_totp import current_code
from demo.management.commands.seed_demo import DEFAULT_DEMO_PASSWORD, DEMO_USERS
from employers.models import Employer, EmployerMembership
from portal.models import User
from portal.roles import Role
from tests.factories import usable_totp_code
from workers.models import Employment, Worker

pytestmark = pytest.mark.django_db

COUNTED = [
    User,
    EmailAddress,
    Authenticator,
    Employer,
    EmployerMembership,
    Worker,
    Employment,
    VaccinationSite,
    SiteStaffMembership,
    Session,
    Slot,
]


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """Production-strength hashing would make every sign-in here take seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def seeded(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    # allauth remembers used TOTP codes in the cache; a previous run must not spend ours.
    cache.clear()
    return seed()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_seeding_twice_gives_the_same_rows(seeded):
    first = counts()
    seed()
    assert counts() == first
    assert first["User"] == len(DEMO_USERS)
    assert first["VaccinationSite"] == 3
    assert first["Employer"] == 3
    assert first["Slot"] > 0


def test_demo_data_has_what_the_newcomer_needs(seeded):
    assert set(VaccinationSite.objects.values_list("kind", flat=True)) == set(
        VaccinationSite.Kind.values
    )
    for site in VaccinationSite.objects.all():
        assert site.latitude and site.longitude, f"{site} is not placed"
        assert site.staff.count() == 1
        assert Session.objects.filter(site=site).dates("date", "day").count() == 14
    assert Employer.objects.filter(status=Employer.Status.APPROVED).count() == 2
    assert Employer.objects.filter(status=Employer.Status.PENDING).count() == 1
    assert Employer.objects.filter(cqc_location_id__startswith="1-").count() == 1
    for employer in Employer.objects.filter(status=Employer.Status.APPROVED):
        assert employer.memberships.count() == 1
        assert employer.employments.count() >= 3
    shared = Worker.objects.filter(employments__isnull=False).distinct()
    assert any(worker.employments.count() == 2 for worker in shared)
    lead = User.objects.get(role=Role.LOCAL_LEAD)
    assert lead.local_authority.gss_code == "E09000033"
    assert User.objects.get(role=Role.NHS_TEAM).region_code == "E12000007"
    assert User.objects.get(role=Role.ADMINISTRATOR).is_superuser
    assert not EmailAddress.objects.filter(verified=False).exists()
    needs_mfa = {email for email, _n, _r, _s, mfa in DEMO_USERS if mfa}
    assert set(Authenticator.objects.values_list("user__email", flat=True)) == needs_mfa


def test_summary_lists_the_url_every_login_and_the_mfa_command(seeded, settings):
    assert f"Open {settings.SITE_URL}/" in seeded
    for email, *_rest in DEMO_USERS:
        assert email in seeded
    assert DEFAULT_DEMO_PASSWORD in seeded
    assert "manage.py demo_totp EMAIL" in seeded


@pytest.mark.parametrize(("email", "full_name", "role", "scope", "needs_mfa"), DEMO_USERS)
def test_each_demo_user_can_sign_in(seeded, client, email, full_name, role, scope, needs_mfa):
    response = client.post(
        reverse("account_login"), {"login": email, "password": DEFAULT_DEMO_PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    if needs_mfa:
        assert response.url == reverse("mfa_authenticate")
        response = client.post(reverse("mfa_authenticate"), {"code": usable_totp_code(email)})
        assert response.status_code == 302, response.content.decode()[:2000]
    home = client.get(reverse("home"))
    assert home.wsgi_request.user.email == email
    assert home.status_code == 302, "a demo user with a role lands on their first page"
    assert client.get(home.url).status_code == 200


def test_demo_password_comes_from_the_environment(settings, monkeypatch, client):
    settings.DEBUG = True
    monkeypatch.setenv("DEMO_PASSWORD", "a different demo password")
    output = seed()
    assert "a different demo password" not in output
    assert client.login(email="carehome@carevax.example", password="a different demo password")


def test_seed_demo_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs when DEBUG is on"):
        seed()
    assert not User.objects.exists()
    seed(force=True)
    assert User.objects.count() == len(DEMO_USERS)


def test_demo_totp_refuses_without_debug(seeded, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs when DEBUG is on"):
        call_command("demo_totp", "lead@carevax.example", stdout=StringIO())


def test_demo_totp_prints_the_code_the_login_accepts(seeded, settings):
    out = StringIO()
    call_command("demo_totp", "lead@carevax.example", stdout=out)
    code = out.getvalue().strip()
    assert len(code) == 6 and code.isdigit()
    assert code == current_code("lead@carevax.example")
    with pytest.raises(CommandError, match="no authenticator"):
        call_command("demo_totp", "carehome@carevax.example", stdout=StringIO())
    with pytest.raises(CommandError, match="no account"):
        call_command("demo_totp", "nobody@carevax.example", stdout=StringIO())


def test_the_demo_commands_do_not_exist_in_production():
    """The demo app (demo passwords, demo authenticator secrets) is installed only when DEBUG
    is on: a production start does not know its commands at all."""
    from tests.test_settings import manage, production_env

    listed = manage("help", "--commands", env=production_env())
    assert listed.returncode == 0, listed.stderr
    commands = listed.stdout.split()
    assert "migrate" in commands
    assert "seed_demo" not in commands and "demo_totp" not in commands
    laptop = manage("help", "--commands", env=production_env(DEBUG="true"))
    assert "seed_demo" in laptop.stdout.split()
