"""Frontline social care workers, their employments and the eligibility decisions on them."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.roles import Role, is_administrator


def employment_scope(user, prefix: str = "") -> Q | None:
    """A filter on employments (``prefix`` leads to one) that ``user`` may see.

    ``None`` means everything; an always-false Q means nothing. Employers are referenced by
    lookup only, so this app never imports the employers app.
    """
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_administrator(user):
        return None
    if user.role == Role.LOCAL_LEAD:
        return Q(**{f"{prefix}employer__local_authority_id": user.local_authority_id})
    if user.role == Role.EMPLOYER:
        return Q(**{f"{prefix}employer__memberships__user": user})
    return Q(pk__in=[])


class WorkerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "WorkerQuerySet":
        """Workers with at least one employment the user may see (person-level data)."""
        scope = employment_scope(user)
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(Exists(Employment.objects.filter(scope, worker=OuterRef("pk"))))


class Worker(models.Model):
    """One person, however many employers they work for (identity is matched, never copied)."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    nhs_number = models.CharField("NHS number", max_length=10, null=True, blank=True, unique=True)
    home_postcode = models.CharField(max_length=8)
    ethnicity = models.CharField(max_length=1, blank=True)
    # Normalised first name + last name + date of birth + postcode, for identity matching.
    match_key = models.CharField(max_length=255, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EmploymentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EmploymentQuerySet":
        scope = employment_scope(user)
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(scope).distinct()

    def countable_by(self, user) -> "EmploymentQuerySet":
        """Employments ``user`` may count in aggregate reports (never list person by person).

        NHS team members count their region (or England); everyone else counts what they see.
        """
        if user.is_authenticated and user.is_active and user.role == Role.NHS_TEAM:
            if user.region_code:
                return self.filter(employer__local_authority__region_code=user.region_code)
            return self.all()
        return self.visible_to(user)


class Employment(models.Model):
    """A worker's job with one employer, with contact and job details as that employer gave."""

    class EmploymentType(models.TextChoices):
        EMPLOYED = "employed", "Employed"
        AGENCY = "agency", "Agency"
        BANK = "bank", "Bank or relief"
        SELF_EMPLOYED = "self_employed", "Self-employed"
        PERSONAL_ASSISTANT = "personal_assistant", "Personal assistant (direct payments)"
        VOLUNTEER = "volunteer", "Volunteer"
        STUDENT = "student", "Student on placement"

    class Status(models.TextChoices):
        ACTIVE = "active", "Current"
        LEFT = "left", "Left"

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="employments")
    employer = models.ForeignKey(
        "employers.Employer", on_delete=models.CASCADE, related_name="employments"
    )
    staff_reference = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    job_role = models.CharField(max_length=80)
    work_setting = models.CharField(max_length=80)
    employment_type = models.CharField(
        max_length=20, choices=EmploymentType.choices, default=EmploymentType.EMPLOYED
    )
    direct_contact = models.BooleanField(
        "direct contact with clinically vulnerable people", default=False
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmploymentQuerySet.as_manager()

    class Meta:
        ordering = ["worker__last_name", "worker__first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "employer"], name="one_employment_per_worker_and_employer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker} at {self.employer}"


class EligibilityDecisionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EligibilityDecisionQuerySet":
        scope = employment_scope(user, prefix="employment__")
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(scope).distinct()


class EligibilityDecision(models.Model):
    """One assessment or decision on an employment; history is kept, the latest stands."""

    class Outcome(models.TextChoices):
        ELIGIBLE = "eligible", "Eligible"
        NOT_ELIGIBLE = "not_eligible", "Not eligible"
        NEEDS_INFORMATION = "needs_information", "Needs information"

    employment = models.ForeignKey(
        Employment, on_delete=models.CASCADE, related_name="eligibility_decisions"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reasons = models.JSONField(default=list)
    rule_set_version = models.PositiveIntegerField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    objects = EligibilityDecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["employment", "-decided_at"])]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.employment_id})"
