"""Vaccination sites, their staff, sessions and slots (capacity)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import LocalAuthority
from portal.roles import Role, is_administrator


def site_scope(user, prefix: str = "") -> Q | None:
    """A filter on sites (``prefix`` leads to one) that ``user`` may see; None means all."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_administrator(user):
        return None
    if user.role == Role.SITE_STAFF:
        return Q(**{f"{prefix}staff__user": user})
    if user.role == Role.NHS_TEAM:
        if not user.region_code:
            return None
        return Q(**{f"{prefix}local_authorities__region_code": user.region_code})
    if user.role == Role.LOCAL_LEAD:
        return Q(**{f"{prefix}local_authorities": user.local_authority_id})
    return Q(pk__in=[])


class ScopedBySiteQuerySet(models.QuerySet):
    site_prefix = ""

    def visible_to(self, user):
        scope = site_scope(user, self.site_prefix)
        if scope is None:
            return self.all()
        if scope == Q(pk__in=[]):
            return self.none()
        return self.filter(pk__in=self.model.objects.filter(scope).values("pk"))


class VaccinationSiteQuerySet(ScopedBySiteQuerySet):
    pass


class VaccinationSite(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL_HUB = "hospital_hub", "Hospital hub"
        VACCINATION_CENTRE = "vaccination_centre", "Vaccination centre"
        LOCAL_SERVICE = "local_service", "Local vaccination service"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ods_code = models.CharField("ODS code", max_length=10, unique=True)
    address = models.CharField(max_length=300, blank=True)
    postcode = models.CharField(max_length=8)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    local_authorities = models.ManyToManyField(LocalAuthority, related_name="vaccination_sites")
    accessibility_notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    objects = VaccinationSiteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SiteStaffMembership(models.Model):
    """A site staff user belongs to exactly one vaccination site."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_membership"
    )
    site = models.ForeignKey(VaccinationSite, on_delete=models.CASCADE, related_name="staff")

    def __str__(self) -> str:
        return f"{self.user} at {self.site}"


class SessionQuerySet(ScopedBySiteQuerySet):
    site_prefix = "site__"


class Session(models.Model):
    """A site's clinic on one date, divided into slots of equal length."""

    site = models.ForeignKey(VaccinationSite, on_delete=models.CASCADE, related_name="sessions")
    date = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    capacity_per_slot = models.PositiveSmallIntegerField(default=1)
    is_cancelled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start_time"]
        constraints = [
            models.CheckConstraint(
                name="session_ends_after_start", condition=Q(end_time__gt=models.F("start_time"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.date:%d %b %Y} {self.start_time:%H:%M}–{self.end_time:%H:%M}"


class SlotQuerySet(ScopedBySiteQuerySet):
    site_prefix = "session__site__"


class Slot(models.Model):
    """One appointment time; ``booked`` never exceeds ``capacity`` (database constraint)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField(db_index=True)
    capacity = models.PositiveSmallIntegerField()
    booked = models.PositiveSmallIntegerField(default=0)

    objects = SlotQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                name="slot_not_overbooked", condition=Q(booked__lte=models.F("capacity"))
            ),
            models.UniqueConstraint(fields=["session", "starts_at"], name="one_slot_per_time"),
        ]

    def __str__(self) -> str:
        return f"{self.session.site} {self.starts_at:%d %b %H:%M}"

    @property
    def free(self) -> int:
        return self.capacity - self.booked
