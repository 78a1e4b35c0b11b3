"""Who saw, exported or changed what: every page of workers' personal data writes an audit
event naming the user and the record when it is served (and nothing when it is refused) and
is sent with ``Cache-Control: no-store``, and every addition, change and deletion made in
admin is audited, whichever app's model it is."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from employers.models import Employer
from portal.access_audit import (
    NO_PERSONAL_DATA,
    OWN_PERSONAL_DATA,
    PERSONAL_DATA_MODELS,
    PERSONAL_DATA_VIEWS,
    access_for,
    shows_personal_data,
)
from portal.admin_site import AuditedActions
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, build_tenant, make_user

pytestmark = pytest.mark.django_db


def portal_view_names(patterns=None, namespace: str = "") -> set[str]:
    """Names of the portal's own pages (admin, allauth and the API have their own rules)."""
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            if inner == "admin" or str(pattern.pattern).startswith(("accounts/", "api/")):
                continue
            names |= portal_view_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_page_is_classed_as_showing_personal_data_or_not():
    names = portal_view_names()
    lists = [set(PERSONAL_DATA_VIEWS), set(OWN_PERSONAL_DATA), set(NO_PERSONAL_DATA)]
    unclassed = names - set().union(*lists)
    assert not unclassed, f"Add these pages to portal/access_audit.py: {sorted(unclassed)}"
    assert sum(map(len, lists)) == len(set().union(*lists)), "a page is in two lists"
    stale = set().union(*lists) - names
    assert not stale, f"No such pages: {sorted(stale)}"


PERSONAL_DATA_PAGES = sorted(
    [name for name in portal_view_names() if shows_personal_data(name)]
    + [f"admin:{model}_changelist" for model in PERSONAL_DATA_MODELS]
)
# Pages that a GET with a tenant's records does not open: they answer this, no-store too.
NOT_OPENED = {
    "employers:eligibility_preview_results": 405,  # the results are posted back
    "employers:eligibility_preview_csv": 405,
    "invitation_link": 404,  # a token is only ever in a message (tests/invitations)
}


def page_url(view_name: str) -> str:
    """The page with a record of the kind it shows (the tenant's first)."""
    access = access_for(view_name)
    if view_name == "invitation_link":
        return reverse(view_name, args=["an-unknown-token"])
    if view_name == "workers:letters":
        return reverse(view_name) + f"?employer={Employer.objects.order_by('pk')[0].pk}"
    if not access.object_argument or view_name.endswith("_changelist"):
        return reverse(view_name)
    shown = apps.get_model(access.object_type)._base_manager.order_by("pk").first()
    return reverse(view_name, kwargs={access.object_argument: shown.pk})


@pytest.mark.parametrize("view_name", PERSONAL_DATA_PAGES)
def test_no_page_of_personal_data_is_kept_by_browsers_or_proxies(client, view_name, postgres):
    tenant = build_tenant("E09000033", "Westminster")
    url = page_url(view_name)
    for user in [make_user(Role.ADMINISTRATOR), *tenant.users.values()]:
        client.force_login(user)
        response = client.get(url)
        if response.status_code not in (403, 404):  # a page of one role, or of one scope
            break
    assert response.status_code == NOT_OPENED.get(view_name, 200)
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def employer_with_staff(local_authority):
    employer = EmployerFactory(local_authority=local_authority, status=Employer.Status.APPROVED)
    employment = EmploymentFactory(employer=employer)
    return employer, employment


def test_viewing_a_staff_list_and_a_worker_is_recorded_with_who_and_what(
    client, employer_with_staff, postgres
):
    employer, employment = employer_with_staff
    user = make_user(Role.EMPLOYER, employer=employer)
    client.force_login(user)
    url = reverse("employers:staff", args=[employer.pk]) + "?q=Okafor"
    assert client.get(url, REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get(reverse("employers:employment", args=[employment.pk])).status_code == 200
    listed, viewed = AuditEvent.objects.order_by("id").filter(
        verb__in=["staff_list_viewed", "employment_viewed"]
    )
    assert (listed.actor, listed.object_type, listed.object_id) == (
        user,
        "employers.employer",
        str(employer.pk),
    )
    assert listed.details == {"path": url, "method": "GET"}
    assert listed.ip_address == "203.0.113.7"
    assert (viewed.verb, viewed.object_id) == ("employment_viewed", str(employment.pk))


def test_a_refused_or_missing_page_records_no_view(client, employer_with_staff, postgres):
    employer, employment = employer_with_staff
    outsider = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(outsider)
    assert client.get(reverse("employers:staff", args=[employer.pk])).status_code == 404
    assert client.get(reverse("employers:employment", args=[employment.pk])).status_code == 404
    assert not AuditEvent.objects.filter(verb__endswith="_viewed").exists()


def test_a_leads_queue_and_letters_are_recorded(client, employer_with_staff, postgres):
    employer, _ = employer_with_staff
    lead = make_user(Role.LOCAL_LEAD, local_authority_obj=employer.local_authority)
    client.force_login(lead)
    assert client.get(reverse("workers:queue"), {"employer": employer.pk}).status_code == 200
    event = AuditEvent.objects.get(verb="eligibility_queue_viewed")
    assert event.actor == lead
    assert event.details["path"] == f"{reverse('workers:queue')}?employer={employer.pk}"


def test_admin_pages_of_personal_data_are_recorded(client, employer_with_staff, postgres):
    _, employment = employer_with_staff
    administrator = make_user(Role.ADMINISTRATOR)
    client.force_login(administrator)
    worker = employment.worker
    assert client.get(reverse("admin:workers_worker_changelist")).status_code == 200
    assert client.get(reverse("admin:workers_worker_change", args=[worker.pk])).status_code == 200
    assert client.get(reverse("admin:portal_localauthority_changelist")).status_code == 200
    events = list(
        AuditEvent.objects.filter(verb__startswith="admin_")
        .order_by("id")
        .values_list("verb", "object_type", "object_id")
    )
    assert events == [
        ("admin_list_viewed", "workers.worker", ""),
        ("admin_record_viewed", "workers.worker", str(worker.pk)),
    ]


def test_every_admin_action_is_audited_on_any_registered_model(client, postgres):
    administrator = make_user(Role.ADMINISTRATOR)
    client.force_login(administrator)
    # Every model admin, Django's and allauth's included, writes to the audit trail.
    assert all(
        isinstance(model_admin, AuditedActions) for model_admin in admin.site._registry.values()
    )

    response = client.post(reverse("admin:auth_group_add"), {"name": "Reviewers"})
    assert response.status_code == 302
    group = Group.objects.get(name="Reviewers")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": "Senior reviewers"}
    )
    assert response.status_code == 302
    response = client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Group.objects.exists()
    added, changed, deleted = AuditEvent.objects.filter(
        verb__in=["admin_added", "admin_changed", "admin_deleted"]
    ).order_by("id")
    assert (added.actor, added.object_type, added.object_id) == (
        administrator,
        "auth.group",
        str(group.pk),
    )
    assert "Name" in changed.details["change"]
    assert deleted.details == {
        "count": 1,
        "object_ids": [str(group.pk)],
        "objects": ["Senior reviewers"],
    }
