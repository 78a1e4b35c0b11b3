"""Approval: the local lead of an employer's authority approves or rejects it with a reason,
the employer's users are emailed, and every decision is audited and decided once."""

import pytest
from django.core import mail
from django.urls import reverse

from employers import services
from employers.models import Employer
from portal.models import AuditEvent
from portal.roles import Role
from tests.concurrency import run_at_once
from tests.factories import EmployerFactory, make_user

pytestmark = pytest.mark.django_db

QUEUE = reverse("employers:approvals")


@pytest.fixture
def lead(local_authority):
    return make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)


@pytest.fixture
def pending(local_authority):
    employer = EmployerFactory(
        name="Riverside Care Home",
        status=Employer.Status.PENDING,
        contact_email="manager@riverside.example",
        local_authority=local_authority,
    )
    make_user(Role.EMPLOYER, employer=employer, email="owner@riverside.example")
    return employer


def decide_url(employer):
    return reverse("employers:decide", args=[employer.pk])


def test_lead_navigation_leads_to_the_queue(client, lead):
    client.force_login(lead)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == QUEUE
    assert b"Employers to approve" in client.get(QUEUE).content


def test_queue_lists_pending_employers_of_the_leads_authority_with_counts(
    client, lead, pending, other_local_authority, django_assert_max_num_queries
):
    EmployerFactory(name="Approved Home", local_authority=pending.local_authority)
    EmployerFactory(
        name="Elsewhere Home", status=Employer.Status.PENDING, local_authority=other_local_authority
    )
    client.force_login(lead)
    with django_assert_max_num_queries(10):
        response = client.get(QUEUE)
    assert response.status_code == 200
    names = [employer.name for employer in response.context["page"].object_list]
    assert names == ["Riverside Care Home"]
    counts = {row["label"]: row["count"] for row in response.context["counts"]}
    assert counts == {"Awaiting approval": 1, "Approved": 1, "Rejected": 0, "All": 2}
    assert b"Awaiting approval (1)" in response.content

    everyone = client.get(QUEUE, {"status": ""})
    assert {e.name for e in everyone.context["page"].object_list} == {
        "Riverside Care Home",
        "Approved Home",
    }


def test_queue_filters_by_kind_and_searches_name_and_cqc_id(client, lead, pending):
    EmployerFactory(
        name="Personal Budget Employer",
        kind=Employer.Kind.DIRECT_PAYMENT,
        cqc_location_id=None,
        status=Employer.Status.PENDING,
        local_authority=pending.local_authority,
    )
    client.force_login(lead)

    def names(**query):
        response = client.get(QUEUE, query)
        return [employer.name for employer in response.context["page"].object_list]

    assert names(kind=Employer.Kind.DIRECT_PAYMENT) == ["Personal Budget Employer"]
    assert names(q="riverside") == ["Riverside Care Home"]
    assert names(q=pending.cqc_location_id.replace("-", "- ")) == ["Riverside Care Home"]
    assert names(q="no such place") == []
    # A hand-edited filter falls back instead of failing.
    assert len(names(kind="nonsense", status="nonsense")) == 2


def test_lead_approves_and_the_employer_users_are_emailed(
    client, lead, pending, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    assert b"Riverside Care Home" in client.get(decide_url(pending)).content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(decide_url(pending), {"decision": "approve", "reason": ""})

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    pending.refresh_from_db()
    assert pending.is_approved
    assert pending.decided_by == lead
    assert pending.decided_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["manager@riverside.example", "owner@riverside.example"]
    assert "approved" in message.subject
    assert "Riverside Care Home" in message.body
    assert reverse("employers:detail", args=[pending.pk]) in message.body
    event = AuditEvent.objects.get(verb="employer_approved")
    assert event.actor == lead
    assert event.object_id == str(pending.pk)


def test_rejection_needs_a_reason(client, lead, pending):
    client.force_login(lead)
    response = client.post(decide_url(pending), {"decision": "reject", "reason": "  "})
    assert response.status_code == 200
    assert "Enter the reason" in " ".join(response.context["form"].errors["reason"])
    pending.refresh_from_db()
    assert pending.status == Employer.Status.PENDING
    assert not AuditEvent.objects.filter(verb="employer_rejected").exists()
    with pytest.raises(ValueError):
        services.reject_employer(lead=lead, employer=pending, reason="")


def test_lead_rejects_with_a_reason_the_employer_reads(
    client, lead, pending, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    reason = "We cannot find this location on the CQC register. Check the location ID."
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(decide_url(pending), {"decision": "reject", "reason": reason})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == Employer.Status.REJECTED
    assert pending.status_reason == reason
    assert len(mail.outbox) == 1
    assert reason in mail.outbox[0].body
    assert "not approved" in mail.outbox[0].subject
    event = AuditEvent.objects.get(verb="employer_rejected")
    assert event.details["reason"] == reason

    owner = pending.memberships.get().user
    client.force_login(owner)
    page = client.get(reverse("employers:detail", args=[pending.pk]))
    assert reason.encode() in page.content


def test_lead_of_another_authority_gets_404(client, pending, other_local_authority):
    outsider = make_user(Role.LOCAL_LEAD, local_authority_obj=other_local_authority)
    client.force_login(outsider)
    assert client.get(decide_url(pending)).status_code == 404
    assert client.post(decide_url(pending), {"decision": "approve"}).status_code == 404
    assert client.get(reverse("employers:detail", args=[pending.pk])).status_code == 404
    assert pending.name.encode() not in client.get(QUEUE).content
    pending.refresh_from_db()
    assert pending.status == Employer.Status.PENDING
    with pytest.raises(Employer.DoesNotExist):
        services.approve_employer(lead=outsider, employer=pending)


def test_employer_user_cannot_decide_on_their_own_registration(client, pending):
    owner = pending.memberships.get().user
    client.force_login(owner)
    assert client.get(decide_url(pending)).status_code == 403
    assert client.post(decide_url(pending), {"decision": "approve"}).status_code == 403
    assert client.get(QUEUE).status_code == 403
    pending.refresh_from_db()
    assert pending.status == Employer.Status.PENDING


def test_stale_decision_is_shown_not_overwritten(
    client, lead, pending, django_capture_on_commit_callbacks
):
    colleague = make_user(
        Role.LOCAL_LEAD, local_authority_obj=pending.local_authority, full_name="Grace Hopper"
    )
    client.force_login(lead)
    assert client.get(decide_url(pending)).status_code == 200
    # Meanwhile a colleague approves it.
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_employer(lead=colleague, employer=pending)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(decide_url(pending), {"decision": "reject", "reason": "Not real"})

    assert response.status_code == 409
    assert b"Someone else has already decided" in response.content
    assert b"Grace Hopper approved" in response.content
    pending.refresh_from_db()
    assert pending.status == Employer.Status.APPROVED
    assert pending.decided_by == colleague
    assert len(mail.outbox) == 1
    assert not AuditEvent.objects.filter(verb="employer_rejected").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_leads_approving_at_once_decide_once_and_email_once(postgres, mailoutbox):
    employer = EmployerFactory(status=Employer.Status.PENDING, contact_email="boss@home.example")
    leads = [
        make_user(Role.LOCAL_LEAD, local_authority_obj=employer.local_authority) for _ in range(2)
    ]

    outcomes = run_at_once(
        lambda lead: services.approve_employer(lead=lead, employer=employer),
        leads,
        expected=services.StaleDecision,
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Employer", "StaleDecision"]
    assert len(mailoutbox) == 1
    assert AuditEvent.objects.filter(verb="employer_approved").count() == 1


def test_administrator_approves_and_rejects_in_admin(client, local_authority):
    admin_user = make_user(Role.ADMINISTRATOR)
    first = EmployerFactory(status=Employer.Status.PENDING, local_authority=local_authority)
    second = EmployerFactory(status=Employer.Status.PENDING, local_authority=local_authority)
    changelist = reverse("admin:employers_employer_changelist")
    client.force_login(admin_user)

    response = client.post(
        changelist, {"action": "approve_selected", "_selected_action": [first.pk]}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.is_approved
    assert first.decided_by == admin_user

    asked = client.post(changelist, {"action": "reject_selected", "_selected_action": [second.pk]})
    assert asked.status_code == 200
    assert b"Reason" in asked.content
    client.post(
        changelist,
        {"action": "reject_selected", "_selected_action": [second.pk], "reason": "Duplicate"},
    )
    second.refresh_from_db()
    assert second.status == Employer.Status.REJECTED
    assert second.status_reason == "Duplicate"
    assert set(
        AuditEvent.objects.filter(actor=admin_user, verb__startswith="employer_").values_list(
            "verb", flat=True
        )
    ) == {"employer_approved", "employer_rejected"}

    # Approving an already-decided employer again leaves it as it is.
    client.post(changelist, {"action": "approve_selected", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.status == Employer.Status.REJECTED
