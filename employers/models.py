"""Care employers (organisations that employ frontline social care staff) and their users."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.exports import neutralise_formula
from portal.models import LocalAuthority
from portal.roles import is_administrator, is_employer_user, is_local_lead, is_nhs_team


class EmployerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EmployerQuerySet":
        """The employers ``user`` may see (docs/roles.md)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if is_local_lead(user):
            return self.filter(local_authority_id=user.local_authority_id)
        if is_employer_user(user):
            return self.filter(
                Exists(EmployerMembership.objects.filter(employer=OuterRef("pk"), user=user))
            )
        if is_nhs_team(user):
            if user.region_code:
                return self.filter(local_authority__region_code=user.region_code)
            return self.all()
        return self.none()


class Employer(models.Model):
    class Kind(models.TextChoices):
        CQC_LOCATION = "cqc_location", "CQC-registered provider location"
        NON_REGISTERED = "non_registered", "Non-registered provider"
        LA_IN_HOUSE = "la_in_house", "Local authority in-house service"
        DIRECT_PAYMENT = "direct_payment", "Direct-payment or personal-budget employer"
        AGENCY = "agency", "Staffing agency"

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    name = models.CharField("organisation name", max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    cqc_location_id = models.CharField(
        "CQC location ID", max_length=14, null=True, blank=True, unique=True
    )
    address_line_1 = models.CharField(max_length=200, blank=True)
    address_line_2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=8)
    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, related_name="employers"
    )
    contact_name = models.CharField(max_length=150, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=30, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = EmployerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["local_authority", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class EmployerMembership(models.Model):
    """An employer user's link to one employer they act for."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="employer_memberships"
    )
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "employer"], name="unique_employer_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.employer}"


class StaffUploadQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StaffUploadQuerySet":
        """Uploads of the employers a user acts for; a lead's authority; admins all."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if is_local_lead(user):
            return self.filter(employer__local_authority_id=user.local_authority_id)
        if is_employer_user(user):
            return self.filter(
                Exists(
                    EmployerMembership.objects.filter(employer=OuterRef("employer_id"), user=user)
                )
            )
        return self.none()


class StaffUpload(models.Model):
    """One uploaded staff list: its checking, the preview it gives, and what its import did."""

    class Mode(models.TextChoices):
        ADD = "add", "Add new staff and update existing staff"
        REPLACE = "replace", "Replace the whole staff list"

    class Status(models.TextChoices):
        VALIDATING = "validating", "Checking"
        READY = "ready", "Ready for review"
        IMPORTING = "importing", "Importing"
        # Confirmed by an organisation not yet approved: imported once it is.
        WAITING = "waiting", "Waiting for approval"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="staff_uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    original_filename = models.CharField(max_length=255)
    file_hash = models.CharField("SHA-256 of the file", max_length=64, db_index=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ADD)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.VALIDATING, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField("rows with errors", default=0)
    left_count = models.PositiveIntegerField("staff to mark as left", default=0)
    warnings = models.JSONField(default=list, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = StaffUploadQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["employer", "-uploaded_at"])]
        constraints = [
            # The same file uploaded twice at once: one upload wins, the other is refused.
            models.UniqueConstraint(
                fields=["employer", "file_hash"],
                condition=Q(status__in=["validating", "ready", "importing", "waiting"]),
                name="one_open_upload_per_employer_file",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.employer})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.IMPORTED, self.Status.FAILED)

    @property
    def can_import(self) -> bool:
        return self.status == self.Status.READY and self.error_count == 0

    @property
    def percent_done(self) -> int:
        if self.status != self.Status.VALIDATING:
            return 100
        if not self.total_rows:
            return 0
        return min(99, self.rows_done * 100 // self.total_rows)


class StaffUploadFile(models.Model):
    """The uploaded bytes, kept only until the upload is imported or fails."""

    upload = models.OneToOneField(
        StaffUpload, on_delete=models.CASCADE, primary_key=True, related_name="file"
    )
    content = models.BinaryField()

    def __str__(self) -> str:
        return f"File of {self.upload_id}"


class StaffUploadBatch(models.Model):
    """The checked, normalised rows of one batch, staged so the import need not re-read the file.

    ``rows`` is zlib-compressed JSON; removed once the upload is imported or fails.
    """

    upload = models.ForeignKey(StaffUpload, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    rows = models.BinaryField()

    class Meta:
        ordering = ["upload", "number"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "number"], name="unique_staff_upload_batch")
        ]

    def __str__(self) -> str:
        return f"Batch {self.number} of {self.upload_id}"


class StaffUploadError(models.Model):
    """One problem in one row of an upload, in the employer's own row numbering."""

    upload = models.ForeignKey(StaffUpload, on_delete=models.CASCADE, related_name="errors")
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=80, blank=True)
    value = models.CharField(max_length=255, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["upload", "row_number", "id"]
        indexes = [models.Index(fields=["upload", "row_number", "id"])]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.message}"

    @property
    def shown_value(self) -> str:
        """The value as typed, made safe to show or export (never run as a formula)."""
        return neutralise_formula(self.value)


class StaffUploadChange(models.Model):
    """An employment that an import created, updated or marked as left."""

    class Action(models.TextChoices):
        CREATED = "created", "Added"
        UPDATED = "updated", "Updated"
        LEFT = "left", "Marked as left"

    upload = models.ForeignKey(StaffUpload, on_delete=models.CASCADE, related_name="changes")
    employment = models.ForeignKey(
        "workers.Employment", on_delete=models.CASCADE, related_name="upload_changes"
    )
    action = models.CharField(max_length=10, choices=Action.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "employment"], name="one_change_per_upload_and_employment"
            )
        ]
        indexes = [models.Index(fields=["upload", "action"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.employment_id}"
