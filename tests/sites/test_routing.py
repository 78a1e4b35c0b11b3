"""Routing: each worker goes to the nearest site with space of the kind their authority
prefers, within the distance and horizon, with up to three alternatives; workers out of reach
are flagged to the lead; the number of queries does not grow with the number of workers."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import Route, RoutingPolicy, VaccinationSite
from bookings.routing import KM_PER_DEGREE_LATITUDE, SiteGrid, SitePoint, route_workers
from portal import postcodes
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import (
    EmployerFactory,
    EmploymentFactory,
    SessionFactory,
    SlotFactory,
    VaccinationSiteFactory,
    local_authority,
    make_user,
)

pytestmark = pytest.mark.django_db

HUB = VaccinationSite.Kind.HOSPITAL_HUB
CENTRE = VaccinationSite.Kind.VACCINATION_CENTRE
LOCAL = VaccinationSite.Kind.LOCAL_SERVICE
HOME = "SE1 7EH"  # district SE1
HOME_LAT, HOME_LON = postcodes.locate("SE1")


def site_north_of_home(km: float, kind=HUB, *, free: int = 4, days_ahead: int = 1, **fields):
    """A site ``km`` due north of the SE1 centroid with ``free`` places ``days_ahead`` away."""
    site = VaccinationSiteFactory(
        kind=kind,
        latitude=HOME_LAT + km / KM_PER_DEGREE_LATITUDE,
        longitude=HOME_LON,
        **fields,
    )
    session = SessionFactory(
        site=site, date=timezone.localdate() + datetime.timedelta(days=days_ahead)
    )
    SlotFactory(session=session, capacity=max(free, 1), booked=0 if free else 1)
    return site


def worker_in(authority_gss: str = "E09000033", postcode: str = HOME):
    employer = EmployerFactory(local_authority=local_authority(authority_gss))
    return EmploymentFactory(employer=employer, worker__home_postcode=postcode).worker


def route_of(worker) -> Route:
    return Route.objects.get(worker=worker)


def test_preferred_kind_beats_a_nearer_less_preferred_kind():
    worker = worker_in()
    site_north_of_home(2, CENTRE)
    hub = site_north_of_home(9, HUB)

    route_workers(worker_ids=[worker.pk])

    route = route_of(worker)
    assert route.site == hub
    assert route.distance_km == pytest.approx(9, abs=0.05)
    assert route.reason == "nearest hospital hub with space: 9.0 km"
    assert not route.is_unrouted


def test_falls_back_to_the_next_kind_and_says_why():
    worker = worker_in()
    centre = site_north_of_home(6, CENTRE)
    site_north_of_home(3, LOCAL)

    route_workers(worker_ids=[worker.pk])

    route = route_of(worker)
    assert route.site == centre
    assert route.reason == (
        "no hospital hub with space within 30 km; nearest vaccination centre with space: 6.0 km"
    )


def test_sites_beyond_the_distance_limit_are_not_used():
    worker = worker_in()
    site_north_of_home(31, HUB)
    centre = site_north_of_home(29, CENTRE)

    route_workers(worker_ids=[worker.pk])

    assert route_of(worker).site == centre


def test_site_without_capacity_in_the_horizon_is_skipped_for_the_next():
    worker = worker_in()
    site_north_of_home(1, HUB, free=0)  # full
    site_north_of_home(2, HUB, days_ahead=20)  # space, but beyond the 14-day horizon
    closed = site_north_of_home(3, HUB, is_active=False)
    cancelled = site_north_of_home(4, HUB)
    cancelled.sessions.update(is_cancelled=True)
    with_space = site_north_of_home(5, HUB)

    route_workers(worker_ids=[worker.pk])

    assert route_of(worker).site == with_space
    assert closed != with_space


def test_up_to_three_alternatives_in_order():
    worker = worker_in()
    sites = [site_north_of_home(km, HUB) for km in (1, 2, 3, 4, 5)]
    centre = site_north_of_home(0.5, CENTRE)

    route_workers(worker_ids=[worker.pk])

    route = route_of(worker)
    assert route.site == sites[0]
    assert [alt["site_id"] for alt in route.alternatives] == [s.pk for s in sites[1:4]]
    assert [alt["distance_km"] for alt in route.alternatives] == [2.0, 3.0, 4.0]
    assert centre.pk not in [alt["site_id"] for alt in route.alternatives]


def test_fewer_alternatives_when_fewer_sites_are_in_reach():
    worker = worker_in()
    site_north_of_home(1, HUB)
    other = site_north_of_home(2, LOCAL)

    route_workers(worker_ids=[worker.pk])

    assert route_of(worker).alternatives == [{"site_id": other.pk, "distance_km": 2.0}]


def test_worker_with_no_site_in_reach_is_flagged_not_dropped(client):
    reachable = worker_in()
    far_away = worker_in(postcode="LS1 4AP")  # Leeds, far from every site
    site_north_of_home(1, HUB)

    summary = route_workers(local_authority_id=local_authority().pk)

    assert (summary.workers, summary.routed, summary.unrouted) == (2, 1, 1)
    route = route_of(far_away)
    assert route.is_unrouted and route.site is None
    assert route.reason == "no site with space within 30 km"
    assert route_of(reachable).site is not None

    client.force_login(make_user(Role.LOCAL_LEAD))
    page = client.get(reverse("bookings:unrouted_workers"))
    assert page.status_code == 200
    assert str(far_away) in page.text
    assert "LS1 4AP" in page.text
    assert str(reachable) not in page.text


def test_unknown_home_district_is_flagged():
    worker = worker_in(postcode="ZZ99 3VZ")
    site_north_of_home(1, HUB)
    route_workers(worker_ids=[worker.pk])
    route = route_of(worker)
    assert route.is_unrouted
    assert route.reason.startswith("home postcode district not recognised")


def test_lead_of_another_authority_does_not_see_unrouted_workers(client):
    worker = worker_in(postcode="LS1 4AP")
    route_workers(worker_ids=[worker.pk])
    client.force_login(make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority("E08000003")))
    page = client.get(reverse("bookings:unrouted_workers"))
    assert str(worker) not in page.text


@pytest.mark.parametrize("everyone", [False, True], ids=["listed workers", "all workers"])
def test_policy_applies_per_authority_of_the_first_current_employer(everyone):
    westminster_worker = worker_in("E09000033")
    manchester_worker = worker_in("E08000003")
    # A Westminster employment added later does not change the Manchester worker's policy.
    EmploymentFactory(
        worker=manchester_worker, employer=EmployerFactory(local_authority=local_authority())
    )
    RoutingPolicy.objects.create(
        local_authority=local_authority("E08000003"),
        site_kinds=[LOCAL, CENTRE],
        max_distance_km=Decimal("5"),
    )
    hub = site_north_of_home(2, HUB)
    local = site_north_of_home(4, LOCAL)
    site_north_of_home(7, CENTRE)

    if everyone:
        route_workers(all_workers=True)
    else:
        route_workers(worker_ids=[westminster_worker.pk, manchester_worker.pk])

    assert route_of(westminster_worker).site == hub  # default policy
    manchester = route_of(manchester_worker)
    assert manchester.site == local
    assert manchester.local_authority.gss_code == "E08000003"
    assert manchester.alternatives == []  # the centre is beyond 5 km; hubs are not offered


def test_routing_again_replaces_the_route():
    worker = worker_in()
    first = site_north_of_home(1, HUB)
    route_workers(worker_ids=[worker.pk])
    first.is_active = False
    first.save()
    second = site_north_of_home(2, HUB)

    route_workers(local_authority_id=local_authority().pk)

    assert Route.objects.filter(worker=worker).count() == 1
    assert route_of(worker).site == second
    assert AuditEvent.objects.filter(verb="workers_routed").count() == 2


def _queries_to_route(count: int) -> int:
    """Add workers until the authority has ``count``, then count the queries to route them."""
    for index in range(count - Route.objects.count()):
        worker_in(postcode=["SE1 7EH", "SW1A 2AA", "LS1 4AP", "M1 1AE"][index % 4])
    with CaptureQueriesContext(connection) as queries:
        summary = route_workers(local_authority_id=local_authority().pk)
    assert summary.workers == count == Route.objects.count()
    return len(queries)


def test_query_count_does_not_grow_with_the_number_of_workers():
    site_north_of_home(1, HUB)
    site_north_of_home(5, CENTRE)
    few = _queries_to_route(4)
    many = _queries_to_route(40)
    assert many == few


def test_grid_reads_only_nearby_cells():
    far = SitePoint(1, HUB, 54.0, -1.5)
    near = SitePoint(2, HUB, HOME_LAT + 0.1, HOME_LON)
    grid = SiteGrid([far, near])
    found = grid.within(HOME_LAT, HOME_LON, 30)
    assert [site for _, site in found] == [near]
    assert found[0][0] == pytest.approx(0.1 * KM_PER_DEGREE_LATITUDE, abs=0.05)


def test_exactly_one_selector_is_required():
    with pytest.raises(ValueError, match="exactly one"):
        route_workers()


def test_lead_edits_their_authority_policy(client):
    lead = make_user(Role.LOCAL_LEAD)
    client.force_login(lead)
    page = client.get(reverse("bookings:routing_policy"))
    assert page.status_code == 200
    assert "the defaults apply" in page.text
    assert page.context["form"].initial["max_distance_km"] == 30

    response = client.post(
        reverse("bookings:routing_policy"),
        {
            "first_kind": CENTRE,
            "second_kind": HUB,
            "third_kind": "",
            "max_distance_km": "12.5",
            "horizon_days": "7",
            "over_invite_factor": "1.25",
        },
    )

    assert response.status_code == 302
    policy = RoutingPolicy.objects.get(local_authority=lead.local_authority)
    assert policy.site_kinds == [CENTRE, HUB]
    assert policy.max_distance_km == Decimal("12.5")
    assert (policy.horizon_days, policy.over_invite_factor) == (7, Decimal("1.25"))
    assert AuditEvent.objects.filter(verb="routing_policy_changed", actor=lead).exists()


def test_policy_form_refuses_the_same_kind_twice(client):
    client.force_login(make_user(Role.LOCAL_LEAD))
    response = client.post(
        reverse("bookings:routing_policy"),
        {
            "first_kind": HUB,
            "second_kind": HUB,
            "max_distance_km": "30",
            "horizon_days": "14",
            "over_invite_factor": "1.5",
        },
    )
    assert "Choose each kind of site only once." in response.text
    assert not RoutingPolicy.objects.exists()


def test_only_local_leads_reach_the_policy_page(client):
    client.force_login(make_user(Role.NHS_TEAM))
    assert client.get(reverse("bookings:routing_policy")).status_code == 403
    assert client.get(reverse("bookings:unrouted_workers")).status_code == 403


def test_worker_who_has_left_every_employer_gets_the_default_policy():
    worker = worker_in("E08000003")
    worker.employments.update(status="left")
    RoutingPolicy.objects.create(
        local_authority=local_authority("E08000003"), site_kinds=[LOCAL], max_distance_km=5
    )
    hub = site_north_of_home(2, HUB)

    route_workers(all_workers=True)

    route = route_of(worker)
    assert route.site == hub
    assert route.local_authority is None


def test_lead_asks_for_their_area_to_be_routed_again(client, django_capture_on_commit_callbacks):
    client.force_login(make_user(Role.LOCAL_LEAD))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("bookings:route_area"))
    assert response.status_code == 302
    assert len(callbacks) == 1  # the routing task is queued only once the request commits


def test_routing_task_routes_the_area_and_is_safe_to_run_twice():
    from bookings.tasks import route_area_workers_task

    worker = worker_in(postcode="LS1 4AP")
    assert route_area_workers_task(local_authority().pk) == 1
    assert route_area_workers_task(local_authority().pk) == 1
    assert Route.objects.filter(worker=worker, is_unrouted=True).count() == 1
