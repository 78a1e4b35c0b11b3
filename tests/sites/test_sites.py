"""Vaccination sites: placed by postcode district, managed by NHS team members in their region
and by administrators, with site staff belonging to one site."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from bookings import services
from bookings.models import VaccinationSite
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import VaccinationSiteFactory, local_authority, make_user

pytestmark = pytest.mark.django_db

LONDON = "E12000007"
NORTH_WEST = "E12000002"


def site_form(**overrides):
    data = {
        "name": "St Thomas' Hospital hub",
        "kind": VaccinationSite.Kind.HOSPITAL_HUB,
        "ods_code": "rj122",
        "address": "Westminster Bridge Road, London",
        "postcode": "se1 7eh",
        "local_authorities": [local_authority("E09000033").pk],
        "accessibility_notes": "Step-free entrance on Lambeth Palace Road.",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_nhs_team_member_adds_site_placed_at_its_district(client):
    member = make_user(Role.NHS_TEAM, region_code=LONDON)
    client.force_login(member)

    response = client.post(reverse("bookings:site_create"), site_form())

    site = VaccinationSite.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("bookings:site_detail", args=[site.pk])
    assert site.postcode == "SE1 7EH"
    assert site.ods_code == "RJ122"
    assert (site.latitude, site.longitude) == (51.49838, -0.08949)  # SE1 in outcodes.csv
    assert list(site.local_authorities.values_list("gss_code", flat=True)) == ["E09000033"]
    event = AuditEvent.objects.get(verb="site_created")
    assert event.actor == member and event.object_id == str(site.pk)


def test_unknown_district_is_a_validation_error(client):
    client.force_login(make_user(Role.NHS_TEAM, region_code=LONDON))

    response = client.post(reverse("bookings:site_create"), site_form(postcode="ZZ9 9ZZ"))

    assert response.status_code == 200
    assert "We do not know the postcode district ZZ9. Check the postcode." in response.text
    assert "There is a problem" in response.text
    assert not VaccinationSite.objects.exists()


def test_badly_formed_postcode_is_refused_by_the_service():
    admin = make_user(Role.ADMINISTRATOR)
    with pytest.raises(ValidationError) as caught:
        services.create_site(
            actor=admin,
            name="Somewhere",
            kind=VaccinationSite.Kind.VACCINATION_CENTRE,
            ods_code="X1",
            postcode="not a postcode",
            local_authorities=[local_authority()],
        )
    assert "postcode" in caught.value.message_dict


def test_changing_the_postcode_moves_the_site():
    admin = make_user(Role.ADMINISTRATOR)
    site = VaccinationSiteFactory(postcode="SE1 7EH")
    services.update_site(actor=admin, site=site, postcode="m1 1ae")
    site.refresh_from_db()
    assert site.postcode == "M1 1AE"
    assert (site.latitude, site.longitude) == (53.47734, -2.23508)
    assert AuditEvent.objects.filter(verb="site_changed", object_id=str(site.pk)).exists()


def test_nhs_team_member_edits_a_site_in_their_region(client):
    site = VaccinationSiteFactory(name="Old name")
    client.force_login(make_user(Role.NHS_TEAM, region_code=LONDON))

    response = client.post(
        reverse("bookings:site_edit", args=[site.pk]), site_form(name="New name")
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert site.name == "New name"


def test_nhs_team_member_from_another_region_gets_404_on_edit(client):
    site = VaccinationSiteFactory()  # serves Westminster, in London
    client.force_login(make_user(Role.NHS_TEAM, region_code=NORTH_WEST))

    assert client.get(reverse("bookings:site_edit", args=[site.pk])).status_code == 404
    response = client.post(reverse("bookings:site_edit", args=[site.pk]), site_form(name="X"))
    assert response.status_code == 404
    site.refresh_from_db()
    assert site.name != "X"


def test_nhs_team_member_cannot_choose_authorities_outside_their_region(client):
    client.force_login(make_user(Role.NHS_TEAM, region_code=NORTH_WEST))
    response = client.post(reverse("bookings:site_create"), site_form())
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not VaccinationSite.objects.exists()


def test_site_staff_and_leads_cannot_add_sites(client):
    site = VaccinationSiteFactory()
    for user in (make_user(Role.SITE_STAFF, site=site), make_user(Role.LOCAL_LEAD)):
        client.force_login(user)
        assert client.get(reverse("bookings:site_create")).status_code == 403
        assert client.get(reverse("bookings:site_edit", args=[site.pk])).status_code == 403


def test_site_staff_see_only_their_own_site(client):
    mine = VaccinationSiteFactory(name="Mine")
    theirs = VaccinationSiteFactory(name="Theirs")
    client.force_login(make_user(Role.SITE_STAFF, site=mine))
    listing = client.get(reverse("bookings:site_list"))
    assert "Mine" in listing.text and "Theirs" not in listing.text
    assert client.get(reverse("bookings:site_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("bookings:site_calendar", args=[theirs.pk])).status_code == 404


def test_site_staff_member_belongs_to_one_site():
    admin = make_user(Role.ADMINISTRATOR)
    first, second = VaccinationSiteFactory(), VaccinationSiteFactory()
    staff = make_user(Role.SITE_STAFF, site=first)
    services.add_site_staff(actor=admin, site=second, user=staff)
    assert list(VaccinationSite.objects.visible_to(staff)) == [second]


def test_admin_places_site_on_save(client):
    client.force_login(make_user(Role.ADMINISTRATOR))
    response = client.post(
        reverse("admin:bookings_vaccinationsite_add"),
        {
            "name": "Manchester centre",
            "kind": VaccinationSite.Kind.VACCINATION_CENTRE,
            "ods_code": "M100",
            "postcode": "M1 1AE",
            "local_authorities": [local_authority("E08000003").pk],
            "is_active": "on",
            "staff-TOTAL_FORMS": "0",
            "staff-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    site = VaccinationSite.objects.get(ods_code="M100")
    assert (site.latitude, site.longitude) == (53.47734, -2.23508)
