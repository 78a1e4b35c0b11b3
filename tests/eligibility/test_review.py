"""The local lead's review: the queue's counts, filters and paging; bulk decisions bound to
the set confirmed; one worker's decision with a reason; stale forms; scope; reversal."""

import pytest
from django.urls import reverse

from employers.models import Employer
from portal.models import AuditEvent
from tests.factories import EmployerFactory
from workers import services
from workers.models import EligibilityDecision, Employment

pytestmark = pytest.mark.django_db

QUEUE = reverse("workers:queue")


def bulk_url(action: str, query: str = "") -> str:
    return reverse("workers:bulk", args=[action]) + (f"?{query}" if query else "")


@pytest.fixture
def assessed(make_employment, employer):
    """Three eligible, one needing information, one not eligible, all assessed."""
    employments = {
        "eligible": [make_employment() for _ in range(3)],
        "office": make_employment(job_role="administrative_staff"),
        "no_contact": make_employment(direct_contact=False),
    }
    services.assess_employments(employer_id=employer.pk)
    return employments


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def digest_of(response) -> str:
    return response.context["form"].initial["digest"]


def test_queue_counts_filters_and_pages(lead_client, assessed, postgres):
    response = lead_client.get(QUEUE)
    assert response.status_code == 200
    assert response.context["counts"] == {
        "total": 5,
        "eligible": 3,
        "needs_information": 1,
        "not_eligible": 1,
    }
    by_employer = response.context["by_employer"]
    assert [(row["total"], row["eligible"]) for row in by_employer] == [(5, 3)]
    filtered = lead_client.get(QUEUE, {"outcome": "needs_information"})
    assert [e.pk for e in filtered.context["page"].object_list] == [assessed["office"].pk]
    by_role = lead_client.get(QUEUE, {"job_role": "administrative_staff"})
    assert by_role.context["counts"]["total"] == 1
    assert b"Office role: confirm the close personal contact" in by_role.content
    newest = lead_client.get(QUEUE, {"sort": "newest"})
    assert newest.context["page"].object_list[0].pk == assessed["no_contact"].pk


def test_employer_filter_offers_every_employer_with_staff_in_the_area(
    lead_client, make_employment, employer, other_local_authority, postgres
):
    """The filter lists each employer in the area with current staff, however small, by
    name: not those without staff, nor another authority's, and it filters by any of them."""
    small = EmployerFactory(local_authority=employer.local_authority, name="Aardvark Care")
    only_left = EmployerFactory(local_authority=employer.local_authority, name="Gone Care")
    elsewhere = EmployerFactory(local_authority=other_local_authority, name="Elsewhere Care")
    for _ in range(3):
        make_employment()
    one = make_employment(employer=small)
    make_employment(employer=only_left, status=Employment.Status.LEFT)
    make_employment(employer=elsewhere)
    services.assess_employments()
    response = lead_client.get(QUEUE)
    choices = list(response.context["form"].fields["employer"].choices)[1:]
    assert choices == sorted(
        [(small.pk, small.name), (employer.pk, employer.name)], key=lambda c: c[1]
    )
    filtered = lead_client.get(QUEUE, {"employer": small.pk})
    assert [e.pk for e in filtered.context["page"].object_list] == [one.pk]
    assert filtered.context["counts"]["total"] == 1
    refused = lead_client.get(QUEUE, {"employer": elsewhere.pk})
    assert refused.context["form"].errors["employer"]


def test_queue_shows_only_the_leads_authority(client, other_lead, assessed, postgres):
    client.force_login(other_lead)
    response = client.get(QUEUE)
    assert response.context["counts"]["total"] == 0


def test_queue_queries_do_not_grow_with_rows(
    lead_client, make_employment, employer, postgres, django_assert_max_num_queries
):
    for _ in range(3):
        make_employment()
    services.assess_employments()
    with django_assert_max_num_queries(12) as few:
        lead_client.get(QUEUE)
    for _ in range(30):
        make_employment(employer=EmployerFactory(local_authority=employer.local_authority))
    services.assess_employments()
    with django_assert_max_num_queries(len(few.captured_queries)):
        lead_client.get(QUEUE)


def test_other_roles_cannot_open_the_queue(client, employer_user, postgres):
    client.force_login(employer_user)
    assert client.get(QUEUE).status_code == 403


def test_bulk_approve_of_an_employers_eligible_workers(
    lead_client, lead, assessed, employer, postgres, django_assert_max_num_queries
):
    query = f"employer={employer.pk}&outcome=eligible"
    confirm = lead_client.get(bulk_url("approve", query))
    assert confirm.context["count"] == 3
    assert b"Approve as eligible: 3 workers" in confirm.content
    with django_assert_max_num_queries(20):
        done = lead_client.post(bulk_url("approve", query), {"digest": digest_of(confirm)})
    assert done.status_code == 302
    approved = Employment.objects.filter(eligibility_decided=True)
    assert set(approved.values_list("pk", flat=True)) == {e.pk for e in assessed["eligible"]}
    decisions = EligibilityDecision.objects.filter(source="lead")
    assert decisions.count() == 3
    assert all(d.decided_by == lead and d.rule_set_version == 1 for d in decisions)
    assert all(d.verification_code.startswith("CVX-") for d in decisions)
    event = AuditEvent.objects.get(verb="eligibility_approved")
    assert event.details["count"] == 3
    assert sorted(event.details["employment_ids"]) == sorted(e.pk for e in assessed["eligible"])
    assert {str(d.batch) for d in decisions} == {event.object_id}


def test_bulk_approve_queries_do_not_grow_with_the_set(
    lead_client, make_employment, employer, postgres, django_assert_num_queries
):
    def approve_all() -> int:
        query = "outcome=eligible"
        confirm = lead_client.get(bulk_url("approve", query))
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            lead_client.post(bulk_url("approve", query), {"digest": digest_of(confirm)})
        return len(queries.captured_queries)

    for _ in range(2):
        make_employment()
    services.assess_employments()
    small = approve_all()
    for _ in range(40):
        make_employment()
    services.assess_employments()
    assert approve_all() == small
    assert Employment.objects.filter(eligibility_decided=True).count() == 42


def test_a_set_that_changed_since_confirmation_is_not_decided(
    lead_client, lead, assessed, employer, make_employment, postgres
):
    query = "outcome=eligible"
    confirm = lead_client.get(bulk_url("approve", query))
    late = make_employment()
    services.assess_employments(employment_ids=[late.pk])
    response = lead_client.post(bulk_url("approve", query), {"digest": digest_of(confirm)})
    assert response.status_code == 200
    assert "changed since you looked: it now has 4" in response.context["error"]
    assert not Employment.objects.filter(eligibility_decided=True).exists()
    # Confirming the new page works.
    again = lead_client.post(bulk_url("approve", query), {"digest": digest_of(response)})
    assert again.status_code == 302
    assert Employment.objects.filter(eligibility_decided=True).count() == 4


def test_a_set_someone_else_decided_meanwhile_is_not_overwritten(
    lead_client, lead, assessed, postgres
):
    query = "outcome=eligible"
    confirm = lead_client.get(bulk_url("approve", query))
    first = assessed["eligible"][0]
    services.decide_employment(
        lead=lead,
        employment_id=first.pk,
        outcome="not_eligible",
        reason="Left the care home in December",
        seen_decision_id=Employment.objects.get(pk=first.pk).current_decision_id,
    )
    response = lead_client.post(bulk_url("approve", query), {"digest": digest_of(confirm)})
    assert "changed since you looked: it now has 2" in response.context["error"]
    first.refresh_from_db()
    assert first.eligibility_outcome == "not_eligible"


def test_bulk_action_on_an_empty_set(lead_client, lead, assessed, postgres):
    query = "outcome=eligible&job_role=social_worker"
    page = lead_client.get(bulk_url("approve", query))
    assert page.context["count"] == 0
    assert b"There are no workers in this set" in page.content
    response = lead_client.post(bulk_url("approve", query), {"digest": "anything"})
    assert "no workers in this set" in response.context["error"]
    with pytest.raises(services.EligibilityError, match="no workers"):
        services.approve_employments(lead=lead, employment_ids=[], digest=None)


def test_bulk_reject_needs_a_reason(lead_client, assessed, postgres):
    chosen = assessed["office"].pk
    query = f"employment={chosen}"
    confirm = lead_client.get(bulk_url("reject", query))
    response = lead_client.post(bulk_url("reject", query), {"digest": digest_of(confirm)})
    assert response.status_code == 200
    assert "Give a reason for this decision" in response.content.decode()
    assert not Employment.objects.filter(eligibility_decided=True).exists()
    done = lead_client.post(
        bulk_url("reject", query),
        {"digest": digest_of(confirm), "reason": "Office only: no contact with residents"},
    )
    assert done.status_code == 302
    decision = Employment.objects.get(pk=chosen).current_decision
    assert (decision.outcome, decision.reasons) == (
        "not_eligible",
        ["Office only: no contact with residents"],
    )


def test_approving_a_set_with_unclear_cases_needs_a_reason(lead_client, assessed, postgres):
    query = f"employment={assessed['office'].pk}"
    confirm = lead_client.get(bulk_url("approve", query))
    assert confirm.context["reason_required"]
    response = lead_client.post(bulk_url("approve", query), {"digest": digest_of(confirm)})
    assert "Give a reason" in response.content.decode()


def test_forged_employment_from_another_authority_is_404(
    lead_client, other_local_authority, make_employment, postgres
):
    elsewhere = make_employment(employer=EmployerFactory(local_authority=other_local_authority))
    services.assess_employments()
    assert lead_client.get(bulk_url("approve", f"employment={elsewhere.pk}")).status_code == 404
    assert lead_client.get(bulk_url("ask", f"employment={elsewhere.pk}")).status_code == 404
    page = reverse("workers:employment", args=[elsewhere.pk])
    assert lead_client.get(page).status_code == 404
    response = lead_client.post(page, {"form": "decide", "outcome": "eligible", "reason": "x"})
    assert response.status_code == 404
    assert not EligibilityDecision.objects.filter(source="lead").exists()


def test_services_refuse_employments_outside_the_leads_area(
    lead, other_local_authority, make_employment, postgres
):
    elsewhere = make_employment(employer=EmployerFactory(local_authority=other_local_authority))
    with pytest.raises(Employment.DoesNotExist):
        services.approve_employments(lead=lead, employment_ids=[elsewhere.pk])
    with pytest.raises(Employment.DoesNotExist):
        services.decide_employment(
            lead=lead,
            employment_id=elsewhere.pk,
            outcome="eligible",
            reason="x",
            seen_decision_id=None,
        )


def test_deciding_one_worker_needs_a_reason_unless_confirming_eligible(
    lead_client, assessed, postgres
):
    office = assessed["office"]
    page = reverse("workers:employment", args=[office.pk])
    seen = Employment.objects.get(pk=office.pk).current_decision_id
    response = lead_client.post(
        page, {"form": "decide", "outcome": "eligible", "reason": "", "seen_decision": seen}
    )
    assert response.context["error"] == "Give a reason for this decision."
    done = lead_client.post(
        page,
        {
            "form": "decide",
            "outcome": "eligible",
            "reason": "Manager confirms she covers personal care shifts",
            "seen_decision": seen,
        },
    )
    assert done.status_code == 302
    office.refresh_from_db()
    assert office.eligibility_decided and office.eligibility_outcome == "eligible"
    eligible = assessed["eligible"][0]
    seen = Employment.objects.get(pk=eligible.pk).current_decision_id
    lead_client.post(
        reverse("workers:employment", args=[eligible.pk]),
        {"form": "decide", "outcome": "eligible", "reason": "", "seen_decision": seen},
    )
    eligible.refresh_from_db()
    assert eligible.eligibility_decided


def test_a_stale_form_shows_the_other_decision_and_does_not_overwrite(
    lead_client, lead, assessed, local_authority, postgres
):
    from portal.roles import Role
    from tests.factories import make_user

    colleague = make_user(Role.LOCAL_LEAD, local_authority_obj=local_authority)
    target = assessed["eligible"][0]
    page = reverse("workers:employment", args=[target.pk])
    seen = lead_client.get(page).context["decide_form"].initial["seen_decision"]
    services.decide_employment(
        lead=colleague,
        employment_id=target.pk,
        outcome="not_eligible",
        reason="Works from home, no visits",
        seen_decision_id=seen,
    )
    response = lead_client.post(
        page,
        {"form": "decide", "outcome": "eligible", "reason": "Looks fine", "seen_decision": seen},
    )
    assert response.status_code == 200
    assert "changed while you were looking" in response.context["error"]
    assert str(colleague) in response.context["error"]
    assert b"Works from home, no visits" in response.content
    target.refresh_from_db()
    assert target.eligibility_outcome == "not_eligible"
    assert target.eligibility_decisions.filter(source="lead").count() == 1


def test_approval_requires_an_approved_employer(lead, make_employment, pending_employer, postgres):
    employment = make_employment(employer=pending_employer)
    services.assess_employments()
    employment.refresh_from_db()
    with pytest.raises(services.EligibilityError, match="not approved"):
        services.decide_employment(
            lead=lead,
            employment_id=employment.pk,
            outcome="eligible",
            reason="Checked",
            seen_decision_id=employment.current_decision_id,
        )
    with pytest.raises(services.EligibilityError, match="not approved"):
        services.approve_employments(lead=lead, employment_ids=[employment.pk], reason="Checked")
    assert not Employment.objects.filter(eligibility_decided=True).exists()


def test_a_lead_reverses_a_decision_with_a_reason_and_history_is_kept(
    lead_client, lead, assessed, postgres
):
    target = assessed["eligible"][0]
    services.approve_employments(lead=lead, employment_ids=[target.pk])
    target.refresh_from_db()
    approved = target.current_decision
    page = reverse("workers:employment", args=[target.pk])
    missing = lead_client.post(page, {"form": "reverse", "seen_decision": approved.pk})
    assert "Give a reason for reversing" in missing.content.decode()
    done = lead_client.post(
        page,
        {
            "form": "reverse",
            "reason": "Employer says she left in November",
            "seen_decision": approved.pk,
        },
    )
    assert done.status_code == 302
    target.refresh_from_db()
    assert target.eligibility_outcome == "not_eligible"
    history = list(target.eligibility_decisions.order_by("pk").values_list("outcome", "source"))
    assert history == [("eligible", "assessment"), ("eligible", "lead"), ("not_eligible", "lead")]
    event = AuditEvent.objects.get(verb="eligibility_reversed")
    assert event.details["reversed_decision_id"] == approved.pk
    assert not services.verify_code(raw_code=approved.verification_code).valid
    worker_page = lead_client.get(reverse("workers:detail", args=[target.worker_id]))
    assert b"Employer says she left in November" in worker_page.content


def test_employer_is_reassessed_when_approved(make_employment, pending_employer, postgres):
    employment = make_employment(employer=pending_employer)
    services.assess_employments()
    Employer.objects.filter(pk=pending_employer.pk).update(status="approved")
    services.assess_employments(employer_id=pending_employer.pk)
    employment.refresh_from_db()
    assert employment.eligibility_outcome == "eligible"


def test_a_bulk_page_for_an_employer_outside_the_area_is_404_not_the_whole_area(
    lead_client, assessed, other_local_authority, postgres
):
    elsewhere = EmployerFactory(local_authority=other_local_authority)
    for query in (f"employer={elsewhere.pk}&outcome=eligible", "employer=x", "outcome=nonsense"):
        assert lead_client.get(bulk_url("approve", query)).status_code == 404
        assert lead_client.post(bulk_url("approve", query), {"digest": "0"}).status_code == 404
    assert not Employment.objects.filter(eligibility_decided=True).exists()
