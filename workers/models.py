"""Frontline social care workers, their employments and the eligibility decisions on them."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.roles import is_administrator, is_employer_user, is_local_lead, is_nhs_team


def employment_scope(user, prefix: str = "") -> Q | None:
    """A filter on employments (``prefix`` leads to one) that ``user`` may see.

    ``None`` means everything; an always-false Q means nothing. Employers are referenced by
    lookup only, so this app never imports the employers app.
    """
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_administrator(user):
        return None
    if is_local_lead(user):
        return Q(**{f"{prefix}employer__local_authority_id": user.local_authority_id})
    if is_employer_user(user):
        return Q(**{f"{prefix}employer__memberships__user": user})
    return Q(pk__in=[])


class ReferenceValue(models.Model):
    """One allowed value of a staff-list field (docs/data-formats.md), matched by label or alias.

    The shipped values come from CSV files in ``workers/data/``; administrators add more.
    ``code`` is what employments store and eligibility rules name, so it never changes.
    """

    class Kind(models.TextChoices):
        JOB_ROLE = "job_role", "Job role"
        WORK_SETTING = "work_setting", "Work setting"
        EMPLOYMENT_TYPE = "employment_type", "Employment type"
        ETHNICITY = "ethnicity", "Ethnicity"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.SlugField(
        max_length=40,
        help_text="Stored on each record and used by the eligibility rules. It cannot change.",
    )
    label = models.CharField(max_length=120, help_text="The wording people see.")
    aliases = models.JSONField(
        default=list,
        blank=True,
        help_text="Other wordings uploads may use for this value.",
    )
    sort_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(
        default=True, help_text="Inactive values are kept on old records but not accepted."
    )

    class Meta:
        ordering = ["kind", "sort_order", "label"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="one_reference_value_per_code")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"

    def clean(self) -> None:
        from workers.reference import check_reference_value

        check_reference_value(self)


def reference_label(kind: str, code: str) -> str:
    # Imported here because workers.reference itself imports these models.
    from workers import reference

    return reference.label(kind, code)


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

    def get_ethnicity_display(self) -> str:
        return reference_label(ReferenceValue.Kind.ETHNICITY, self.ethnicity or "Z")


# An employment's eligibility as employers and leads read it (Employment.eligibility_status).
ELIGIBILITY_STATUS_LABELS = {
    "awaiting_review": "Awaiting review",
    "eligible": "Eligible",
    "not_eligible": "Not eligible",
    "needs_information": "Awaiting review",
    "information_requested": "Information requested",
}


class EmploymentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EmploymentQuerySet":
        # No DISTINCT: the scope joins many-to-one (employer) or one membership per employer
        # and user (a unique constraint), so no employment can appear twice; DISTINCT would
        # only make every count, page and EXISTS over a large area sort first.
        scope = employment_scope(user)
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(scope)

    def countable_by(self, user) -> "EmploymentQuerySet":
        """Employments ``user`` may count in aggregate reports (never list person by person).

        NHS team members count their region (or England); everyone else counts what they see.
        """
        if is_nhs_team(user):
            if user.region_code:
                return self.filter(employer__local_authority__region_code=user.region_code)
            return self.all()
        return self.visible_to(user)


class Employment(models.Model):
    """A worker's job with one employer, with contact and job details as that employer gave."""

    # Named codes for code that needs one; the data in workers/data/employment_types.csv is
    # the source of truth, and a test keeps the two in step.
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

    # No index of their own: the unique (worker, employer) constraint and the eligibility
    # index lead with these columns, and every index more is one more write for each of the
    # tens of thousands of rows a bulk decision or an import updates.
    worker = models.ForeignKey(
        Worker, on_delete=models.CASCADE, related_name="employments", db_index=False
    )
    employer = models.ForeignKey(
        "employers.Employer", on_delete=models.CASCADE, related_name="employments", db_index=False
    )
    # Who the person is, exactly as this employer supplied it (docs/decisions/0011): the
    # employer sees these and nothing else, whatever another employer supplied for the same
    # person. The matched person's record (``worker``) is the programme's, not the employer's.
    # Database defaults let bulk writers that predate them leave the columns out.
    first_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    last_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    date_of_birth = models.DateField(null=True, blank=True)
    nhs_number = models.CharField("NHS number", max_length=10, null=True, blank=True)
    home_postcode = models.CharField(max_length=8, blank=True, default="", db_default="")
    ethnicity = models.CharField(max_length=1, blank=True, default="", db_default="")
    # Normalised first name + last name + date of birth + postcode of the values above, to
    # find this employer's own record of a person again.
    match_key = models.CharField(max_length=255, blank=True, default="", db_default="")
    staff_reference = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    # Codes of ReferenceValue rows (workers.reference); administrators may add values, so
    # these carry no fixed choices.
    job_role = models.CharField(max_length=40)
    work_setting = models.CharField(max_length=40)
    employment_type = models.CharField(max_length=40, default=EmploymentType.EMPLOYED)
    direct_contact = models.BooleanField(
        "direct contact with clinically vulnerable people", default=False
    )
    # Two values, nearly all "active": an index would never be chosen, only written.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Eligibility, kept in step by workers.services so the queue and the staff list filter
    # and count without reading the decision history: the latest decision, its outcome,
    # whether a local lead made it, and whether a question to the employer is open.
    current_decision = models.ForeignKey(
        "workers.EligibilityDecision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    eligibility_outcome = models.CharField(max_length=20, blank=True)
    eligibility_decided = models.BooleanField(default=False)
    information_requested = models.BooleanField(default=False)

    objects = EmploymentQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "employer"], name="one_employment_per_worker_and_employer"
            )
        ]
        indexes = [
            # No index on the employer's own NHS numbers or names: an upload reads them once
            # per file through the index below (employers.imports.OwnRecords).
            models.Index(
                fields=["employer", "eligibility_decided", "eligibility_outcome"],
                name="employment_eligibility_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} at {self.employer}"

    def get_ethnicity_display(self) -> str:
        return reference_label(ReferenceValue.Kind.ETHNICITY, self.ethnicity or "Z")

    @property
    def full_name(self) -> str:
        """The person's name as this employer supplied it."""
        return f"{self.first_name} {self.last_name}"

    def get_job_role_display(self) -> str:
        return reference_label(ReferenceValue.Kind.JOB_ROLE, self.job_role)

    def get_work_setting_display(self) -> str:
        return reference_label(ReferenceValue.Kind.WORK_SETTING, self.work_setting)

    def get_employment_type_display(self) -> str:
        return reference_label(ReferenceValue.Kind.EMPLOYMENT_TYPE, self.employment_type)

    @property
    def eligibility_status(self) -> str:
        """What the employer sees: awaiting review, eligible, not eligible or information
        requested (a key of ELIGIBILITY_STATUS_LABELS)."""
        if self.information_requested:
            return "information_requested"
        if self.eligibility_decided:
            return self.eligibility_outcome
        return "awaiting_review"

    def get_eligibility_status_display(self) -> str:
        return ELIGIBILITY_STATUS_LABELS[self.eligibility_status]


class EligibilityDecisionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EligibilityDecisionQuerySet":
        # No DISTINCT, for the reason given on EmploymentQuerySet.visible_to.
        scope = employment_scope(user, prefix="employment__")
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(scope)


class EligibilityDecision(models.Model):
    """One assessment or decision on an employment; history is kept, the latest stands
    (``Employment.current_decision``). Rows are never changed once written."""

    class Outcome(models.TextChoices):
        ELIGIBLE = "eligible", "Eligible"
        NOT_ELIGIBLE = "not_eligible", "Not eligible"
        NEEDS_INFORMATION = "needs_information", "Needs information"

    class Source(models.TextChoices):
        ASSESSMENT = "assessment", "Rule assessment"
        LEAD = "lead", "Local lead"

    # Indexed by (employment, newest first) below, which serves every lookup by employment.
    employment = models.ForeignKey(
        Employment, on_delete=models.CASCADE, related_name="eligibility_decisions", db_index=False
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reasons = models.JSONField(default=list)
    rule_set_version = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ASSESSMENT)
    # Indexed only where set (below): most decisions are the rules' own, with no one to index.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(default=timezone.now)
    # The employment's details the decision was made on (role, setting, contact, ...).
    snapshot = models.JSONField(default=dict)
    # Decisions written together share a batch; the batch's audit event names it. Not
    # indexed: nothing looks decisions up by batch on PostgreSQL (they are pointed at by id),
    # and every decision written would pay for the index.
    batch = models.UUIDField(null=True, blank=True)
    # Given when a local lead decides "eligible"; printed on the worker's letter. Unique by a
    # constraint rather than ``unique=True``, which on PostgreSQL adds a second index for
    # LIKE searches that codes never need (found only whole, by the verification page), and
    # only where there is a code, so the rules' many decisions without one cost it nothing.
    verification_code = models.CharField(max_length=13, null=True, blank=True)

    objects = EligibilityDecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["employment", "-decided_at"]),
            models.Index(
                fields=["decided_by"],
                name="decision_decided_by_idx",
                condition=models.Q(decided_by__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["verification_code"],
                name="one_verification_code",
                condition=models.Q(verification_code__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.employment_id})"

    @property
    def by_lead(self) -> bool:
        return self.source == self.Source.LEAD


class RuleSetQuerySet(models.QuerySet):
    def published(self) -> "RuleSetQuerySet":
        return self.filter(published_at__isnull=False)

    def drafts(self) -> "RuleSetQuerySet":
        return self.filter(published_at__isnull=True)

    def current(self) -> "RuleSet":
        """The rule set in force: the highest published version."""
        return self.published().order_by("-version").first()


class RuleSet(models.Model):
    """One version of the cohort 2b rules (see workers.rules for the language). A draft is
    edited in admin; once published it is never changed or deleted, so every decision's
    ``rule_set_version`` keeps meaning what it meant."""

    version = models.PositiveIntegerField(null=True, blank=True, unique=True, editable=False)
    rules = models.JSONField(help_text="A list of rules; see the rule language in the notes.")
    notes = models.TextField(blank=True, help_text="What changed and why.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = RuleSetQuerySet.as_manager()

    class Meta:
        ordering = [models.F("version").desc(nulls_first=True), "-created_at"]

    def __str__(self) -> str:
        if self.version is None:
            return f"Draft rule set ({self.created_at:%d %b %Y %H:%M})"
        return f"Rule set version {self.version}"

    def save(self, *args, **kwargs):
        if self._stored_is_published():
            raise PermissionDenied("A published rule set cannot change: create a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._stored_is_published():
            raise PermissionDenied("A published rule set cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def _stored_is_published(self) -> bool:
        if self.pk is None:
            return False
        return RuleSet.objects.filter(pk=self.pk, published_at__isnull=False).exists()


class Reassessment(models.Model):
    """Progress of re-assessing every undecided employment under a newly published rule set."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="reassessments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # Keyset cursor: a re-run continues after the last employment finished.
    last_employment_id = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Re-assessment under {self.rule_set} ({self.get_status_display().lower()})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)


class InformationRequestQuerySet(models.QuerySet):
    def visible_to(self, user) -> "InformationRequestQuerySet":
        # No DISTINCT, for the reason given on EmploymentQuerySet.visible_to.
        scope = employment_scope(user, prefix="employment__")
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(scope)


class InformationRequest(models.Model):
    """A local lead's question to an employer about one employment, and the answer. The
    conversation on an employment is its requests in order."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the employer"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed by a decision"

    employment = models.ForeignKey(
        Employment, on_delete=models.CASCADE, related_name="information_requests"
    )
    question = models.TextField()
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    asked_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(blank=True)
    # What the employer changed when answering, e.g. {"job_role": ["other", "care_worker"]}.
    changes = models.JSONField(default=dict, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )

    objects = InformationRequestQuerySet.as_manager()

    class Meta:
        ordering = ["asked_at", "id"]

    def __str__(self) -> str:
        return f"Question on {self.employment_id} ({self.get_status_display().lower()})"
