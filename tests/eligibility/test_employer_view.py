"""What employers see of eligibility on their staff list, and how an employer's approval or
rejection by the local lead sets off a fresh assessment of its staff."""

import pytest
from django.urls import reverse

from employers import services as employer_services
from workers import services
from workers.models import Employment

pytestmark = pytest.mark.django_db


def test_staff_list_shows_each_status_with_counts(
    client, lead, employer, employer_user, make_employment, postgres
):
    waiting = make_employment(staff_reference="A1")
    approved = make_employment(staff_reference="A2")
    rejected = make_employment(staff_reference="A3")
    asked = make_employment(staff_reference="A4", job_role="other")
    services.assess_employments()
    services.approve_employments(lead=lead, employment_ids=[approved.pk])
    services.reject_employments(
        lead=lead, employment_ids=[rejected.pk], reason="Works in the head office only"
    )
    services.request_information(lead=lead, employment_ids=[asked.pk], question="What role?")
    client.force_login(employer_user)
    response = client.get(reverse("employers:staff", args=[employer.pk]))
    html = response.content.decode()
    assert response.context["eligibility"] == {
        "awaiting_review": 1,
        "eligible": 1,
        "not_eligible": 1,
        "information_requested": 1,
    }
    assert "1 awaiting review, 1 eligible, 1 not eligible, 1 with information requested" in html
    assert "Works in the head office only" in html
    assert "Information requested" in html
    assert reverse("workers:questions") in html
    assert f"{reverse('workers:letters')}?employer={employer.pk}" in html
    page = client.get(reverse("workers:employment", args=[waiting.pk]))
    assert b"Awaiting review" in page.content
    assert b"Record the decision" not in page.content  # employers do not decide
    refused = client.post(
        reverse("workers:employment", args=[waiting.pk]), {"form": "decide", "outcome": "eligible"}
    )
    assert refused.status_code == 403


def test_approving_the_employer_reassesses_its_staff(
    lead, pending_employer, make_employment, postgres
):
    employment = make_employment(employer=pending_employer)
    services.assess_employments()
    employment.refresh_from_db()
    assert employment.current_decision.reasons == ["Employer awaiting approval"]
    employer_services.approve_employer(lead=lead, employer=pending_employer)
    employment.refresh_from_db()
    assert employment.eligibility_outcome == "eligible"
    assert employment.current_decision.reasons == [
        "Frontline social care worker in direct contact (cohort 2b)"
    ]


def test_rejecting_the_employer_keeps_its_staff_waiting(
    lead, pending_employer, make_employment, postgres
):
    employment = make_employment(employer=pending_employer)
    services.assess_employments()
    employer_services.reject_employer(
        lead=lead, employer=pending_employer, reason="Not a care provider"
    )
    employment.refresh_from_db()
    assert employment.eligibility_outcome == "needs_information"
    assert Employment.objects.filter(eligibility_decided=True).count() == 0
