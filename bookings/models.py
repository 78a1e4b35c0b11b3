"""Vaccination sites, their staff, sessions and slots (capacity), the routing policy of each
local authority and the route chosen for each worker, invitations and their campaigns, the
messages sent (the outbox's rows), and workers' bookings into slots."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal import postcodes
from portal.models import LocalAuthority
from portal.roles import (
    is_administrator,
    is_local_lead,
    is_nhs_team,
    is_site_staff,
)


def site_scope(user, prefix: str = "") -> Q | None:
    """A filter on sites (``prefix`` leads to one) that ``user`` may see; None means all."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if is_administrator(user):
        return None
    if is_site_staff(user):
        return Q(**{f"{prefix}staff__user": user})
    if is_nhs_team(user):
        if not user.region_code:
            return None
        return Q(**{f"{prefix}local_authorities__region_code": user.region_code})
    if is_local_lead(user):
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

    def clean(self) -> None:
        self.place()

    def place(self) -> None:
        """Normalise the postcode and put the site at its district's centroid; an unknown
        district is a validation error on the postcode."""
        try:
            normalised = postcodes.normalise_postcode(self.postcode or "")
        except ValidationError as error:
            raise ValidationError({"postcode": error.messages}) from error
        location = postcodes.locate(normalised)
        if location is None:
            raise ValidationError(
                {
                    "postcode": f"We do not know the postcode district "
                    f"{postcodes.outward_code(normalised)}. Check the postcode."
                },
                code="unknown_district",
            )
        self.postcode = normalised
        self.latitude, self.longitude = location


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
    vaccinators = models.PositiveSmallIntegerField(default=1)
    capacity_per_slot = models.PositiveSmallIntegerField(default=1)
    is_cancelled = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["date", "start_time"]
        indexes = [models.Index(fields=["site", "date"])]
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


DEFAULT_SITE_KINDS = [
    VaccinationSite.Kind.HOSPITAL_HUB.value,
    VaccinationSite.Kind.VACCINATION_CENTRE.value,
    VaccinationSite.Kind.LOCAL_SERVICE.value,
]


def default_site_kinds() -> list[str]:
    return list(DEFAULT_SITE_KINDS)


class ScopedByAuthorityQuerySet(models.QuerySet):
    """Rows that belong to one local authority: its lead sees them and administrators see all;
    NHS team members see their region's only where ``nhs_team_may_see`` (no person-level rows)."""

    nhs_team_may_see = False

    def visible_to(self, user):
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if is_local_lead(user):
            return self.filter(local_authority_id=user.local_authority_id)
        if is_nhs_team(user) and self.nhs_team_may_see:
            if user.region_code:
                return self.filter(local_authority__region_code=user.region_code)
            return self.all()
        return self.none()


class RoutingPolicyQuerySet(ScopedByAuthorityQuerySet):
    nhs_team_may_see = True


class RoutingPolicy(models.Model):
    """How one local authority's workers are routed to sites. Without a stored row the
    defaults of this model apply (see ``for_authorities``)."""

    local_authority = models.OneToOneField(
        LocalAuthority, on_delete=models.CASCADE, related_name="routing_policy"
    )
    # Site kinds in order of preference; kinds left out are never offered.
    site_kinds = models.JSONField(default=default_site_kinds)
    max_distance_km = models.DecimalField(
        "maximum straight-line distance (km)", max_digits=5, decimal_places=1, default=30
    )
    horizon_days = models.PositiveSmallIntegerField("booking horizon (days)", default=14)
    over_invite_factor = models.DecimalField(max_digits=3, decimal_places=2, default=1.5)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = RoutingPolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "routing policies"
        constraints = [
            models.CheckConstraint(
                name="routing_distance_positive", condition=Q(max_distance_km__gt=0)
            ),
            models.CheckConstraint(
                name="routing_horizon_positive", condition=Q(horizon_days__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"Routing policy for {self.local_authority}"

    @property
    def site_kind_labels(self) -> list[str]:
        labels = dict(VaccinationSite.Kind.choices)
        return [labels.get(kind, kind) for kind in self.site_kinds]

    @classmethod
    def for_authorities(cls, local_authority_ids) -> dict[int | None, "RoutingPolicy"]:
        """The policy of each authority (one query); unsaved defaults where none is stored.
        The key ``None`` holds the default policy, for workers with no current employer."""
        stored = {
            policy.local_authority_id: policy
            for policy in cls.objects.filter(
                local_authority_id__in=[pk for pk in local_authority_ids if pk is not None]
            )
        }
        policies: dict[int | None, RoutingPolicy] = {None: cls()}
        for pk in local_authority_ids:
            if pk is not None:
                policies[pk] = stored.get(pk) or cls(local_authority_id=pk)
        return policies


class RouteQuerySet(ScopedByAuthorityQuerySet):
    """Routes are person-level: NHS team members do not see them."""


class Route(models.Model):
    """The site a worker is routed to (the latest routing run), with up to three alternatives,
    or a flag that no site with space is in reach.

    Routes are derived rows, rewritten in bulk by bookings.routing (1.5 million at a time), so
    their foreign keys carry no database constraint: a constraint costs a locking lookup per
    row and key at commit (docs/decisions/0006-routing-by-district.md).
    Deleting a worker, site or authority still cascades or clears through the ORM."""

    # The worker is the key: one index to maintain on a 1.5-million-row bulk write.
    worker = models.OneToOneField(
        "workers.Worker",
        on_delete=models.CASCADE,
        related_name="route",
        primary_key=True,
        db_constraint=False,
    )
    # The authority whose policy applied (of the worker's first current employer).
    local_authority = models.ForeignKey(
        LocalAuthority,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,  # the partial index below serves the only lookup by authority
    )
    site = models.ForeignKey(
        VaccinationSite,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routes",
        db_constraint=False,
        db_index=False,
    )
    # [{"site_id": 12, "distance_km": 5.3}, ...] in order of preference, at most three.
    alternatives = models.JSONField(default=list, blank=True)
    distance_km = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=200)
    is_unrouted = models.BooleanField("no site in reach", default=False)
    routed_at = models.DateTimeField(default=timezone.now)

    objects = RouteQuerySet.as_manager()

    class Meta:
        ordering = ["worker_id"]
        # Only unrouted workers are looked up by authority (the lead's list): a small index.
        indexes = [
            models.Index(
                fields=["local_authority"],
                condition=Q(is_unrouted=True),
                name="route_unrouted_by_authority",
            )
        ]
        constraints = [
            models.CheckConstraint(
                name="route_has_site_unless_unrouted",
                condition=Q(is_unrouted=True) | Q(site__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.reason}"


class CampaignQuerySet(ScopedByAuthorityQuerySet):
    """Campaigns carry counts, not people: NHS team members see their region's."""

    nhs_team_may_see = True


class Campaign(models.Model):
    """A local lead's decision to send the queued invitations of their whole area, or of one
    employer in it, released only as far as the sites' free capacity allows times the
    over-invite factor (bookings.invitations.release_invitations)."""

    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.CASCADE, related_name="campaigns"
    )
    # Set for a campaign of one employer's staff; empty for the whole authority.
    employer = models.ForeignKey(
        "employers.Employer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="campaigns",
    )
    over_invite_factor = models.DecimalField(max_digits=3, decimal_places=2, default=1.5)
    is_active = models.BooleanField(default=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_released_at = models.DateTimeField(null=True, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-is_active", "-started_at"]
        constraints = [
            models.CheckConstraint(
                name="campaign_factor_at_least_one", condition=Q(over_invite_factor__gte=1)
            ),
            models.UniqueConstraint(
                fields=["local_authority"],
                condition=Q(is_active=True, employer__isnull=True),
                name="one_active_campaign_per_authority",
            ),
            models.UniqueConstraint(
                fields=["employer"],
                condition=Q(is_active=True),
                name="one_active_campaign_per_employer",
            ),
        ]

    def __str__(self) -> str:
        if self.employer_id:
            return f"Campaign for {self.employer}"
        return f"Campaign for {self.local_authority}"

    def scope(self, prefix: str = "") -> Q:
        """The invitations this campaign releases: its employer's, else its authority's."""
        if self.employer_id:
            return Q(**{f"{prefix}employment__employer_id": self.employer_id})
        return Q(**{f"{prefix}local_authority_id": self.local_authority_id})


class InvitationQuerySet(ScopedByAuthorityQuerySet):
    """Invitations are person-level: NHS team members do not see them. A local lead sees
    their authority's, and the invitation of every worker with an employment in their area,
    whichever authority's approval sent it (one person, one invitation: docs/decisions/0011)."""

    def visible_to(self, user):
        if is_local_lead(user):
            from workers.models import Employment

            employed_here = Employment.objects.filter(
                employer__local_authority_id=user.local_authority_id,
                worker_id=models.OuterRef("worker_id"),
            )
            return self.filter(
                Q(local_authority_id=user.local_authority_id) | models.Exists(employed_here)
            )
        return super().visible_to(user)

    def live(self) -> "InvitationQuerySet":
        return self.filter(status__in=Invitation.LIVE)

    def countable_by(self, user) -> "InvitationQuerySet":
        """Invitations ``user`` may count (never list): NHS team members their region's."""
        if is_nhs_team(user):
            if user.region_code:
                return self.filter(local_authority__region_code=user.region_code)
            return self.all()
        return self.visible_to(user)


class MessageChannel(models.TextChoices):
    """The ways a message reaches a worker: an invitation's channel is its message's."""

    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class Invitation(models.Model):
    """The offer of a vaccination to one worker: written (queued) in the transaction that
    approves them, routed and released by a campaign in proportion to site capacity, and
    sent by the outbox as one message per channel, each with its own link
    (``InvitationLink``). A worker has at most one live invitation."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Not delivered"
        BOOKED = "booked", "Booked"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        SUPERSEDED = "superseded", "Replaced by a new link"
        CANCELLED = "cancelled", "Withdrawn"

    Channel = MessageChannel

    # Statuses of an offer still open to the worker (the unique constraint's condition).
    LIVE = ("queued", "sending", "sent", "delivered", "failed")
    # Released and not yet answered: these count against a site's capacity.
    OUTSTANDING = ("sending", "sent", "delivered")

    worker = models.ForeignKey(
        "workers.Worker", on_delete=models.CASCADE, related_name="invitations"
    )
    # The approved employment that caused the invitation: the employer named in the message
    # and the contact details the employer supplied.
    employment = models.ForeignKey(
        "workers.Employment", on_delete=models.CASCADE, related_name="invitations"
    )
    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.CASCADE, related_name="invitations"
    )
    # Indexed only where set (below): an approval queues tens of thousands with none yet.
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
        db_index=False,
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # The routed site when released (copied from the worker's Route, which later routing
    # runs rewrite) and up to three alternatives [{"site_id": 1, "distance_km": 4.2}, ...].
    # Indexed by (site, status) below, which serves every lookup by site.
    site = models.ForeignKey(
        VaccinationSite,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
        db_index=False,
    )
    alternatives = models.JSONField(default=list, blank=True)
    distance_km = models.FloatField(null=True, blank=True)
    route_reason = models.CharField(max_length=200, blank=True)
    # The channel of its first message: email where the employer gave an address (a failed
    # email falls back to a text message when a mobile is known), otherwise a text message.
    channel = models.CharField(max_length=5, choices=Channel.choices, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    reminder_count = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The invitation a lead's resend replaced this one with.
    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(status__in=("queued", "sending", "sent", "delivered", "failed")),
                name="one_live_invitation_per_worker",
            )
        ]
        indexes = [
            # Release walks each authority's queue, oldest first.
            models.Index(
                fields=["local_authority", "queued_at"],
                condition=Q(status="queued"),
                name="invitation_queue_idx",
            ),
            models.Index(fields=["site", "status"], name="invitation_site_status_idx"),
            models.Index(
                fields=["campaign"],
                condition=Q(campaign__isnull=False),
                name="invitation_campaign_idx",
            ),
            models.Index(
                fields=["sent_at"],
                condition=Q(status__in=("sent", "delivered")),
                name="invitation_reminder_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.get_status_display().lower()})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class InvitationLink(models.Model):
    """One personal link sent in one message: only a keyed hash of its token is stored; the
    token itself exists only in the message the worker received. An invitation has one link
    per message sent (first send, each channel, each reminder); all are valid while the
    invitation is live and unexpired, and a lead's resend replaces the invitation, so its old
    links then say they have been replaced."""

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=10)
    # The message that carried it; a retried send replaces its link.
    message = models.OneToOneField(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="link"
    )
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Link {self.pk} of invitation {self.invitation_id}"


class MessageQuerySet(models.QuerySet):
    """Messages are person-level: administrators and national NHS team members see all, a
    regional NHS team member their region's, a local lead those to workers employed in their
    authority. A message to nobody in particular (no worker) is seen nationally only."""

    def visible_to(self, user) -> "MessageQuerySet":
        from workers.models import Employment

        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if is_nhs_team(user):
            if not user.region_code:
                return self.all()
            employed = Q(employer__local_authority__region_code=user.region_code)
        elif is_local_lead(user):
            employed = Q(employer__local_authority_id=user.local_authority_id)
        else:
            return self.none()
        employments = Employment.objects.filter(employed, worker_id=models.OuterRef("worker_id"))
        return self.filter(models.Exists(employments))


class Message(models.Model):
    """One email or text message, written in the transaction that decided to send it and sent
    after commit by the outbox (bookings.outbox); the row is the record of the send.

    pending → sending (claimed under a lease) → sent → delivered | failed; or cancelled.
    docs/decisions/0007-outbox-and-exactly-once.md explains the states."""

    Channel = MessageChannel

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    channel = models.CharField(max_length=5, choices=Channel.choices)
    # The name of the message template: bookings/templates/bookings/messages/<template>.*
    template = models.CharField(max_length=60)
    # An email address or a mobile number in E.164 form.
    recipient = models.CharField(max_length=254)
    # Personalisation stored with the message; secrets are added at send time only.
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    worker = models.ForeignKey(
        "workers.Worker", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=20, blank=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Where a permanently failed email is followed by a text message, if anywhere.
    fallback_mobile = models.CharField(max_length=20, blank=True)
    fallback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallbacks"
    )
    # The invitation this message offers (first send, reminder or resend), if any.
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When a send task was last put on the queue for it (or when a retry falls due).
    queued_at = models.DateTimeField(default=timezone.now)
    # The current claim: who holds it and since when (the lease runs from claimed_at).
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=80, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sweep looks only at unfinished rows: two small partial indexes.
            models.Index(
                fields=["queued_at"],
                condition=Q(status="pending"),
                name="message_pending_by_queued",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=Q(status="sending"),
                name="message_sending_by_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.template} to {self.recipient} ({self.status})"


class BookingQuerySet(models.QuerySet):
    """Bookings are person-level: site staff see their site's, a local lead those of workers
    employed in their area, administrators all; nobody else any."""

    def live(self) -> "BookingQuerySet":
        return self.filter(status=Booking.Status.BOOKED)

    def visible_to(self, user) -> "BookingQuerySet":
        from workers.models import Worker

        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_administrator(user):
            return self.all()
        if is_site_staff(user):
            return self.filter(slot__session__site__staff__user=user)
        if is_local_lead(user):
            workers = Worker.objects.visible_to(user).filter(pk=models.OuterRef("worker_id"))
            return self.filter(models.Exists(workers))
        return self.none()


class Booking(models.Model):
    """One worker's appointment in one slot for one dose. A booked (live) booking holds one of
    the slot's places: ``Slot.booked`` counts them, changed only under the slot's row lock
    (bookings.services), and the database refuses more than the slot's capacity."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ATTENDED = "attended", "Attended"
        DID_NOT_ATTEND = "did_not_attend", "Did not attend"
        CANCELLED = "cancelled", "Cancelled"

    class CancelReason(models.TextChoices):
        WORKER = "worker", "Cancelled by the worker"
        SITE = "site", "Cancelled by the site"
        SESSION_CANCELLED = "session_cancelled", "The session was cancelled"

    # Letters and digits nobody mistakes for each other (no 0, 1, I, L, O or U).
    REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

    worker = models.ForeignKey("workers.Worker", on_delete=models.CASCADE, related_name="bookings")
    # A slot with bookings is not deleted by accident: cancel the session instead.
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="bookings")
    dose = models.PositiveSmallIntegerField(choices=[(1, "First dose"), (2, "Second dose")])
    reference = models.CharField(max_length=13, unique=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.BOOKED)
    # The invitation whose link the worker booked through, if any.
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["slot"], condition=Q(status="booked"), name="booking_live_idx")
        ]
        constraints = [
            models.CheckConstraint(name="booking_dose_one_or_two", condition=Q(dose__in=(1, 2))),
            models.UniqueConstraint(
                fields=["worker", "dose"],
                condition=Q(status="booked"),
                name="one_live_booking_per_worker_and_dose",
            ),
            models.CheckConstraint(
                name="booking_cancelled_has_time",
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_status_display().lower()})"
