"""The audit trail: append-only in the model, the queryset and (on PostgreSQL) the database;
role changes name who made them; administrators read and filter it in admin, nobody edits it."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from portal import audit
from portal.models import AuditEvent, User
from portal.roles import Role
from tests.factories import EmployerFactory, UserFactory, local_authority, make_user

pytestmark = pytest.mark.django_db


def test_model_and_queryset_refuse_update_and_delete():
    event = audit.record(verb="something_happened", details={"n": 1})
    event.verb = "rewritten"
    with pytest.raises(PermissionDenied):
        event.save()
    with pytest.raises(PermissionDenied):
        event.delete()
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.filter(pk=event.pk).update(verb="rewritten")
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).verb == "something_happened"


def test_database_refuses_update_and_delete(postgres):
    event = audit.record(verb="something_happened")
    for statement in (
        "UPDATE portal_auditevent SET verb = 'rewritten' WHERE id = %s",
        "DELETE FROM portal_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).verb == "something_happened"


def test_record_falls_back_to_the_bound_request_and_acting_as(rf):
    admin = make_user(Role.ADMINISTRATOR)
    request = rf.get("/", REMOTE_ADDR="198.51.100.7")
    request.user = admin
    with audit.bound_request(request):
        event = audit.record(verb="looked")
    assert (event.actor, event.actor_label, event.ip_address) == (
        admin,
        admin.email,
        "198.51.100.7",
    )
    with audit.acting_as(admin):
        assert audit.record(verb="ran_a_command").actor == admin
    assert audit.record(verb="outside").actor is None


def change_in_admin(client, target, *, role, local_authority="", **extra):
    """POST the admin's change form for ``target`` as an administrator would fill it in."""
    form = {
        "email": target.email,
        "full_name": target.full_name,
        "role": role,
        "local_authority": local_authority,
        "region_code": "",
        "is_active": "on",
        "date_joined_0": "2021-01-04",
        "date_joined_1": "09:00:00",
    }
    return client.post(reverse("admin:portal_user_change", args=[target.pk]), form, **extra)


def test_role_change_in_admin_names_the_administrator(client):
    admin = make_user(Role.ADMINISTRATOR)
    target = UserFactory()
    client.force_login(admin)
    response = change_in_admin(
        client,
        target,
        role=Role.LOCAL_LEAD,
        local_authority=local_authority().pk,
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(verb="role_changed")
    assert event.actor == admin
    assert event.ip_address == "203.0.113.9"
    assert event.object_id == str(target.pk)
    assert event.details["changed"] == ["local_authority_id", "role"]
    assert event.details["to"]["role"] == Role.LOCAL_LEAD


def test_admin_refuses_a_local_lead_without_an_authority(client):
    admin = make_user(Role.ADMINISTRATOR)
    target = UserFactory()
    client.force_login(admin)
    response = change_in_admin(client, target, role=Role.LOCAL_LEAD)
    assert response.status_code == 200
    assert "A local lead needs a local authority." in response.content.decode()
    target.refresh_from_db()
    assert target.role == ""


def test_admin_creates_a_user_and_the_grant_is_audited(client):
    admin = make_user(Role.ADMINISTRATOR)
    client.force_login(admin)
    response = client.post(
        reverse("admin:portal_user_add"),
        {
            "email": "New.Lead@Example.org",
            "full_name": "New Lead",
            "role": Role.LOCAL_LEAD,
            "local_authority": local_authority().pk,
            "region_code": "",
            "usable_password": "true",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = User.objects.get(email="new.lead@example.org")
    event = AuditEvent.objects.get(verb="role_granted", object_id=str(created.pk))
    assert event.actor == admin
    assert created.check_password("a long enough passphrase")


def test_signing_in_does_not_record_a_role_change(client):
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(user)
    assert not AuditEvent.objects.filter(verb="role_changed").exists()


def test_service_role_change_without_request_is_recorded_as_system():
    user = make_user(Role.EMPLOYER, employer=EmployerFactory())
    user.role = Role.SITE_STAFF
    user.save()
    event = AuditEvent.objects.get(verb="role_changed")
    assert event.actor is None
    assert event.details["from"] == {"role": Role.EMPLOYER}


def test_administrator_reads_and_filters_the_audit_log(client):
    admin = make_user(Role.ADMINISTRATOR)
    audit.record(verb="sign_in_failed", details={"email": "a@example.org"})
    audit.record(verb="colleague_invited", object_type="portal.colleagueinvitation")
    client.force_login(admin)
    url = reverse("admin:portal_auditevent_changelist")

    everything = client.get(url)
    assert everything.status_code == 200
    filtered = client.get(url, {"verb": "sign_in_failed"})
    assert filtered.status_code == 200
    shown = [event.verb for event in filtered.context["cl"].result_list]
    assert shown == ["sign_in_failed"]
    by_type = client.get(url, {"object_type": "portal.colleagueinvitation"})
    assert [e.verb for e in by_type.context["cl"].result_list] == ["colleague_invited"]
    assert AuditEvent.objects.filter(verb="audit_log_viewed", actor=admin).count() == 3


def test_nobody_can_add_change_or_delete_audit_events_in_admin(client):
    admin = make_user(Role.ADMINISTRATOR)
    event = audit.record(verb="something_happened")
    client.force_login(admin)
    change_url = reverse("admin:portal_auditevent_change", args=[event.pk])
    delete_url = reverse("admin:portal_auditevent_delete", args=[event.pk])

    assert client.get(reverse("admin:portal_auditevent_add")).status_code == 403
    # The change page is read-only: it shows the event and refuses any change.
    page = client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"verb": "rewritten"}).status_code == 403
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    client.post(
        reverse("admin:portal_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert AuditEvent.objects.get(pk=event.pk).verb == "something_happened"


def test_non_administrators_cannot_read_the_audit_log(client):
    lead = make_user(Role.LOCAL_LEAD)
    User.objects.filter(pk=lead.pk).update(is_staff=True)
    client.force_login(lead)
    assert client.get(reverse("admin:portal_auditevent_changelist")).status_code == 403
