"""Who saw, exported or changed what: every page of workers' personal data writes an audit
event naming the user and the record when it is served (and nothing when it is refused), and
every addition, change and deletion made in admin is audited, whichever app's model it is."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from employers.models import Employer
from portal.access_audit import NO_PERSONAL_DATA, PERSONAL_DATA_VIEWS
from portal.admin_site import AuditedActions
from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, EmploymentFactory, make_user

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
    unclassed = names - set(PERSONAL_DATA_VIEWS) - set(NO_PERSONAL_DATA)
    assert not unclassed, f"Add these pages to portal/access_audit.py: {sorted(unclassed)}"
    assert not set(PERSONAL_DATA_VIEWS) & set(NO_PERSONAL_DATA)
    stale = (set(PERSONAL_DATA_VIEWS) | set(NO_PERSONAL_DATA)) - names
    assert not stale, f"No such pages: {sorted(stale)}"


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
