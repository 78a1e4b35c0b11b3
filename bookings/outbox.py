"""The message outbox: messages are written as pending rows in the transaction that decides to
send them and sent after commit by Celery tasks that claim rows, so a rolled-back decision
sends nothing, a lost task or broker outage loses nothing, and no message goes twice.

docs/decisions/0007-outbox-and-exactly-once.md explains the states and the one gap SMTP
leaves. Everything here runs as the system (tasks, the sweep, Notify's receipts); what people
may see of messages goes through ``Message.objects.visible_to(user)``."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from bookings import channels, ratelimits
from bookings.models import Message
from bookings.rendering import RenderedMessage, render_message
from bookings.signals import message_status_changed
from portal import audit
from portal.bulk import insert_rows

__all__ = [
    "MessageCancelled",
    "OutgoingMessage",
    "RenderedMessage",
    "cancel_messages",
    "queue_messages",
    "record_delivery_receipt",
    "register_context_builder",
    "render_message",
    "send_batch",
    "sweep",
]

logger = logging.getLogger(__name__)

QUEUES = {Message.Channel.EMAIL: "outbox.email", Message.Channel.SMS: "outbox.sms"}
# How many rows one sweep takes back or queues again; the next sweep takes the rest.
SWEEP_LIMIT = 20_000
# How many messages one sweep asks a provider about (one request each).
RECONCILE_LIMIT = 500
MAX_RETRY_DELAY = timedelta(minutes=30)

S = Message.Status


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to queue. ``fields`` are values of further Message fields (for example
    ``{"invitation_id": 5}``)."""

    channel: str
    template: str
    recipient: str
    context: dict
    worker_id: int | None = None
    fallback_mobile: str | None = None
    fields: dict = field(default_factory=dict)


class MessageCancelled(Exception):  # noqa: N818 - it is how a builder says "do not send"
    """Raised by a context builder when the message should no longer go (say, a superseded
    invitation): the message is marked cancelled with ``str(error)`` as the reason."""


# A builder takes the claimed messages of its template (one query for all of them, not one
# each) and answers, for each message's id, the context to add or a MessageCancelled.
ContextBuilder = Callable[[list[Message]], dict[int, "dict | MessageCancelled"]]
_context_builders: dict[str, ContextBuilder] = {}


def register_context_builder(template: str, builder: ContextBuilder) -> None:
    """Add send-time context for messages of ``template``: ``builder(messages)`` runs inside
    the transaction that claims the messages and answers ``{message id: context}``; each
    context is merged into the one the template is rendered with, never stored (so it may
    hold a fresh secret link). Answer a ``MessageCancelled`` instead of a context to stop
    that message. If the builder raises, it is called again for each message alone, so one
    bad message fails by itself.

    Register from an ``AppConfig.ready()`` (or a module it imports), so that every worker
    process has the builder before it sends."""
    _context_builders[template] = builder


def _jsonable(context: dict) -> dict:
    return json.loads(json.dumps(context, cls=DjangoJSONEncoder))


def queue_messages(messages: Iterable[OutgoingMessage]) -> list[int]:
    """Write pending messages in the caller's transaction and send them once it commits.

    Set-based (one COPY for any number of rows); returns the new ids in the given order.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "queue_messages must run inside the transaction that decides to send, so that a "
            "rolled-back decision sends nothing: wrap the caller in transaction.atomic()."
        )
    now = timezone.now()
    rows = []
    for outgoing in messages:
        if outgoing.channel not in Message.Channel.values:
            raise ValueError(f"Unknown message channel {outgoing.channel!r}")
        recipient = (outgoing.recipient or "").strip()
        if not recipient or not outgoing.template:
            raise ValueError("A message needs a template and a recipient.")
        rows.append(
            {
                "channel": outgoing.channel,
                "template": outgoing.template,
                "recipient": recipient,
                "context": _jsonable(outgoing.context or {}),
                "worker_id": outgoing.worker_id,
                "fallback_mobile": outgoing.fallback_mobile or "",
                "status": S.PENDING,
                "created_at": now,
                "queued_at": now,
                "updated_at": now,
                **outgoing.fields,
            }
        )
    if not rows:
        return []
    columns = sorted({name for row in rows for name in row})
    ids = insert_rows(Message, columns, rows)
    by_channel: dict[str, list[int]] = defaultdict(list)
    for pk, row in zip(ids, rows, strict=True):
        by_channel[row["channel"]].append(pk)
    audit.record(
        verb="messages_queued",
        object_type=Message._meta.label_lower,
        object_id=ids[0] if len(ids) == 1 else "",
        details={
            "count": len(ids),
            "first_id": ids[0],
            "last_id": ids[-1],
            "templates": dict(Counter(row["template"] for row in rows)),
            "channels": {channel: len(pks) for channel, pks in by_channel.items()},
        },
    )
    transaction.on_commit(lambda: enqueue(by_channel))
    return ids


def enqueue(ids_by_channel: dict[str, list[int]], *, countdown: float | None = None) -> None:
    """Put send tasks for these ids on each channel's queue, in chunks. A broker that cannot
    be reached loses nothing: the rows stay pending and the sweep queues them again."""
    from bookings.tasks import send_messages_task

    chunk = max(1, settings.MESSAGE_TASK_CHUNK)
    total = sum(len(ids) for ids in ids_by_channel.values())
    try:
        with send_messages_task.app.producer_or_acquire() as producer:
            for channel, ids in ids_by_channel.items():
                for start in range(0, len(ids), chunk):
                    send_messages_task.apply_async(
                        args=[ids[start : start + chunk]],
                        queue=QUEUES[channel],
                        countdown=countdown,
                        producer=producer,
                    )
    except Exception:
        logger.exception(
            "Could not queue send tasks for %s messages; they stay pending for the sweep", total
        )


def cancel_messages(message_ids: Iterable[int], *, reason: str) -> int:
    """Cancel messages that have not started to go; returns how many were cancelled."""
    return Message.objects.filter(pk__in=list(message_ids), status=S.PENDING).update(
        status=S.CANCELLED, error=reason, updated_at=timezone.now()
    )


# --- Sending --------------------------------------------------------------------------------


def _claimant() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def retry_delay(attempts: int) -> timedelta:
    base = timedelta(seconds=settings.MESSAGE_RETRY_SECONDS)
    return min(MAX_RETRY_DELAY, base * 2 ** max(0, attempts - 1))


def _claim(
    message_ids: list[int], claimant: str, providers: dict[str, str]
) -> list[tuple[Message, dict]]:
    """Take the pending ones of ``message_ids`` for this worker (rows another worker holds are
    skipped, not waited for), build their send-time context, and commit, all before any
    provider is spoken to. A handful of queries for the whole chunk, whatever its size."""
    now = timezone.now()
    claimed: list[tuple[Message, dict]] = []
    with transaction.atomic():
        # Rows are found by primary key alone and checked here: the partial index of pending
        # messages fills with dead entries while a large batch goes out, and a planner that
        # walks it for "pending and due" takes a hundred times longer than the key lookups.
        locked = [
            (pk, channel)
            for pk, channel, status, queued_at in Message.objects.select_for_update(
                skip_locked=True
            )
            .filter(pk__in=message_ids)
            .order_by("pk")
            .values_list("pk", "channel", "status", "queued_at")
            if status == S.PENDING and queued_at <= now
        ]
        if not locked:
            return []
        # PostgreSQL holds the rows locked; a database without row locks (SQLite, on a
        # laptop) has the UPDATE check the state again, so each message has one claimant.
        unlocked = connection.vendor != "postgresql"
        again = Q(status=S.PENDING, queued_at__lte=now) if unlocked else Q()
        for kind in {channel for _pk, channel in locked}:
            of_kind = [pk for pk, channel in locked if channel == kind]
            Message.objects.filter(again, pk__in=of_kind).update(
                status=S.SENDING,
                claimed_at=now,
                claimed_by=claimant,
                provider=providers[kind],
                attempts=F("attempts") + 1,
                updated_at=now,
            )
        messages = [
            message
            for message in Message.objects.filter(pk__in=[pk for pk, _channel in locked]).order_by(
                "pk"
            )
            if message.status == S.SENDING and message.claimed_by == claimant
        ]
        built = _build_contexts(messages)
        for message in messages:
            extra = built.get(message.pk, {})
            if isinstance(extra, MessageCancelled):
                _settle(message, S.CANCELLED, error=str(extra))
                continue
            if isinstance(extra, Exception):
                _settle(message, S.FAILED, error=f"Could not build the message: {extra}")
                continue
            claimed.append((message, {**message.context, **extra}))
    return claimed


def _build_contexts(messages: list[Message]) -> dict[int, dict | Exception]:
    """Run each template's context builder once for all its messages; where it fails, again
    for each message alone (in a savepoint), so that only the bad ones fail."""
    by_template: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        if message.template in _context_builders:
            by_template[message.template].append(message)
    built: dict[int, dict | Exception] = {}
    for template, group in by_template.items():
        builder = _context_builders[template]
        try:
            with transaction.atomic():
                answers = builder(group)
        except MessageCancelled as reason:
            answers = {message.pk: reason for message in group}
        except Exception as error:
            if len(group) == 1:
                logger.exception("Could not build the context of message %s", group[0].pk)
                answers = {group[0].pk: error}
            else:
                answers = {}
                for message in group:
                    answers.update(_build_contexts([message]))
        for message in group:
            built[message.pk] = answers.get(
                message.pk, LookupError("its context builder gave nothing for it")
            )
    return built


def _announce(message: Message, status: str) -> None:
    message.status = status
    message_status_changed.send(sender=Message, message=message, status=status)


def _settle(message: Message, status: str, *, error: str = "", **values) -> bool:
    """Move ``message`` on from the state this worker holds it in (compare and set), and
    announce it in the same transaction."""
    with transaction.atomic() if message_status_changed.has_listeners(Message) else nullcontext():
        updated = Message.objects.filter(
            pk=message.pk, status=message.status, claimed_by=message.claimed_by
        ).update(status=status, error=error, updated_at=timezone.now(), **values)
        if updated:
            _announce(message, status)
    return bool(updated)


def _fail(message: Message, error: str) -> None:
    """Mark failed; a failed email is followed by a text message where a mobile is known."""
    with transaction.atomic():
        if _settle(message, S.FAILED, error=error):
            _queue_fallback(message)


# (channel, seconds to wait) -> ids to try again then: one task per group, not per message, so
# a provider outage does not fill the broker with a delayed task for every message.
Retries = dict[tuple[str, float], list[int]]


def _retry_or_fail(message: Message, error: str, retries: Retries) -> None:
    if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        _fail(message, f"{error} (gave up after {message.attempts} attempts)")
        return
    delay = retry_delay(message.attempts)
    if _settle(
        message,
        S.PENDING,
        error=error,
        claimed_by="",
        claimed_at=None,
        queued_at=timezone.now() + delay,
    ):
        retries.setdefault((message.channel, delay.total_seconds()), []).append(message.pk)


# Fields a fallback text message sets itself; every other field (an invitation, say) is copied.
_FALLBACK_OWN_FIELDS = {
    "id",
    "channel",
    "recipient",
    "context",
    "worker",
    "template",
    "status",
    "provider",
    "provider_reference",
    "attempts",
    "error",
    "fallback_mobile",
    "fallback_of",
    "created_at",
    "queued_at",
    "claimed_at",
    "claimed_by",
    "sent_at",
    "delivered_at",
    "updated_at",
}


def _queue_fallback(message: Message) -> int | None:
    if (
        message.channel != Message.Channel.EMAIL
        or not message.fallback_mobile
        or not channels.sms_available()
        or Message.objects.filter(fallback_of=message.pk).exists()
    ):
        return None
    copied = {
        model_field.attname: getattr(message, model_field.attname)
        for model_field in Message._meta.concrete_fields
        if model_field.name not in _FALLBACK_OWN_FIELDS
    }
    [pk] = queue_messages(
        [
            OutgoingMessage(
                channel=Message.Channel.SMS,
                template=message.template,
                recipient=message.fallback_mobile,
                context=message.context,
                worker_id=message.worker_id,
                fields={"fallback_of_id": message.pk, **copied},
            )
        ]
    )
    return pk


_SENT_SQL = (
    f"UPDATE {Message._meta.db_table} SET status = %s, error = '', sent_at = %s, "  # noqa: S608
    "provider_reference = %s, updated_at = %s WHERE id = %s AND status = %s AND claimed_by = %s"
)


def _record_sent(message: Message, reference: str) -> bool:
    """The compare-and-set that records a send (decision 0007), as one plain statement: it
    runs once per message, just before the provider may deliver it."""
    if message_status_changed.has_listeners(Message):
        return _settle(message, S.SENT, sent_at=timezone.now(), provider_reference=reference)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SENT_SQL,
            [S.SENT, now, reference, now, message.pk, message.status, message.claimed_by],
        )
        recorded = cursor.rowcount == 1
    if recorded:
        message.status = S.SENT
    return recorded


def _handover(channel: channels.Channel) -> channels.GroupHandover:
    def handover(message: Message, reference: str) -> bool:
        if channel.reconcilable:
            # Notify can be asked later: renew the lease so the request runs inside it.
            now = timezone.now()
            renewed = Message.objects.filter(
                pk=message.pk, status=S.SENDING, claimed_by=message.claimed_by
            ).update(claimed_at=now, updated_at=now)
            return bool(renewed)
        return _record_sent(message, reference)

    return handover


def _rendered(claimed: list[tuple[Message, dict]]) -> list[tuple[Message, RenderedMessage]]:
    ready = []
    for message, context in claimed:
        try:
            ready.append((message, render_message(message.template, message.channel, context)))
        except Exception as error:
            logger.exception("Could not render message %s (%s)", message.pk, message.template)
            _settle(message, S.FAILED, error=f"Could not render the message: {error}")
    return ready


def _note_outcome(
    channel: channels.Channel, message: Message, outcome: str | Exception, retries: Retries
) -> bool:
    """Record what the channel says became of one message; True if it went."""
    if isinstance(outcome, channels.ClaimLost):
        return False
    if isinstance(outcome, channels.Unconfirmed):
        logger.warning("Message %s: %s", message.pk, outcome)
        Message.objects.filter(pk=message.pk, status=S.SENT).update(error=str(outcome))
        return True
    if isinstance(outcome, channels.PermanentFailure):
        _fail(message, str(outcome))
        return False
    if isinstance(outcome, Exception):
        if not isinstance(outcome, channels.TemporaryFailure):
            logger.error("Sending message %s failed unexpectedly", message.pk, exc_info=outcome)
        _retry_or_fail(message, str(outcome), retries)
        return False
    if channel.reconcilable:
        _settle(message, S.SENT, sent_at=timezone.now(), provider_reference=outcome)
    return True


def _send_claimed(
    channel: channels.Channel, claimed: list[tuple[Message, dict]], retries: Retries
) -> int:
    """Send in groups of the channel's ``batch_size`` (SMTP: one message per connection, so
    their conversations overlap), each message waiting its turn under the rate limit."""
    ready = _rendered(claimed)
    handover = _handover(channel)
    size = max(1, channel.batch_size)
    sent = 0
    for start in range(0, len(ready), size):
        group = ready[start : start + size]
        for message, _rendered_message in group:
            ratelimits.wait_for_turn(message.channel)
        outcomes = channel.send_many(group, handover)
        for (message, _rendered_message), outcome in zip(group, outcomes, strict=True):
            sent += _note_outcome(channel, message, outcome, retries)
    return sent


def send_batch(message_ids: list[int]) -> int:
    """Send those of ``message_ids`` that are still pending; returns how many went. Safe to
    run twice or at once in two workers: each row is claimed by one of them."""
    kinds = {kind: channels.channel_for(kind) for kind in Message.Channel.values}
    claimed = _claim(
        message_ids, _claimant(), {kind: channel.provider for kind, channel in kinds.items()}
    )
    sent = 0
    retries: Retries = {}
    for kind, channel in kinds.items():
        with channel:
            of_kind = [
                (message, context) for message, context in claimed if message.channel == kind
            ]
            if of_kind:
                sent += _send_claimed(channel, of_kind, retries)
    # A worker that dies before this leaves the retries to the sweep (their rows are pending).
    for (kind, countdown), ids in retries.items():
        enqueue({kind: ids}, countdown=countdown)
    return sent


# --- Delivery receipts ----------------------------------------------------------------------

# GOV.UK Notify's statuses: https://docs.notifications.service.gov.uk/python.html#status
NOTIFY_DELIVERED = {"delivered", "received"}
NOTIFY_FAILED = {"permanent-failure", "temporary-failure", "validation-failed", "virus-scan-failed"}
NOTIFY_NOT_SENT = {"technical-failure"}


def _receipt_time(text: str | None) -> datetime:
    moment = parse_datetime(text) if text else None
    if moment is None:
        return timezone.now()
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.utc)


def _apply_provider_status(message: Message, *, reference: str, status: str, at: datetime) -> str:
    """Record what the provider says of a message this transaction holds locked."""
    now = timezone.now()
    if message.status in {S.DELIVERED, S.FAILED, S.CANCELLED}:
        return "already recorded"
    if message.status == S.SENT and message.provider_reference not in {"", reference}:
        return "stale"  # a receipt for an earlier attempt that Notify itself did not send
    found = {"provider_reference": reference, "claimed_by": "", "updated_at": now}
    found["sent_at"] = message.sent_at or at
    if status in NOTIFY_DELIVERED:
        Message.objects.filter(pk=message.pk).update(status=S.DELIVERED, delivered_at=at, **found)
        _announce(message, S.DELIVERED)
        return "delivered"
    if status in NOTIFY_FAILED or (
        status in NOTIFY_NOT_SENT and message.attempts >= settings.MESSAGE_MAX_ATTEMPTS
    ):
        Message.objects.filter(pk=message.pk).update(
            status=S.FAILED, error=f"GOV.UK Notify: {status}", **found
        )
        _announce(message, S.FAILED)
        _queue_fallback(message)
        return "failed"
    if status in NOTIFY_NOT_SENT:
        delay = retry_delay(message.attempts)
        Message.objects.filter(pk=message.pk).update(
            status=S.PENDING,
            error=f"GOV.UK Notify: {status}; sending again",
            queued_at=now + delay,
            claimed_at=None,
            **found,
        )
        transaction.on_commit(
            lambda: enqueue({message.channel: [message.pk]}, countdown=delay.total_seconds())
        )
        _announce(message, S.PENDING)
        return "sending again"
    # created, sending, pending, sent: Notify has it and is still delivering.
    if message.status in {S.PENDING, S.SENDING}:
        Message.objects.filter(pk=message.pk).update(status=S.SENT, **found)
        _announce(message, S.SENT)
    return "in progress"


@transaction.atomic
def record_delivery_receipt(receipt: dict) -> str:
    """Apply one GOV.UK Notify delivery receipt (the callback's JSON body); idempotent.
    Returns what happened: delivered, failed, sending again, in progress, already recorded,
    stale or unknown."""
    reference = str(receipt.get("reference") or "")
    message = (
        Message.objects.select_for_update().filter(pk=int(reference)).first()
        if reference.isdigit()
        else None
    )
    if message is None:
        logger.warning("A Notify receipt names no message of ours: %s", reference or "-")
        return "unknown"
    return _apply_provider_status(
        message,
        reference=str(receipt.get("id") or ""),
        status=str(receipt.get("status") or ""),
        at=_receipt_time(receipt.get("completed_at") or receipt.get("sent_at")),
    )


# --- The sweep ------------------------------------------------------------------------------


@dataclass
class SweepReport:
    taken_back: int = 0  # claims of dead workers, to be sent again
    found_sent: int = 0  # claims of dead workers that the provider turned out to have
    gave_up: int = 0  # messages that kept killing their worker
    queued_again: int = 0  # pending messages whose task was lost


def _take_back_expired(now: datetime, report: SweepReport) -> dict[str, list[int]]:
    cutoff = now - timedelta(seconds=settings.MESSAGE_LEASE_SECONDS)
    resend: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        expired = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=S.SENDING, claimed_at__lt=cutoff)
            .order_by("pk")[:SWEEP_LIMIT]
        )
        reconcilers: dict[tuple[str, str], channels.Channel | None] = {}
        unreachable: set[tuple[str, str]] = set()
        asked = 0
        for message in expired:
            key = (message.provider, message.channel)
            if key not in reconcilers:
                reconcilers[key] = channels.reconciler_for(*key)
            reconciler = reconcilers[key]
            if reconciler is not None:
                # Left claimed (for the next sweep) while the provider cannot be asked: it
                # may have the message, and only its answer makes sending again safe.
                if key in unreachable or asked >= RECONCILE_LIMIT:
                    continue
                asked += 1
                try:
                    record = reconciler.find(message)
                except channels.TemporaryFailure as error:
                    logger.warning("Cannot ask %s about message %s: %s", key[0], message.pk, error)
                    unreachable.add(key)
                    continue
                if record is not None:
                    _apply_provider_status(
                        message, reference=record.reference, status=record.status, at=now
                    )
                    report.found_sent += 1
                    continue
            # Not at the provider: for SMTP a claim never becomes a delivery before it is
            # recorded as sent (decision 0007), so sending again cannot make a second copy.
            if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
                Message.objects.filter(pk=message.pk).update(
                    status=S.FAILED,
                    error="The worker sending it stopped every time it tried.",
                    updated_at=now,
                )
                _announce(message, S.FAILED)
                _queue_fallback(message)
                report.gave_up += 1
                continue
            resend[message.channel].append(message.pk)
        for reconciler in filter(None, reconcilers.values()):
            reconciler.close()
        taken = [pk for pks in resend.values() for pk in pks]
        Message.objects.filter(pk__in=taken).update(
            status=S.PENDING,
            claimed_by="",
            claimed_at=None,
            queued_at=now,
            error="The worker sending it stopped; sending it again.",
            updated_at=now,
        )
        report.taken_back += len(taken)
    return resend


def _queue_lost(now: datetime, report: SweepReport) -> dict[str, list[int]]:
    cutoff = now - timedelta(seconds=settings.MESSAGE_REQUEUE_SECONDS)
    lost: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        rows = (
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING, queued_at__lt=cutoff)
            .order_by("queued_at", "pk")
            .values_list("pk", "channel")[:SWEEP_LIMIT]
        )
        for pk, channel in rows:
            lost[channel].append(pk)
        ids = [pk for pks in lost.values() for pk in pks]
        Message.objects.filter(pk__in=ids).update(queued_at=now)
        report.queued_again += len(ids)
    return lost


def sweep(now: datetime | None = None) -> SweepReport:
    """Take back claims whose lease ran out (their worker died) and queue again pending
    messages whose task never ran (a broker outage, a worker killed holding the task)."""
    now = now or timezone.now()
    report = SweepReport()
    resend = _take_back_expired(now, report)
    lost = _queue_lost(now, report)
    for kind, ids in resend.items():
        lost[kind] = [*ids, *lost.get(kind, [])]
    if any(lost.values()):
        transaction.on_commit(lambda: enqueue(lost))
    if report.taken_back or report.found_sent or report.gave_up:
        audit.record(
            verb="message_claims_taken_back",
            object_type=Message._meta.label_lower,
            details=vars(report),
        )
    return report
