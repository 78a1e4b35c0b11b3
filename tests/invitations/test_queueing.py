"""Approving workers queues their invitations in the same transaction; reversing withdraws
them; one live invitation per worker, whatever the number of employments or runs."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from bookings import invitations
from bookings.models import Invitation
from portal.models import AuditEvent
from tests.factories import EmployerFactory, EmploymentFactory, WorkerFactory
from workers import services
from workers.models import EligibilityDecision

pytestmark = pytest.mark.django_db


def test_bulk_approval_queues_one_invitation_per_reachable_worker(
    approve, make_employment, employer, local_authority, postgres
):
    by_email = make_employment()
    by_mobile = make_employment(email="", mobile="07700900123")
    unreachable = make_employment(email="", mobile="")
    twice = WorkerFactory()
    second_employer = EmployerFactory(local_authority=local_authority)
    first_job = make_employment(worker=twice)
    second_job = make_employment(worker=twice, employer=second_employer)

    approve([by_email, by_mobile, unreachable, first_job, second_job])

    queued = Invitation.objects.filter(status=Invitation.Status.QUEUED)
    assert sorted(queued.values_list("worker_id", flat=True)) == sorted(
        [by_email.worker_id, by_mobile.worker_id, twice.pk]
    )
    assert not Invitation.objects.filter(worker=unreachable.worker).exists()
    invitation = queued.get(worker=twice)
    assert invitation.employment == first_job  # the first of the worker's employments
    assert invitation.local_authority == local_authority
    assert invitation.site is None and invitation.sent_at is None


def test_a_rolled_back_approval_queues_nothing(lead, make_employment, postgres):
    employment = make_employment()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.approve_employments(lead=lead, employment_ids=[employment.pk], reason="Yes")
        assert Invitation.objects.count() == 1
        raise RuntimeError("the request failed after the approval")
    assert Invitation.objects.count() == 0


def test_queueing_twice_keeps_one_invitation(approve, make_employment, postgres):
    employments = [make_employment() for _ in range(3)]
    ids = approve(employments)
    assert invitations.queue_invitations(employment_ids=ids) == 0
    assert Invitation.objects.count() == 3


def test_one_live_invitation_per_worker_is_a_database_rule(approve, make_employment, postgres):
    employment = make_employment()
    approve([employment])
    live = Invitation.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            worker=live.worker, employment=employment, local_authority=live.local_authority
        )
    # A closed invitation does not block a new one.
    Invitation.objects.filter(pk=live.pk).update(status=Invitation.Status.EXPIRED)
    Invitation.objects.create(
        worker=live.worker, employment=employment, local_authority=live.local_authority
    )


def test_queueing_is_set_based(make_employment, employer, postgres):
    def queries_to_queue(count: int) -> int:
        employments = [
            EmploymentFactory(
                employer=employer,
                eligibility_decided=True,
                eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
            )
            for _ in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert invitations.queue_invitations(employment_ids=[e.pk for e in employments]) == (
                count
            )
        return len(queries.captured_queries)

    assert queries_to_queue(2) == queries_to_queue(60)


def test_one_decision_queues_and_its_reversal_withdraws(lead, make_employment, postgres):
    employment = make_employment()
    services.assess_employments(employment_ids=[employment.pk])
    employment.refresh_from_db()
    decision = services.decide_employment(
        lead=lead,
        employment_id=employment.pk,
        outcome="eligible",
        reason="Works in people's homes",
        seen_decision_id=employment.current_decision_id,
    )
    invitation = Invitation.objects.get(worker=employment.worker)
    assert invitation.status == Invitation.Status.QUEUED

    services.reverse_decision(
        lead=lead,
        employment_id=employment.pk,
        reason="Office based after all",
        seen_decision_id=decision.pk,
    )
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.CANCELLED
    assert invitation.closed_at is not None
    event = AuditEvent.objects.get(verb="invitations_withdrawn")
    assert event.details["invitation_ids"] == [invitation.pk]

    # Reversing the refusal approves again, and queues a new invitation.
    refusal = employment.eligibility_decisions.first()
    services.reverse_decision(
        lead=lead, employment_id=employment.pk, reason="Confirmed", seen_decision_id=refusal.pk
    )
    assert Invitation.objects.live().filter(worker=employment.worker).count() == 1


def test_reversal_keeps_the_invitation_of_a_worker_still_approved_elsewhere(
    lead, approve, make_employment, local_authority, postgres
):
    worker = WorkerFactory()
    first = make_employment(worker=worker)
    second = make_employment(
        worker=worker, employer=EmployerFactory(local_authority=local_authority)
    )
    approve([first, second])
    first.refresh_from_db()
    services.reverse_decision(
        lead=lead,
        employment_id=first.pk,
        reason="Left the role",
        seen_decision_id=first.current_decision_id,
    )
    assert Invitation.objects.get(worker=worker).status == Invitation.Status.QUEUED


def test_a_declined_or_booked_worker_is_not_invited_again(
    approve, make_employment, local_authority, postgres
):
    worker = WorkerFactory()
    approve([make_employment(worker=worker)])
    Invitation.objects.filter(worker=worker).update(status=Invitation.Status.DECLINED)
    approve(
        [make_employment(worker=worker, employer=EmployerFactory(local_authority=local_authority))]
    )
    assert Invitation.objects.filter(worker=worker).count() == 1
