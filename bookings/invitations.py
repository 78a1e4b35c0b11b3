"""Invitations to approved workers: queued in the transaction of the approval that causes
them (withdrawn if it is reversed), routed and released by a campaign in proportion to the
sites' free capacity, sent through the outbox with a personal link per message, reminded,
expired and resent. Set-based throughout: the number of queries does not grow with the
number of workers (one per chunk of thousands)."""

from __future__ import annotations

import datetime
import functools
import math
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, Left, RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from bookings import routing
from bookings.models import (
    Booking,
    Campaign,
    Invitation,
    InvitationLink,
    Message,
    Route,
    RoutingPolicy,
    VaccinationSite,
)
from bookings.outbox import (
    MessageCancelled,
    OutgoingMessage,
    cancel_messages,
    queue_messages,
    register_context_builder,
)
from portal import audit
from portal.models import LocalAuthority
from portal.roles import may_run_campaigns
from workers.models import EligibilityDecision, Employment

KIND_LABELS = routing.KIND_LABELS

ID_CHUNK = 10_000
# A worker with one of these is not invited again by a later approval (a lead may resend).
BLOCKING = (*Invitation.LIVE, Invitation.Status.BOOKED, Invitation.Status.DECLINED)


def _chunks(ids: Sequence[int]):
    ids = sorted(set(ids))
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def has_contact_route(prefix: str = "") -> Q:
    """An employment (``prefix`` leads to one) whose employer gave an email address or a
    mobile number."""
    return ~Q(**{f"{prefix}email": ""}) | ~Q(**{f"{prefix}mobile": ""})


@dataclass(frozen=True)
class Contact:
    """One way to reach a worker, as one employer supplied it, with the name that employer
    knows them by: a message to it says only what that employer told us."""

    employment_id: int
    first_name: str
    employer_name: str
    email: str
    mobile: str

    @property
    def recipient(self) -> str:
        return self.email.casefold() if self.email else self.mobile


def worker_contacts(
    worker_ids: Sequence[int], *, also: Sequence[int] = ()
) -> dict[int, list[Contact]]:
    """Every distinct way to reach each worker that an approved employer supplied (its
    employment current and decided eligible), oldest employment first; ``also`` names
    employments to include whatever their state (an invitation's own). Only an approved
    organisation has employments (docs/decisions/0011), so no employer check is needed here.
    One employer cannot
    divert a worker's messages away from what another supplied: each gets its own message
    (docs/decisions/0011)."""
    approved = Q(
        status=Employment.Status.ACTIVE,
        eligibility_decided=True,
        eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
    )
    contacts: dict[int, list[Contact]] = {}
    seen: dict[int, set[str]] = {}
    rows = (
        Employment.objects.filter(has_contact_route(), worker_id__any_of=list(worker_ids))
        .filter(approved | Q(pk__any_of=list(also)))
        .order_by("worker_id", "pk")
        .values_list("worker_id", "pk", "first_name", "employer__name", "email", "mobile")
    )
    for worker_id, pk, first_name, employer_name, email, mobile in rows:
        contact = Contact(pk, first_name, employer_name, email, mobile)
        recipients = seen.setdefault(worker_id, set())
        if contact.recipient in recipients:
            continue
        recipients.add(contact.recipient)
        contacts.setdefault(worker_id, []).append(contact)
    return contacts


_QUEUED_COLUMNS = (
    "worker_id",
    "employment_id",
    "local_authority_id",
    "status",
    "queued_at",
    "alternatives",
    "route_reason",
    "channel",
    "reminder_count",
)


@transaction.atomic
def queue_invitations(*, employment_ids: Sequence[int]) -> int:
    """Queue one invitation per worker behind the given (just approved) employments, for
    workers the employer gave a way to reach and who have no open, booked or declined
    invitation; returns how many were queued. A worker approved through two employers at
    once gets one invitation, through the first of them. Safe to run twice: the partial
    unique index lets a concurrent approval of the same worker win without an error."""
    now = timezone.now()
    queued = 0
    # PostgreSQL takes every id as one array parameter, so an approval of any size queues its
    # invitations in one statement; other databases take them in chunks of ID_CHUNK.
    postgresql = connection.vendor == "postgresql"
    for chunk in [list(employment_ids)] if postgresql else _chunks(employment_ids):
        approved = (
            Employment.objects.filter(
                has_contact_route(),
                pk__any_of=chunk,
                status=Employment.Status.ACTIVE,
                eligibility_decided=True,
                eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
            )
            .exclude(
                Exists(
                    Invitation.objects.filter(worker_id=OuterRef("worker_id"), status__in=BLOCKING)
                )
            )
            .order_by("worker_id", "pk")
        )
        if postgresql:
            queued += _insert_queued(approved, now)
        else:
            queued += _create_queued(approved, now)
    _reach_new_contacts(employment_ids)
    return queued


def _reach_new_contacts(employment_ids: Sequence[int]) -> int:
    """A worker invited through another employment, once sent, gets the same invitation at
    the contact details this approval adds, so a later approval never leaves them out;
    returns how many messages were queued. Invitations still queued reach every contact
    when they are released."""
    sent = Invitation.objects.live().filter(
        worker_id=OuterRef("worker_id"), released_at__isnull=False
    )
    approved = dict(
        Employment.objects.filter(
            has_contact_route(),
            pk__any_of=list(employment_ids),
            status=Employment.Status.ACTIVE,
            eligibility_decided=True,
            eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
        )
        .annotate(invitation_id=Subquery(sent.values("pk")[:1]))
        .filter(invitation_id__isnull=False)
        .values_list("pk", "invitation_id")
    )
    if not approved:
        return 0
    already = {
        (invitation_id, recipient.casefold())
        for invitation_id, recipient in Message.objects.filter(
            invitation_id__in=set(approved.values())
        ).values_list("invitation_id", "recipient")
    }
    messages = [
        message
        for message in _messages(
            sorted(set(approved.values())), template="invitation", only=list(approved)
        )
        if (message.fields["invitation_id"], message.recipient.casefold()) not in already
    ]
    queue_messages(messages)
    return len(messages)


def _insert_queued(approved, now: datetime.datetime) -> int:
    """One INSERT … SELECT DISTINCT ON (worker): the employments never come to Python."""
    select = (
        approved.distinct("worker_id")
        .annotate(
            queued_status=Value(Invitation.Status.QUEUED),
            queued_now=Value(now, output_field=DateTimeField()),
            no_sites=Value([], output_field=JSONField()),
            no_text=Value(""),
            no_channel=Value(""),
            no_reminders=Value(0),
        )
        .values_list(
            "worker_id",
            "pk",
            "employer__local_authority_id",
            "queued_status",
            "queued_now",
            "no_sites",
            "no_text",
            "no_channel",
            "no_reminders",
        )
    )
    sql, params = select.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Invitation._meta.db_table} ({', '.join(_QUEUED_COLUMNS)}) {sql} "
            "ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount


def _create_queued(approved, now: datetime.datetime) -> int:
    invitations, seen = [], set()
    for worker_id, employment_id, authority_id in approved.values_list(
        "worker_id", "pk", "employer__local_authority_id"
    ):
        if worker_id not in seen:
            seen.add(worker_id)
            invitations.append(
                Invitation(
                    worker_id=worker_id,
                    employment_id=employment_id,
                    local_authority_id=authority_id,
                    queued_at=now,
                )
            )
    return len(Invitation.objects.bulk_create(invitations, ignore_conflicts=True))


@transaction.atomic
def withdraw_invitations(*, employment_ids: Sequence[int]) -> int:
    """Withdraw the open invitations of workers whose approval was reversed and who have no
    other current approved employment; returns how many. Messages not yet sent are
    cancelled with them, and links already sent say the invitation was withdrawn."""
    still_eligible = Employment.objects.filter(
        worker_id=OuterRef("worker_id"),
        status=Employment.Status.ACTIVE,
        eligibility_decided=True,
        eligibility_outcome=EligibilityDecision.Outcome.ELIGIBLE,
    )
    ids: list[int] = []
    for chunk in _chunks(employment_ids):
        worker_ids = Employment.objects.filter(pk__in=chunk).values("worker_id")
        ids += list(
            Invitation.objects.live()
            .filter(worker_id__in=worker_ids)
            .exclude(Exists(still_eligible))
            .select_for_update()
            .values_list("pk", flat=True)
        )
    if not ids:
        return 0
    Invitation.objects.filter(pk__in=ids).update(
        status=Invitation.Status.CANCELLED, closed_at=timezone.now()
    )
    cancel_unsent_messages(invitation_ids=ids, reason="The invitation was withdrawn.")
    audit.record(
        verb="invitations_withdrawn",
        object_type="bookings.invitation",
        object_id=ids[0] if len(ids) == 1 else "",
        details={"count": len(ids), "invitation_ids": ids, "employment_ids": list(employment_ids)},
    )
    return len(ids)


def cancel_unsent_messages(*, invitation_ids: Sequence[int], reason: str) -> int:
    """Messages of these invitations still waiting in the outbox will not be sent."""
    waiting = Message.objects.filter(
        invitation_id__in=list(invitation_ids), status=Message.Status.PENDING
    ).values_list("pk", flat=True)
    return cancel_messages(list(waiting), reason=reason)


# --- Messages ---------------------------------------------------------------------------

# Every template whose message carries a link to the worker's invitation page.
TEMPLATES = ("invitation", "invitation_reminder", "invitation_resend", "session_cancelled")
TOKEN_SALT = "carevax.invitation-link"  # noqa: S105 (a salt, not a secret)


def hash_token(token: str) -> str:
    """The stored form of a link's token: keyed with the secret key, so the table alone
    cannot be used to check guesses."""
    return salted_hmac(TOKEN_SALT, token, algorithm="sha256").hexdigest()


@functools.cache
def _link_pattern(site_url: str) -> str:
    marker = "TOKEN"
    return site_url + reverse("invitation_link", args=[marker]).replace(marker, "{}")


def link_for(token: str) -> str:
    """The worker's personal link (reversed once: it is made for every message sent)."""
    return _link_pattern(settings.SITE_URL).format(token)


def long_date(moment: datetime.datetime) -> str:
    day = timezone.localtime(moment)
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(moment: datetime.datetime) -> str:
    day = timezone.localtime(moment)
    return f"{day.day} {day:%b}"


def _site_sentence(kind: str) -> str:
    label = KIND_LABELS.get(kind, "vaccination site")
    return f"It is a {label} near your home with free appointments."


def _messages(
    invitation_ids: Sequence[int], *, template: str, only: Sequence[int] | None = None
) -> list[OutgoingMessage]:
    """The messages of each invitation: one to every distinct contact an approved employer
    supplied (``only``: just these employments'), each by email where that employer gave an
    address (falling back to its mobile), else by text message, with everything the template
    says except the link, which is made when the message is sent. A message names the
    employer and the first name its own contact came with, and no distance: the home postcode
    may be another employer's (docs/decisions/0011)."""
    rows = list(
        Invitation.objects.filter(pk__any_of=list(invitation_ids))
        .order_by("pk")
        .values_list("pk", "worker_id", "employment_id", "site_id", "alternatives", "expires_at")
    )
    contacts = worker_contacts(
        [row[1] for row in rows], also=[] if only is not None else [row[2] for row in rows]
    )
    site_ids = {row[3] for row in rows} | {
        alternative["site_id"] for row in rows for alternative in row[4] or ()
    }
    sites = {
        site["pk"]: site
        for site in VaccinationSite.objects.filter(pk__in=site_ids).values(
            "pk", "name", "kind", "address", "postcode", "accessibility_notes"
        )
    }
    # A chunk's invitations share one expiry moment: put it into words once, not per row.
    expiry_words = functools.lru_cache(maxsize=64)(
        lambda moment: {"expires_on": long_date(moment), "expires_short": short_date(moment)}
    )
    messages = []
    for pk, worker_id, _employment_id, site_id, alternatives, expires in rows:
        site = sites[site_id]
        shared = {
            "site_name": site["name"],
            "site_address": ", ".join(part for part in (site["address"], site["postcode"]) if part),
            "site_kind": KIND_LABELS.get(site["kind"], "site"),
            "why_this_site": _site_sentence(site["kind"]),
            "alternatives": [
                {"name": sites[alternative["site_id"]]["name"]}
                for alternative in alternatives or ()
                if alternative["site_id"] in sites
            ],
            **expiry_words(expires),
        }
        for contact in contacts.get(worker_id, ()):
            if only is not None and contact.employment_id not in only:
                continue
            messages += _outgoing(
                template=template,
                context={
                    "first_name": contact.first_name,
                    "employer_name": contact.employer_name,
                    **shared,
                },
                invitation_id=pk,
                worker_id=worker_id,
                email=contact.email,
                mobile=contact.mobile,
            )
    return messages


def _outgoing(
    *, template: str, context: dict, invitation_id: int, worker_id: int, email: str, mobile: str
) -> list[OutgoingMessage]:
    """The message of one invitation: by email where the employer gave an address (a failed
    email falls back to a text message when a mobile is known), else by text message."""
    fields = {"invitation_id": invitation_id}
    if email:
        return [
            OutgoingMessage(
                channel="email",
                template=template,
                recipient=email,
                context=context,
                worker_id=worker_id,
                fallback_mobile=mobile or None,
                fields=fields,
            )
        ]
    if mobile:
        return [
            OutgoingMessage(
                channel="sms",
                template=template,
                recipient=mobile,
                context=context,
                worker_id=worker_id,
                fields=fields,
            )
        ]
    return []


def _channel_now() -> Case:
    """An invitation's channel as its message will be sent: email where the employer gave an
    address, else a text message (for an UPDATE of the invitations themselves)."""
    with_email = Employment.objects.filter(pk=OuterRef("employment_id")).exclude(email="")
    return Case(
        When(Exists(with_email), then=Value(Invitation.Channel.EMAIL)),
        default=Value(Invitation.Channel.SMS),
    )


_OPEN = ", ".join(f"'{status}'" for status in Invitation.LIVE)
# One statement for a whole chunk of messages, which matters at hundreds a second: mark each
# still-open invitation sent and store its message's new link hash; returns the messages
# whose invitation was open. A retried send replaces the link of its failed attempt.
_SEND_LINKS_SQL = f"""
WITH wanted (message_id, invitation_id, token_hash, channel) AS (
    SELECT * FROM unnest(%(messages)s::bigint[], %(invitations)s::bigint[],
                         %(hashes)s::varchar[], %(channels)s::varchar[])
), open AS (
    UPDATE {Invitation._meta.db_table}
    SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END,
        sent_at = COALESCE(sent_at, %(now)s)
    WHERE id IN (SELECT invitation_id FROM wanted) AND status IN ({_OPEN})
    RETURNING id
)
INSERT INTO {InvitationLink._meta.db_table}
    (invitation_id, message_id, token_hash, channel, created_at, opened_at)
SELECT wanted.invitation_id, wanted.message_id, wanted.token_hash, wanted.channel, %(now)s, NULL
FROM wanted JOIN open ON open.id = wanted.invitation_id
ON CONFLICT (message_id) DO UPDATE SET invitation_id = EXCLUDED.invitation_id,
    token_hash = EXCLUDED.token_hash, channel = EXCLUDED.channel,
    created_at = EXCLUDED.created_at, opened_at = NULL
RETURNING message_id
"""  # noqa: S608 (table names and fixed statuses only)

CLOSED = "The invitation is closed, so its link is not sent."


def link_contexts(messages: Sequence[Message]) -> dict[int, dict | MessageCancelled]:
    """Called by the outbox as it claims invitation messages: mark each invitation sent, or
    refuse a message whose invitation is no longer open; make each message its own link and
    keep only the link's hash. One statement for all of them on PostgreSQL."""
    now = timezone.now()
    tokens = {message.pk: secrets.token_urlsafe(16) for message in messages}
    values = {
        "now": now,
        "messages": [message.pk for message in messages],
        "invitations": [message.invitation_id for message in messages],
        "hashes": [hash_token(tokens[message.pk]) for message in messages],
        "channels": [message.channel for message in messages],
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_SEND_LINKS_SQL, values)
            open_ones = {message_id for (message_id,) in cursor.fetchall()}
    else:
        open_ones = {
            message_id
            for message_id, invitation_id, token_hash, channel in zip(
                values["messages"],
                values["invitations"],
                values["hashes"],
                values["channels"],
                strict=True,
            )
            if _send_link_portably(
                {
                    "now": now,
                    "invitation": invitation_id,
                    "message": message_id,
                    "hash": token_hash,
                    "channel": channel,
                }
            )
        }
    return {
        message.pk: (
            {"link": link_for(tokens[message.pk])}
            if message.pk in open_ones
            else MessageCancelled(CLOSED)
        )
        for message in messages
    }


def link_context(message) -> dict:
    """``link_contexts`` for one message; raises MessageCancelled if its invitation is closed."""
    context = link_contexts([message])[message.pk]
    if isinstance(context, MessageCancelled):
        raise context
    return context


def _send_link_portably(values: dict) -> bool:
    still_open = Invitation.objects.filter(
        pk=values["invitation"], status__in=Invitation.LIVE
    ).update(
        status=Case(
            When(status=Invitation.Status.SENDING, then=Value(Invitation.Status.SENT)),
            default=F("status"),
        ),
        sent_at=Coalesce(F("sent_at"), Value(values["now"])),
    )
    if still_open:
        InvitationLink.objects.update_or_create(
            message_id=values["message"],
            defaults={
                "invitation_id": values["invitation"],
                "token_hash": values["hash"],
                "channel": values["channel"],
                "created_at": values["now"],
                "opened_at": None,
            },
        )
    return bool(still_open)


for _template in TEMPLATES:
    register_context_builder(_template, link_contexts)


# --- Campaigns and release in proportion to capacity --------------------------------------


def _employers():
    return Employment._meta.get_field("employer").related_model.objects


MIN_FACTOR, MAX_FACTOR = Decimal("1"), Decimal("5")


@transaction.atomic
def start_campaign(
    *, lead, employer_id: int | None = None, over_invite_factor: Decimal, request=None
) -> Campaign:
    """Start sending the queued invitations of the lead's area (or of one employer in it);
    the first release runs straight after the commit, then the scheduled job releases more
    as capacity frees or is added. Starting an area campaign ends the area's employer ones."""
    if not may_run_campaigns(lead):
        raise PermissionDenied("Only local leads start campaigns.")
    authority_id = lead.local_authority_id
    if not MIN_FACTOR <= over_invite_factor <= MAX_FACTOR:
        raise ValidationError(
            {"over_invite_factor": f"Enter a number from {MIN_FACTOR} to {MAX_FACTOR}."}
        )
    employer = None
    if employer_id is not None:
        employer = _employers().filter(pk=employer_id, local_authority_id=authority_id).first()
        if employer is None:
            raise ValidationError({"employer": "Choose an employer in your area."})
    running = Campaign.objects.select_for_update().filter(
        local_authority_id=authority_id, is_active=True
    )
    if running.filter(employer__isnull=True).exists():
        raise ValidationError(
            {"employer": "A campaign for your whole area is running. It includes every employer."}
        )
    if employer is not None and running.filter(employer=employer).exists():
        raise ValidationError({"employer": f"A campaign for {employer.name} is running already."})
    now = timezone.now()
    if employer is None:
        running.update(is_active=False, stopped_at=now, stopped_by=lead)
    campaign = Campaign.objects.create(
        local_authority_id=authority_id,
        employer=employer,
        over_invite_factor=over_invite_factor,
        started_by=lead,
        started_at=now,
    )
    audit.record(
        verb="campaign_started",
        actor=lead,
        target=campaign,
        details={
            "employer_id": employer_id,
            "over_invite_factor": str(over_invite_factor),
        },
        request=request,
    )
    queue_release(campaign_id=campaign.pk)
    return campaign


def queue_release(*, campaign_id: int) -> None:
    """Release what the campaign's sites have room for in the background, once the caller's
    transaction commits (at once outside one)."""
    from bookings.tasks import release_campaign_task

    transaction.on_commit(lambda: release_campaign_task.delay(campaign_id))


@transaction.atomic
def stop_campaign(*, lead, campaign: Campaign, request=None) -> Campaign:
    """Release no more; invitations already sent stay open."""
    if not may_run_campaigns(lead) or campaign.local_authority_id != lead.local_authority_id:
        raise PermissionDenied("Only the area's local lead stops its campaigns.")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.is_active:
        campaign.is_active = False
        campaign.stopped_at = timezone.now()
        campaign.stopped_by = lead
        campaign.save(update_fields=["is_active", "stopped_at", "stopped_by"])
        audit.record(verb="campaign_stopped", actor=lead, target=campaign, request=request)
    return campaign


def running_campaign_ids() -> list[int]:
    return list(Campaign.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


def allowances(*, site_ids: Sequence[int], horizon_days: int, factor: Decimal) -> dict[int, int]:
    """How many more invitations each site may take now: its free places in the horizon
    times the factor, less the invitations already out for it (released, not answered)."""
    free = routing.free_places_by_site(horizons={horizon_days}).get(horizon_days, {})
    out = dict(
        Invitation.objects.filter(site_id__in=site_ids, status__in=Invitation.OUTSTANDING)
        .values_list("site_id")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {
        site_id: max(0, math.floor(free.get(site_id, 0) * factor) - out.get(site_id, 0))
        for site_id in site_ids
    }


@dataclass
class Release:
    routed: int = 0
    unrouted: int = 0
    rerouted: int = 0
    released: int = 0
    by_site: Counter = dataclass_field(default_factory=Counter)


# Put before the new route's reason on an invitation moved off a site that stayed full.
REROUTED = "the site first chosen has no free places; "


def _route_waiting(campaign: Campaign, release: Release | None = None) -> Release:
    """Route the campaign's queued invitations that have no site yet (new ones, and ones no
    site could take last time), and route again those whose site has no free places left in
    the campaign's horizon, so they wait for a site with room rather than for one that stays
    full; copy each new route onto its invitation. An invitation for which routing finds no
    other site with room keeps its site (it may free up). Counts go into ``release``."""
    release = release if release is not None else Release()
    with transaction.atomic():
        # Routing rewrites workers' routes: one routing of an area at a time.
        LocalAuthority.objects.select_for_update().filter(pk=campaign.local_authority_id).first()
        horizon = RoutingPolicy.for_authorities([campaign.local_authority_id])[
            campaign.local_authority_id
        ].horizon_days
        free = routing.free_places_by_site(horizons={horizon}).get(horizon, {})
        queued = Invitation.objects.filter(campaign.scope(), status=Invitation.Status.QUEUED)
        waiting = queued.filter(site__isnull=True)
        full = queued.filter(site__isnull=False).exclude(
            site_id__in=[site_id for site_id, places in free.items() if places > 0]
        )
        worker_ids = list(waiting.values_list("worker_id", flat=True))
        stuck = list(full.values_list("pk", "worker_id"))
        if not worker_ids and not stuck:
            return release
        routing.route_workers(worker_ids=worker_ids + [worker_id for _pk, worker_id in stuck])
        routes = Route.objects.filter(worker_id=OuterRef("worker_id"), is_unrouted=False)
        copied = {
            "site_id": Subquery(routes.values("site_id")[:1]),
            "alternatives": Subquery(routes.values("alternatives")[:1]),
            "distance_km": Subquery(routes.values("distance_km")[:1]),
        }
        release.routed = waiting.filter(Exists(routes)).update(
            **copied, route_reason=Subquery(routes.values("reason")[:1])
        )
        release.unrouted = len(worker_ids) - release.routed
        reason_length = Invitation._meta.get_field("route_reason").max_length
        release.rerouted = (
            queued.filter(pk__any_of=[pk for pk, _worker_id in stuck])
            .filter(Exists(routes.exclude(site_id=OuterRef("site_id"))))
            .update(
                **copied,
                route_reason=Left(
                    Concat(Value(REROUTED), Subquery(routes.values("reason")[:1])),
                    reason_length,
                ),
            )
        )
    return release


def _release_chunk(campaign_id: int, chunk_size: int, release: Release) -> int:
    """Release up to ``chunk_size`` of the campaign's routed, queued invitations, oldest
    first, no more per site than its allowance; queue their messages. One transaction."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if not campaign.is_active:
            return 0
        # An employer may have removed the contact details since the approval: such
        # invitations wait (and show as waiting) until there is a way to reach the worker.
        queued = Invitation.objects.filter(
            campaign.scope(),
            has_contact_route("employment__"),
            status=Invitation.Status.QUEUED,
            site__isnull=False,
        )
        site_ids = sorted(set(queued.values_list("site_id", flat=True).distinct().order_by()))
        if not site_ids:
            return 0
        # Campaigns sharing a site release one after another, each seeing the other's count.
        list(
            VaccinationSite.objects.filter(pk__in=site_ids)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        policy = RoutingPolicy.for_authorities([campaign.local_authority_id])[
            campaign.local_authority_id
        ]
        room = {
            site_id: places
            for site_id, places in allowances(
                site_ids=site_ids,
                horizon_days=policy.horizon_days,
                factor=campaign.over_invite_factor,
            ).items()
            if places > 0
        }
        if not room:
            return 0
        allowed = Case(
            *[When(site_id=site_id, then=Value(places)) for site_id, places in room.items()],
            default=Value(0),
        )
        ranked = (
            queued.filter(site_id__in=room)
            .annotate(
                place=Window(
                    RowNumber(), partition_by=[F("site_id")], order_by=[F("queued_at"), F("pk")]
                ),
                allowed=allowed,
            )
            .filter(place__lte=F("allowed"))
            .order_by("queued_at", "pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        # Rows another transaction holds (a withdrawal, say) wait for the next run.
        taken = list(
            Invitation.objects.filter(pk__any_of=list(ranked), status=Invitation.Status.QUEUED)
            .select_for_update(skip_locked=True)
            .values_list("pk", "site_id")
        )
        if not taken:
            return 0
        ids = [pk for pk, _site_id in taken]
        now = timezone.now()
        Invitation.objects.filter(pk__any_of=ids).update(
            status=Invitation.Status.SENDING,
            campaign_id=campaign.pk,
            released_at=now,
            expires_at=now + datetime.timedelta(days=settings.INVITATION_EXPIRY_DAYS),
            channel=_channel_now(),
        )
        queue_messages(_messages(ids, template="invitation"))
        release.by_site.update(Counter(site_id for _pk, site_id in taken))
        Campaign.objects.filter(pk=campaign.pk).update(last_released_at=now)
        return len(ids)


def release_campaign(*, campaign_id: int, chunk_size: int | None = None) -> Release:
    """Route the campaign's waiting workers, then release as many of its queued invitations
    as the sites' capacity allows, chunk by chunk (each chunk commits, so sending starts at
    once). Safe to run twice or at the same time: a second run finds no room left."""
    chunk_size = chunk_size or settings.INVITATION_RELEASE_CHUNK
    campaign = Campaign.objects.filter(pk=campaign_id, is_active=True).first()
    release = Release()
    if campaign is None:
        return release
    _route_waiting(campaign, release)
    while True:
        released = _release_chunk(campaign_id, chunk_size, release)
        release.released += released
        if released < chunk_size:
            break
    if release.released:
        audit.record(
            verb="invitations_released",
            target=campaign,
            details={
                "released": release.released,
                "by_site": {str(site): count for site, count in release.by_site.items()},
                "routed": release.routed,
                "unrouted": release.unrouted,
                "rerouted": release.rerouted,
            },
        )
    return release


# --- Reminders, expiry and resending ------------------------------------------------------


def send_reminders(*, now: datetime.datetime | None = None, chunk_size: int | None = None) -> int:
    """Remind workers who have not booked, INVITATION_REMINDER_DAYS after sending (at most
    INVITATION_MAX_REMINDERS, never twice in a day); returns how many were reminded."""
    now = now or timezone.now()
    chunk_size = chunk_size or settings.INVITATION_RELEASE_CHUNK
    days = settings.INVITATION_REMINDER_DAYS[: settings.INVITATION_MAX_REMINDERS]
    if not days:
        return 0
    due = Q()
    for count, day in enumerate(days):
        due |= Q(reminder_count=count, sent_at__lte=now - datetime.timedelta(days=day))
    not_today = Q(last_reminder_at__isnull=True) | Q(
        last_reminder_at__lte=now - datetime.timedelta(days=1)
    )
    reminded = 0
    while True:
        with transaction.atomic():
            ids = list(
                Invitation.objects.filter(
                    due,
                    not_today,
                    status__in=(Invitation.Status.SENT, Invitation.Status.DELIVERED),
                    expires_at__gt=now,
                )
                .order_by("sent_at", "pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:chunk_size]
            )
            if ids:
                Invitation.objects.filter(pk__in=ids).update(
                    reminder_count=F("reminder_count") + 1, last_reminder_at=now
                )
                queue_messages(_messages(ids, template="invitation_reminder"))
        reminded += len(ids)
        if len(ids) < chunk_size:
            return reminded


def expire_invitations(*, now: datetime.datetime | None = None) -> int:
    """Close released invitations whose links have passed their expiry date."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            ids = list(
                Invitation.objects.filter(status__in=Invitation.LIVE, expires_at__lte=now)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:ID_CHUNK]
            )
            if ids:
                Invitation.objects.filter(pk__in=ids).update(
                    status=Invitation.Status.EXPIRED, closed_at=now
                )
                cancel_unsent_messages(invitation_ids=ids, reason="The invitation expired.")
        expired += len(ids)
        if len(ids) < ID_CHUNK:
            return expired


RESENDABLE = (
    Invitation.Status.SENDING,
    Invitation.Status.SENT,
    Invitation.Status.DELIVERED,
    Invitation.Status.FAILED,
    Invitation.Status.EXPIRED,
)


@transaction.atomic
def resend_invitation(*, lead, invitation_id: int, request=None) -> Invitation:
    """Send the worker a new link (to the contact details the employer holds now), with a
    new expiry date; the old invitation is marked replaced, so its links say so."""
    if not may_run_campaigns(lead):
        raise PermissionDenied("Only local leads resend invitations.")
    old = Invitation.objects.visible_to(lead).select_for_update(of=("self",)).get(pk=invitation_id)
    if old.status not in RESENDABLE:
        raise ValidationError(
            {
                "queued": "This invitation has not been sent yet. It goes out with the campaign.",
                "superseded": "This invitation has already been replaced by a newer one.",
            }.get(
                old.status,
                f"You cannot resend an invitation that is {old.get_status_display().lower()}.",
            )
        )
    contacts = worker_contacts([old.worker_id], also=[old.employment_id]).get(old.worker_id)
    if not contacts:
        raise ValidationError(
            "The employer has no email address or mobile number for this worker any more. "
            "Ask them to add one, then resend."
        )
    if Invitation.objects.live().filter(worker_id=old.worker_id).exclude(pk=old.pk).exists():
        raise ValidationError("This worker has a newer invitation. Resend that one instead.")
    now = timezone.now()
    Invitation.objects.filter(pk=old.pk).update(status=Invitation.Status.SUPERSEDED, closed_at=now)
    new = Invitation.objects.create(
        worker_id=old.worker_id,
        employment_id=old.employment_id,
        local_authority_id=old.local_authority_id,
        campaign_id=old.campaign_id,
        status=Invitation.Status.SENDING,
        site_id=old.site_id,
        alternatives=old.alternatives,
        distance_km=old.distance_km,
        route_reason=old.route_reason,
        channel=Invitation.Channel.EMAIL if contacts[0].email else Invitation.Channel.SMS,
        queued_at=now,
        released_at=now,
        expires_at=now + datetime.timedelta(days=settings.INVITATION_EXPIRY_DAYS),
    )
    Invitation.objects.filter(pk=old.pk).update(superseded_by=new)
    cancel_unsent_messages(invitation_ids=[old.pk], reason="A new link replaced it.")
    queue_messages(_messages([new.pk], template="invitation_resend"))
    audit.record(
        verb="invitation_resent",
        actor=lead,
        target=new,
        details={"replaces": old.pk, "previous_status": old.status},
        request=request,
    )
    return new


# --- Rebooking after a cancelled session ---------------------------------------------------

# A closed invitation that a cancelled booking opens again, so its link offers places anew.
REOPENABLE = (Invitation.Status.BOOKED, Invitation.Status.EXPIRED, Invitation.Status.DECLINED)


def appointment_words(moment: datetime.datetime) -> str:
    return f"{long_date(moment)} at {timezone.localtime(moment):%H:%M}"


def invite_to_rebook(*, booking_ids: Sequence[int]) -> int:
    """Tell the workers of these (just cancelled) bookings that their appointment is off and
    invite them to book again: one message per worker, through the outbox in the caller's
    transaction, with a fresh link made at send time to their invitation page (routed site
    and alternatives). A worker's live invitation carries the link; otherwise their latest
    booked, expired or declined invitation is opened again with a new expiry date. Returns
    how many workers will be told (a worker with no invitation or no contact details the
    employer gave cannot be)."""
    appointments: dict[int, tuple[int | None, datetime.datetime, str]] = {}
    for worker_id, invitation_id, starts_at, site_name in (
        Booking.objects.filter(pk__in=list(booking_ids))
        .order_by("slot__starts_at", "pk")
        .values_list("worker_id", "invitation_id", "slot__starts_at", "slot__session__site__name")
    ):
        appointments.setdefault(worker_id, (invitation_id, starts_at, site_name))
    if not appointments:
        return 0
    chosen = dict(
        Invitation.objects.live()
        .filter(worker_id__in=list(appointments))
        .select_for_update()
        .values_list("worker_id", "pk")
    )
    live = list(chosen.values())
    latest: dict[int, tuple[int, str]] = {}
    for worker_id, pk, status in (
        Invitation.objects.filter(worker_id__in=[w for w in appointments if w not in chosen])
        .order_by("-queued_at", "-pk")
        .values_list("worker_id", "pk", "status")
    ):
        latest.setdefault(worker_id, (pk, status))
    reopen = []
    for worker_id, (pk, status) in latest.items():
        if status in REOPENABLE:
            chosen[worker_id] = pk
            reopen.append(pk)
    now = timezone.now()
    expires = now + datetime.timedelta(days=settings.INVITATION_EXPIRY_DAYS)
    # Sent afresh: expiry and reminders run from this message, as for a first invitation.
    # A live invitation not yet released goes now too (the worker had a place); one already
    # out keeps its reminders and gets the full time to book again.
    Invitation.objects.filter(
        Q(pk__in=reopen) | Q(pk__in=live, status=Invitation.Status.QUEUED)
    ).update(
        status=Invitation.Status.SENDING,
        closed_at=None,
        sent_at=None,
        released_at=Coalesce(F("released_at"), Value(now)),
        expires_at=expires,
        reminder_count=0,
        last_reminder_at=None,
        channel=_channel_now(),
    )
    Invitation.objects.filter(pk__in=live).update(expires_at=expires)
    own = dict(
        Invitation.objects.filter(pk__in=list(chosen.values())).values_list("pk", "employment_id")
    )
    # Told at every contact an approved employer supplied, as every change to a booking is.
    contacts = worker_contacts(list(chosen), also=list(own.values()))
    messages = []
    told = 0
    for worker_id, invitation_id in chosen.items():
        _booking_invitation, starts_at, site_name = appointments[worker_id]
        told += bool(contacts.get(worker_id))
        for contact in contacts.get(worker_id, ()):
            messages += _outgoing(
                template="session_cancelled",
                context={
                    "first_name": contact.first_name,
                    "site_name": site_name,
                    "appointment": appointment_words(starts_at),
                    "expires_on": long_date(expires),
                },
                invitation_id=invitation_id,
                worker_id=worker_id,
                email=contact.email,
                mobile=contact.mobile,
            )
    queue_messages(messages)
    return told


# --- The worker's link ----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkCheck:
    """What a link shows: ``state`` is valid, replaced, expired, withdrawn, booked,
    declined or unknown."""

    state: str
    invitation: Invitation | None = None
    alternatives: list = dataclass_field(default_factory=list)


CLOSED_STATES = {
    Invitation.Status.SUPERSEDED: "replaced",
    Invitation.Status.EXPIRED: "expired",
    Invitation.Status.CANCELLED: "withdrawn",
    Invitation.Status.BOOKED: "booked",
    Invitation.Status.DECLINED: "declined",
}


def check_link(*, token: str, request=None) -> LinkCheck:
    """Look a link up by its token's hash and say what it may show; the first opening of
    each link is recorded."""
    link = (
        InvitationLink.objects.filter(token_hash=hash_token(token or ""))
        .select_related(
            "invitation__site", "invitation__worker", "invitation__employment__employer"
        )
        .first()
    )
    if link is None:
        return LinkCheck(state="unknown")
    invitation = link.invitation
    state = CLOSED_STATES.get(invitation.status, "valid")
    if state == "valid" and invitation.expires_at and invitation.expires_at <= timezone.now():
        state = "expired"
    if link.opened_at is None:
        InvitationLink.objects.filter(pk=link.pk, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
        audit.record(
            verb="invitation_link_opened",
            target=invitation,
            details={"link_id": link.pk, "state": state},
            request=request,
        )
    if state != "valid":
        return LinkCheck(state=state, invitation=invitation)
    distances = {alt["site_id"]: alt["distance_km"] for alt in invitation.alternatives or ()}
    sites = {site.pk: site for site in VaccinationSite.objects.filter(pk__in=distances)}
    alternatives = [
        (sites[site_id], distance) for site_id, distance in distances.items() if site_id in sites
    ]
    return LinkCheck(state=state, invitation=invitation, alternatives=alternatives)


def follow_message_outcomes() -> tuple[int, int]:
    """Bring invitations in line with what their messages did: delivered when any was
    delivered; not delivered when every one failed or was cancelled (a fallback text
    message still on its way keeps it sent). Two set-based updates."""
    messages = Message.objects.filter(invitation_id=OuterRef("pk"))
    delivered = Invitation.objects.filter(
        Exists(messages.filter(status=Message.Status.DELIVERED)),
        status__in=(Invitation.Status.SENDING, Invitation.Status.SENT, Invitation.Status.FAILED),
    ).update(status=Invitation.Status.DELIVERED)
    failed = (
        Invitation.objects.filter(
            Exists(messages.filter(status=Message.Status.FAILED)),
            status__in=(Invitation.Status.SENDING, Invitation.Status.SENT),
        )
        .exclude(
            Exists(
                messages.filter(
                    status__in=(
                        Message.Status.PENDING,
                        Message.Status.SENDING,
                        Message.Status.SENT,
                        Message.Status.DELIVERED,
                    )
                )
            )
        )
        .update(status=Invitation.Status.FAILED)
    )
    return delivered, failed
