"""Care employers (organisations that employ frontline social care staff) and their users."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

from portal.models import LocalAuthority
from portal.roles import Role, is_administrator


class EmployerQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EmployerQuerySet":
        """The employers ``user`` may see (DESIGN.md section 2)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if user.role == Role.LOCAL_LEAD:
            return self.filter(local_authority_id=user.local_authority_id)
        if user.role == Role.EMPLOYER:
            return self.filter(
                Exists(EmployerMembership.objects.filter(employer=OuterRef("pk"), user=user))
            )
        if user.role == Role.NHS_TEAM:
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
