"""Asking the employer and the answer coming back; what employers see; letters and the
public code check (valid only for the current approval, rate-limited, audited)."""

import uuid

import pytest
from django.core import mail
from django.urls import reverse

from portal.models import AuditEvent
from portal.roles import Role
from tests.factories import EmployerFactory, make_user
from workers import services
from workers.models import Employment, InformationRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(make_employment):
    employment = make_employment(job_role="administrative_staff")
    services.assess_employments(employment_ids=[employment.pk])
    employment.refresh_from_db()
    return employment


def ask(client, employment, question="Does she give personal care?"):
    query = f"employment={employment.pk}"
    url = reverse("workers:bulk", args=["ask"]) + "?" + query
    confirm = client.get(url)
    return client.post(
        url, {"digest": confirm.context["form"].initial["digest"], "question": question}
    )


def test_lead_asks_employer_answers_and_the_worker_returns_reassessed(
    client, lead, employer, employer_user, office, postgres, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        assert ask(client, office).status_code == 302
    office.refresh_from_db()
    assert office.information_requested
    assert office.eligibility_status == "information_requested"
    assert [m.to for m in mail.outbox] == [[employer_user.email]]
    assert "question about 1 of your workers" in mail.outbox[0].subject
    queue = client.get(reverse("workers:queue"))
    assert queue.context["counts"]["total"] == 0
    waiting = client.get(reverse("workers:queue"), {"state": "waiting"})
    assert waiting.context["counts"]["total"] == 1

    client.force_login(employer_user)
    questions = client.get(reverse("workers:questions"))
    assert b"Does she give personal care?" in questions.content
    question = InformationRequest.objects.get()
    page = reverse("workers:answer", args=[question.pk])
    missing = client.post(
        page,
        {
            "answer": "",
            "job_role": "care_worker",
            "work_setting": "domiciliary_care",
            "direct_contact": "yes",
        },
    )
    assert b"Write your answer to the question" in missing.content
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            page,
            {
                "answer": "She is a carer who also covers the office on Fridays.",
                "job_role": "care_worker",
                "work_setting": "domiciliary_care",
                "direct_contact": "yes",
            },
        )
    assert done.status_code == 302
    question.refresh_from_db()
    assert question.status == "answered" and question.answered_by == employer_user
    assert question.changes == {"job_role": ["administrative_staff", "care_worker"]}
    office.refresh_from_db()
    assert not office.information_requested
    assert office.job_role == "care_worker"
    assert office.eligibility_outcome == "eligible"  # re-assessed
    assert mail.outbox[-1].to == [lead.email]
    assert "answered your question" in mail.outbox[-1].subject
    client.force_login(lead)
    queue = client.get(reverse("workers:queue"))
    assert [e.pk for e in queue.context["page"].object_list] == [office.pk]
    review = client.get(reverse("workers:employment", args=[office.pk]))
    assert b"also covers the office on Fridays" in review.content
    assert AuditEvent.objects.filter(verb="eligibility_information_answered").count() == 1


def test_employer_marks_the_worker_as_left(client, lead, employer_user, office, postgres):
    services.request_information(lead=lead, employment_ids=[office.pk], question="Still here?")
    client.force_login(employer_user)
    question = InformationRequest.objects.get()
    client.post(
        reverse("workers:answer", args=[question.pk]),
        {
            "answer": "She left in December.",
            "job_role": "administrative_staff",
            "work_setting": "domiciliary_care",
            "direct_contact": "yes",
            "has_left": "on",
        },
    )
    office.refresh_from_db()
    assert office.status == Employment.Status.LEFT and office.left_at is not None
    client.force_login(lead)
    assert client.get(reverse("workers:queue")).context["counts"]["total"] == 0


def test_an_answered_question_cannot_be_answered_again(client, lead, employer_user, office):
    services.request_information(lead=lead, employment_ids=[office.pk], question="Role?")
    question = InformationRequest.objects.get()
    services.answer_information_request(
        user=employer_user, information_request_id=question.pk, answer="Carer"
    )
    with pytest.raises(services.EligibilityError, match="already been answered"):
        services.answer_information_request(
            user=employer_user, information_request_id=question.pk, answer="Again"
        )


def test_other_employers_cannot_see_or_answer_the_question(client, lead, office, postgres):
    services.request_information(lead=lead, employment_ids=[office.pk], question="Role?")
    stranger = make_user(Role.EMPLOYER, employer=EmployerFactory())
    client.force_login(stranger)
    question = InformationRequest.objects.get()
    assert client.get(reverse("workers:answer", args=[question.pk])).status_code == 404
    assert b"Role?" not in client.get(reverse("workers:questions")).content


def test_a_question_needs_words(lead, office):
    with pytest.raises(services.EligibilityError, match="Write the question"):
        services.request_information(lead=lead, employment_ids=[office.pk], question=" ")


@pytest.fixture
def approved(lead, make_employment):
    employment = make_employment()
    services.assess_employments(employment_ids=[employment.pk])
    services.approve_employments(lead=lead, employment_ids=[employment.pk])
    employment.refresh_from_db()
    return employment


def test_employer_prints_letters_and_the_code_verifies(
    client, employer, employer_user, approved, postgres
):
    code = approved.current_decision.verification_code
    assert len(code) == 13 and code[:4] == "CVX-"
    assert not set(code[4:].replace("-", "")) & set("ILOU")
    client.force_login(employer_user)
    letters = client.get(reverse("workers:letters"), {"employer": employer.pk})
    assert letters.status_code == 200
    assert code.encode() in letters.content
    assert employer.name.encode() in letters.content
    assert b"cohort 2b" in letters.content
    assert b"letter.css" in letters.content
    one = client.get(reverse("workers:letters"), {"employment": approved.pk})
    assert code.encode() in one.content

    client.logout()
    worker = approved.worker
    response = client.post(reverse("workers:verify"), {"code": code.lower().replace("-", " ")})
    expected = f"valid for {worker.first_name} {worker.last_name[0]}., {employer.name}"
    assert expected in response.content.decode()
    assert worker.last_name.encode() not in response.content
    event = AuditEvent.objects.filter(verb="eligibility_code_checked").latest("pk")
    assert event.details["valid"] is True


def test_unknown_code_is_not_valid(client, postgres):
    response = client.post(reverse("workers:verify"), {"code": "CVX-0000-0000"})
    assert b"This code is not valid" in response.content
    assert AuditEvent.objects.get(verb="eligibility_code_checked").details["valid"] is False


def test_letters_are_only_for_approved_workers_in_scope(
    client, employer_user, make_employment, postgres
):
    undecided = make_employment()
    client.force_login(employer_user)
    url = reverse("workers:letters")
    assert client.get(url, {"employment": undecided.pk}).status_code == 404
    elsewhere = make_employment(employer=EmployerFactory())
    assert client.get(url, {"employment": elsewhere.pk}).status_code == 404


def test_letters_for_an_employer_out_of_scope_missing_or_mistyped_are_404(
    client, employer, employer_user, approved, postgres
):
    client.force_login(employer_user)
    url = reverse("workers:letters")
    elsewhere = EmployerFactory()
    for query in (
        {"employer": elsewhere.pk},
        {"employer": 10**12},
        {"employer": 10**30},
        {"employer": "x"},
        {"employer": ""},
        {"employment": "x"},
        {"employment": 10**30},
        {"employer": elsewhere.pk, "employment": approved.pk},
        {},
    ):
        assert client.get(url, query).status_code == 404, query
    both = client.get(url, {"employer": employer.pk, "employment": approved.pk})
    assert both.status_code == 200


def test_code_checks_are_rate_limited_per_address(client, postgres):
    from django.core.cache import cache

    address, other_address = f"198.51.100.{uuid.uuid4().int % 250}", "2001:db8::9"
    for ip in (address, other_address):
        cache.delete(f"workers.verify:{ip}")
    url = reverse("workers:verify")
    for _ in range(20):
        assert client.post(url, {"code": "CVX-0000-0000"}, REMOTE_ADDR=address).status_code == 200
    limited = client.post(url, {"code": "CVX-0000-0000"}, REMOTE_ADDR=address)
    assert limited.status_code == 429
    assert b"checked too many codes" in limited.content
    other = client.post(url, {"code": "CVX-0000-0000"}, REMOTE_ADDR=other_address)
    assert other.status_code == 200


def test_a_fresh_forged_forwarded_for_does_not_escape_the_code_check_limit(client, postgres):
    url = reverse("workers:verify")
    codes = [
        client.post(
            url,
            {"code": "CVX-0000-0000"},
            REMOTE_ADDR="198.51.100.77",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(21)
    ]
    assert codes == [200] * 20 + [429]
