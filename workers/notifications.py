"""Emails that tell each side of an eligibility question it is their turn: the employer when
a local lead asks, the lead when the employer answers. Sent after the transaction commits."""

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse

from portal.models import User
from workers.models import Employment, InformationRequest


def questions_asked(*, employer_ids: list[int]) -> int:
    """One email per employer to its users and contact address; returns emails sent."""
    employers = (
        Employment.objects.filter(employer_id__in=employer_ids)
        .values("employer_id", "employer__name", "employer__contact_email")
        .annotate(open=Count("pk", filter=Q(information_requested=True)))
        .order_by("employer_id")
    )
    members: dict[int, set[str]] = {}
    for employer_id, email in User.objects.filter(
        employer_memberships__employer_id__in=employer_ids, is_active=True
    ).values_list("employer_memberships__employer_id", "email"):
        members.setdefault(employer_id, set()).add(email)
    url = settings.SITE_URL + reverse("workers:questions")
    messages = []
    for row in employers:
        recipients = set(members.get(row["employer_id"], set()))
        if row["employer__contact_email"]:
            recipients.add(row["employer__contact_email"])
        if not recipients or not row["open"]:
            continue
        body = render_to_string(
            "workers/emails/questions_asked.txt",
            {"employer_name": row["employer__name"], "count": row["open"], "url": url},
        )
        subject = f"Carevax: the local lead has a question about {row['open']} of your workers"
        messages.append((subject, body, None, sorted(recipients)))
    return send_mass_mail(messages, fail_silently=False) if messages else 0


def question_answered(*, information_request_id: int) -> int:
    """Email the local lead who asked that the employer has answered."""
    question = (
        InformationRequest.objects.select_related(
            "asked_by", "employment__worker", "employment__employer"
        )
        .filter(pk=information_request_id)
        .first()
    )
    if question is None or question.asked_by is None or not question.asked_by.email:
        return 0
    employment = question.employment
    url = settings.SITE_URL + reverse("workers:employment", args=[employment.pk])
    body = render_to_string(
        "workers/emails/question_answered.txt",
        {"question": question, "employment": employment, "url": url},
    )
    subject = f"Carevax: {employment.employer.name} answered your question"
    return send_mass_mail([(subject, body, None, [question.asked_by.email])])
