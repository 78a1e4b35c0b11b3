"""Employer registration: a person with no role (or an employer user) registers an
organisation, which waits for its local lead's approval."""

import pytest
from django.core import mail
from django.urls import reverse

from employers import services
from employers.models import Employer, EmployerMembership
from portal.models import AuditEvent
from portal.roles import Role
from tests.concurrency import run_at_once
from tests.factories import EmployerFactory, UserFactory, make_user

pytestmark = pytest.mark.django_db

REGISTER = reverse("employers:register")


def registration(local_authority, /, **overrides):
    data = {
        "name": "Riverside Care Home",
        "kind": Employer.Kind.CQC_LOCATION,
        "cqc_location_id": " 1-123 456 789 ",
        "address_line_1": "1 River Street",
        "address_line_2": "",
        "town": "London",
        "postcode": "sw1a1aa",
        "local_authority": local_authority.pk,
        "contact_name": "Ada Lovelace",
        "contact_email": "ada@riverside.example",
        "contact_phone": "020 7946 0000",
    }
    data.update(overrides)
    return data


def test_no_role_page_leads_to_registration(client):
    client.force_login(UserFactory(role=""))
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert REGISTER.encode() in response.content


def test_registration_creates_pending_employer_and_makes_an_employer_user(
    client, local_authority, django_capture_on_commit_callbacks
):
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    user = UserFactory(role="")
    client.force_login(user)
    assert client.get(REGISTER).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER, registration(local_authority))

    employer = Employer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("employers:detail", args=[employer.pk])
    assert employer.status == Employer.Status.PENDING
    assert employer.cqc_location_id == "1-123456789"
    assert employer.postcode == "SW1A 1AA"
    assert employer.contact_phone == "020 7946 0000"
    assert employer.local_authority == local_authority
    assert EmployerMembership.objects.filter(user=user, employer=employer).exists()
    user.refresh_from_db()
    assert user.role == Role.EMPLOYER
    event = AuditEvent.objects.get(verb="employer_registered")
    assert event.actor == user
    assert event.object_id == str(employer.pk)
    assert event.details["cqc_location_id"] == "1-123456789"
    # The local lead hears there is something to approve.
    assert [message.to for message in mail.outbox] == [[lead.email]]
    assert reverse("employers:decide", args=[employer.pk]) in mail.outbox[0].body
    # The new employer user now sees the organisation and its status.
    page = client.get(response["Location"])
    assert b"Riverside Care Home" in page.content
    assert b"is checking your registration" in page.content


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"cqc_location_id": "12345"}, "cqc_location_id", "1- followed by 9 to 11 numbers"),
        ({"cqc_location_id": "1-12345678"}, "cqc_location_id", "1- followed by 9 to 11 numbers"),
        ({"cqc_location_id": "1-123456789012"}, "cqc_location_id", "1- followed by 9 to 11"),
        ({"cqc_location_id": ""}, "cqc_location_id", "Enter the CQC location ID"),
        ({"postcode": "SW1A"}, "postcode", "Enter a real UK postcode"),
        ({"postcode": "12345"}, "postcode", "Enter a real UK postcode"),
        ({"postcode": "ZZ9 9ZZ"}, "postcode", "We do not recognise the postcode area ZZ9"),
        ({"postcode": ""}, "postcode", "Enter the postcode"),
        ({"contact_phone": "12"}, "contact_phone", "Enter a UK phone number"),
        ({"contact_email": "not-an-email"}, "contact_email", "valid email"),
        ({"name": ""}, "name", "Enter the name of your organisation"),
        ({"kind": ""}, "kind", "Select what kind of organisation it is"),
        ({"local_authority": ""}, "local_authority", "Select the local authority"),
    ],
)
def test_registration_errors_are_shown_and_nothing_is_stored(
    client, local_authority, overrides, field, message
):
    user = UserFactory(role="")
    client.force_login(user)
    response = client.post(REGISTER, registration(local_authority, **overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert b"There is a problem" in response.content
    assert Employer.objects.count() == 0
    user.refresh_from_db()
    assert user.role == ""


def test_cqc_location_id_is_optional_for_other_kinds(client, local_authority):
    client.force_login(UserFactory(role=""))
    response = client.post(
        REGISTER,
        registration(local_authority, kind=Employer.Kind.DIRECT_PAYMENT, cqc_location_id=""),
    )
    assert response.status_code == 302
    employer = Employer.objects.get()
    assert employer.kind == Employer.Kind.DIRECT_PAYMENT
    assert employer.cqc_location_id is None


def test_duplicate_cqc_location_id_is_refused_without_naming_the_holder(client, local_authority):
    holder = make_user(Role.EMPLOYER, email="holder@sunnyside.example")
    existing = EmployerFactory(name="Sunnyside Lodge", cqc_location_id="1-123456789")
    EmployerMembership.objects.create(user=holder, employer=existing)
    newcomer = UserFactory(role="")
    client.force_login(newcomer)

    response = client.post(REGISTER, registration(local_authority))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["cqc_location_id"])
    assert "already registered" in errors
    assert "invite you" in errors
    assert b"Sunnyside Lodge" not in response.content
    assert b"holder@sunnyside.example" not in response.content
    assert Employer.objects.count() == 1
    newcomer.refresh_from_db()
    assert newcomer.role == ""


def test_employer_user_registers_a_further_organisation(client, local_authority):
    first = EmployerFactory()
    user = make_user(Role.EMPLOYER, employer=first)
    client.force_login(user)
    listing = client.get(reverse("employers:list"))
    assert b"Register another organisation" in listing.content

    response = client.post(
        REGISTER, registration(local_authority, name="Second Home", cqc_location_id="1-987654321")
    )

    assert response.status_code == 302
    assert set(user.employer_memberships.values_list("employer__name", flat=True)) == {
        first.name,
        "Second Home",
    }


@pytest.mark.parametrize("role", [Role.LOCAL_LEAD, Role.SITE_STAFF, Role.NHS_TEAM])
def test_other_roles_cannot_register(client, local_authority, role):
    client.force_login(make_user(role))
    assert client.get(REGISTER).status_code == 403
    assert client.post(REGISTER, registration(local_authority)).status_code == 403
    assert Employer.objects.count() == 0


def test_anonymous_visitor_is_asked_to_sign_in(client):
    response = client.get(REGISTER)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_service_refuses_cqc_kind_without_location_id(local_authority):
    with pytest.raises(services.RegistrationRefused) as refused:
        services.register_employer(
            user=UserFactory(role=""),
            name="No ID Care",
            kind=Employer.Kind.CQC_LOCATION,
            postcode="SW1A 1AA",
            local_authority=local_authority,
        )
    assert refused.value.field == "cqc_location_id"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_simultaneous_registrations_of_one_location_create_one_employer(postgres):
    from portal.models import LocalAuthority

    authority = LocalAuthority.objects.get(gss_code="E09000033")

    def register(user):
        return services.register_employer(
            user=user,
            name=f"Home of {user.email}",
            kind=Employer.Kind.CQC_LOCATION,
            cqc_location_id="1-555555555",
            postcode="SW1A 1AA",
            local_authority=authority,
        )

    outcomes = run_at_once(
        register,
        [UserFactory(role=""), UserFactory(role="")],
        expected=services.RegistrationRefused,
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "Employer",
        "RegistrationRefused",
    ]
    assert Employer.objects.filter(cqc_location_id="1-555555555").count() == 1
    assert EmployerMembership.objects.count() == 1


def test_start_page_sends_new_employers_on_to_registration_after_sign_up(client):
    response = client.get(reverse("home"))
    signup = reverse("account_signup")
    assert f'href="{signup}?next=/employers/register/"'.encode() in response.content
