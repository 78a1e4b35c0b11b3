"""The outbox on PostgreSQL: messages are written in the caller's transaction and queued only
after it commits, each is claimed by one task and sent once, failures are retried with backoff
or fall back to a text message, and the sweep takes back what dead workers held."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg2
import pytest
from django.core import mail
from django.db import connection, transaction
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from bookings import outbox, ratelimits
from bookings.models import Message
from bookings.outbox import OutgoingMessage, queue_messages
from bookings.rendering import MissingVariable, render_message
from portal.models import AuditEvent
from tests.factories import EmploymentFactory
from tests.messaging.conftest import free_port

S = Message.Status
# Other processes (threads here) must see committed rows; serialized_rollback puts the
# migrated reference data back for the tests that follow.
shared_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def email(recipient="sam@example.org", template="plain", **extra) -> OutgoingMessage:
    extra.setdefault("context", {"first_name": "Sam", "number": 1})
    return OutgoingMessage(channel="email", template=template, recipient=recipient, **extra)


def queue(*messages, capture) -> list[int]:
    with capture(execute=True), transaction.atomic():
        return queue_messages(messages)


def rows(ids) -> list[Message]:
    return list(Message.objects.filter(pk__in=ids).order_by("pk"))


# --- Queueing -------------------------------------------------------------------------------


def test_queued_messages_are_pending_rows_sent_to_their_channel_queue_after_commit(
    postgres, enqueued, django_capture_on_commit_callbacks
):
    worker = EmploymentFactory().worker
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        ids = queue_messages(
            [
                email(worker_id=worker.pk, fallback_mobile="+447700900123"),
                email("alex@example.org", context={"first_name": "Alex", "on": timezone.now()}),
                OutgoingMessage("sms", "greeting", "+447700900456", {"first_name": "Kim"}),
            ]
        )
        assert enqueued == [], "nothing may be queued before the transaction commits"
    assert len(callbacks) == 1
    callbacks[0]()
    assert enqueued == [({"email": ids[:2], "sms": ids[2:]}, None)]
    first, second, third = rows(ids)
    assert (first.status, first.channel, first.template) == (S.PENDING, "email", "plain")
    assert first.worker_id == worker.pk and first.fallback_mobile == "+447700900123"
    assert first.context == {"first_name": "Sam", "number": 1}
    assert isinstance(second.context["on"], str)  # dates are stored as ISO text
    assert (third.channel, third.recipient) == ("sms", "+447700900456")
    event = AuditEvent.objects.get(verb="messages_queued")
    assert event.details["count"] == 3
    assert event.details["channels"] == {"email": 2, "sms": 1}


def test_send_tasks_are_chunked_onto_per_channel_queues(
    postgres, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from bookings.tasks import send_messages_task

    settings.MESSAGE_TASK_CHUNK = 2
    sent = []
    monkeypatch.setattr(
        send_messages_task,
        "apply_async",
        lambda args, queue, **kwargs: sent.append((queue, args[0])),
    )
    ids = queue(
        *[email(f"p{n}@example.org") for n in range(5)],
        OutgoingMessage("sms", "greeting", "+447700900456", {}),
        capture=django_capture_on_commit_callbacks,
    )
    assert sent == [
        ("outbox.email", ids[0:2]),
        ("outbox.email", ids[2:4]),
        ("outbox.email", ids[4:5]),
        ("outbox.sms", ids[5:6]),
    ]


@shared_database
def test_a_rolled_back_decision_sends_nothing(postgres, enqueued):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_messages([email()])
        raise RuntimeError("the decision failed")
    assert Message.objects.count() == 0
    assert enqueued == []


@shared_database
def test_queueing_outside_a_transaction_is_refused(postgres, enqueued):
    with pytest.raises(transaction.TransactionManagementError):
        queue_messages([email()])
    assert Message.objects.count() == 0


def test_a_message_needs_a_known_channel_and_a_recipient(postgres):
    with pytest.raises(ValueError, match="channel"):
        queue_messages([OutgoingMessage("fax", "plain", "01234", {})])
    with pytest.raises(ValueError, match="recipient"):
        queue_messages([email("  ")])


# --- Rendering ------------------------------------------------------------------------------


def test_rendering_reads_the_subject_line_and_escapes_only_html():
    rendered = render_message(
        "greeting",
        "email",
        {"first_name": "Jo <O'Neil>", "link": "https://x/?a=1&b=2", "employer": "Oak & Co"},
    )
    assert rendered.subject == "Hello Jo <O'Neil>"
    assert rendered.text.startswith("Dear Jo <O'Neil>,\n")
    assert "https://x/?a=1&b=2" in rendered.text and "From Oak & Co" in rendered.text
    assert "Jo &lt;O&#x27;Neil&gt;" in rendered.html
    assert 'href="https://x/?a=1&amp;b=2"' in rendered.html
    sms = render_message("greeting", "sms", {"first_name": "Jo", "link": "https://x"})
    assert (sms.subject, sms.text, sms.html) == ("", "Hello Jo, book at https://x", None)


def test_rendering_fails_loudly():
    with pytest.raises(MissingVariable, match="link"):
        render_message("greeting", "email", {"first_name": "Jo"})
    with pytest.raises(TemplateDoesNotExist):
        render_message("no-such-template", "email", {})
    with pytest.raises(TemplateDoesNotExist):
        render_message("plain", "sms", {"number": 1, "first_name": "Jo"})
    with pytest.raises(TemplateSyntaxError, match="Subject"):
        render_message("nosubject", "email", {"first_name": "Jo"})


# --- Sending --------------------------------------------------------------------------------


def test_a_task_run_twice_sends_once(postgres, django_capture_on_commit_callbacks, enqueued):
    ids = queue(
        email("a@example.org"), email("b@example.org"), capture=django_capture_on_commit_callbacks
    )
    assert outbox.send_batch(ids) == 2
    assert outbox.send_batch(ids) == 0
    assert sorted(message.to[0] for message in mail.outbox) == ["a@example.org", "b@example.org"]
    for message in rows(ids):
        assert (message.status, message.attempts, message.provider) == (S.SENT, 1, "locmem")
        assert message.sent_at is not None
        assert message.provider_reference == f"<carevax-message-{message.pk}@carevax.nhs.uk>"
    assert mail.outbox[0].extra_headers["Message-ID"] == rows(ids)[0].provider_reference


@shared_database
def test_two_workers_on_the_same_ids_send_each_message_once(postgres, smtp_email, enqueued):
    with transaction.atomic():
        ids = queue_messages([email(f"p{n}@example.org") for n in range(40)])
    barrier = threading.Barrier(2)
    counts = []

    def work():
        try:
            barrier.wait()
            counts.append(outbox.send_batch(ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 40
    received = smtp_email.recipients()
    assert len(received) == 40 and set(received.values()) == {1}
    assert Message.objects.filter(status=S.SENT).count() == 40


def test_send_time_context_comes_from_the_registered_builder_and_is_not_stored(
    postgres, django_capture_on_commit_callbacks, enqueued, monkeypatch
):
    seen = []

    def builder(messages):
        seen.extend(
            (message.pk, message.status, connection.in_atomic_block) for message in messages
        )
        return {
            message.pk: {"link": f"https://carevax.example/secret-{message.pk}"}
            for message in messages
        }

    monkeypatch.setattr(outbox, "_context_builders", {})
    outbox.register_context_builder("greeting", builder)
    [pk] = queue(
        email(template="greeting", context={"first_name": "Sam", "employer": "Oak Care"}),
        capture=django_capture_on_commit_callbacks,
    )
    assert outbox.send_batch([pk]) == 1
    assert seen == [(pk, S.SENDING, True)]
    assert f"https://carevax.example/secret-{pk}" in mail.outbox[0].body
    stored = Message.objects.get(pk=pk)
    assert "link" not in stored.context and "secret" not in str(stored.context)


def test_each_settled_message_is_announced_in_its_transaction(
    postgres, smtp_email, django_capture_on_commit_callbacks, enqueued
):
    from bookings.signals import message_status_changed

    smtp_email.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
    heard = []

    def receiver(sender, message, status, **kwargs):
        row = Message.objects.get(pk=message.pk)
        heard.append((message.recipient, status, row.status, connection.in_atomic_block))

    message_status_changed.connect(receiver, sender=Message)
    try:
        ids = queue(
            email("here@example.org"),
            email("gone@example.org"),
            capture=django_capture_on_commit_callbacks,
        )
        outbox.send_batch(ids)
    finally:
        message_status_changed.disconnect(receiver, sender=Message)
    assert heard == [
        ("here@example.org", S.SENT, S.SENT, True),
        ("gone@example.org", S.FAILED, S.FAILED, True),
    ]
    # The receiver ran before the SMTP server was given the final ".".
    assert smtp_email.recipients() == {"here@example.org": 1}


def test_a_builder_that_fails_for_one_message_fails_that_message_alone(
    postgres, django_capture_on_commit_callbacks, enqueued, monkeypatch, caplog
):
    calls = []

    def builder(messages):
        calls.append(len(messages))
        if any(message.recipient == "bad@example.org" for message in messages):
            raise ValueError("no link for this one")
        return {message.pk: {"first_name": message.recipient} for message in messages}

    monkeypatch.setattr(outbox, "_context_builders", {"plain": builder})
    ids = queue(
        email("a@example.org"),
        email("bad@example.org"),
        email("c@example.org"),
        capture=django_capture_on_commit_callbacks,
    )
    assert outbox.send_batch(ids) == 2
    # Once for the whole chunk, then once for each message alone.
    assert calls == [3, 1, 1, 1]
    assert [(m.recipient, m.status) for m in rows(ids)] == [
        ("a@example.org", S.SENT),
        ("bad@example.org", S.FAILED),
        ("c@example.org", S.SENT),
    ]
    assert "no link for this one" in rows(ids)[1].error
    assert sorted(message.to[0] for message in mail.outbox) == ["a@example.org", "c@example.org"]


@shared_database
def test_a_chunk_goes_over_several_smtp_connections_one_final_dot_at_a_time(
    postgres, settings, smtp_email, enqueued
):
    """The conversations overlap, but when the server has a message's final ".", that message
    and only the messages whose "." it already had are recorded as sent: never more than one
    message is between "recorded" and "delivered" (decision 0007)."""
    settings.MESSAGE_SMTP_CONNECTIONS = 4
    handler = smtp_email.handler
    handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
    handler.refuse["busy@example.org"] = "451 4.3.0 Try again later"
    recipients = [f"p{n}@example.org" for n in range(10)]
    recipients[3], recipients[6] = "gone@example.org", "busy@example.org"
    with transaction.atomic():
        ids = queue_messages([email(address) for address in recipients])
    seen: list[tuple[int, int]] = []
    peers: set = set()
    # The check runs in the SMTP server's event loop, where Django's connection may not go.
    watcher = psycopg2.connect(**connection.get_connection_params())
    watcher.autocommit = True

    def check(count: int) -> None:
        with watcher.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {Message._meta.db_table} WHERE status = %s",  # noqa: S608
                [S.SENT],
            )
            seen.append((count, cursor.fetchone()[0]))

    handler.before_reply = check
    original = handler.handle_DATA

    async def handle_data(server, session, envelope):
        peers.add(session.peer)
        return await original(server, session, envelope)

    handler.handle_DATA = handle_data
    try:
        assert outbox.send_batch(ids) == 8
    finally:
        watcher.close()
    assert seen == [(n, n) for n in range(1, 9)]
    assert 2 <= len(peers) <= 4
    assert smtp_email.recipients() == {
        address: 1
        for address in recipients
        if address not in {"gone@example.org", "busy@example.org"}
    }
    states = {m.recipient: m.status for m in rows(ids)}
    assert (states["gone@example.org"], states["busy@example.org"]) == (S.FAILED, S.PENDING)
    assert enqueued[-1] == ({"email": [ids[6]]}, 30.0)


def test_a_builder_can_cancel_its_message(
    postgres, django_capture_on_commit_callbacks, enqueued, monkeypatch
):
    def builder(messages):
        raise outbox.MessageCancelled("A newer invitation replaced this one.")

    monkeypatch.setattr(outbox, "_context_builders", {"plain": builder})
    [pk] = queue(email(), capture=django_capture_on_commit_callbacks)
    assert outbox.send_batch([pk]) == 0
    assert mail.outbox == []
    message = Message.objects.get(pk=pk)
    assert (message.status, message.error) == (S.CANCELLED, "A newer invitation replaced this one.")


def test_a_template_error_fails_the_message_loudly(
    postgres, django_capture_on_commit_callbacks, enqueued, caplog
):
    [pk] = queue(email(template="greeting"), capture=django_capture_on_commit_callbacks)
    assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert message.status == S.FAILED
    assert "first_name" in message.error or "link" in message.error
    assert "Could not render message" in caplog.text


def test_cancel_messages_stops_pending_ones_only(
    postgres, django_capture_on_commit_callbacks, enqueued
):
    ids = queue(
        email("a@example.org"), email("b@example.org"), capture=django_capture_on_commit_callbacks
    )
    outbox.send_batch(ids[:1])
    assert outbox.cancel_messages(ids, reason="Superseded") == 1
    assert [m.status for m in rows(ids)] == [S.SENT, S.CANCELLED]
    assert outbox.send_batch(ids) == 0


def test_a_busy_server_is_tried_again_later_then_given_up_on_with_a_text_fallback(
    postgres, settings, smtp_email, django_capture_on_commit_callbacks, enqueued
):
    settings.MESSAGE_MAX_ATTEMPTS = 2
    settings.MESSAGE_RETRY_SECONDS = 30
    smtp_email.handler.refuse["busy@example.org"] = "451 4.3.0 Try again later"
    [pk] = queue(
        email("busy@example.org", fallback_mobile="+447700900123", worker_id=None),
        capture=django_capture_on_commit_callbacks,
    )
    before = timezone.now()
    assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert (message.status, message.attempts, message.claimed_by) == (S.PENDING, 1, "")
    assert "451" in message.error
    assert message.queued_at >= before + timedelta(seconds=30)
    assert enqueued[-1] == ({"email": [pk]}, 30.0)
    # Not due yet: a duplicate task does nothing.
    assert outbox.send_batch([pk]) == 0
    assert Message.objects.get(pk=pk).attempts == 1

    Message.objects.filter(pk=pk).update(queued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert (message.status, message.attempts) == (S.FAILED, 2)
    assert "gave up after 2 attempts" in message.error
    fallback = message.fallbacks.get()
    assert (fallback.channel, fallback.recipient, fallback.status) == (
        "sms",
        "+447700900123",
        S.PENDING,
    )
    assert fallback.template == message.template and fallback.context == message.context
    assert smtp_email.handler.received == []


def test_an_outage_retries_a_chunk_with_one_delayed_task(
    postgres, settings, django_capture_on_commit_callbacks, enqueued
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    ids = queue(
        *[email(f"p{n}@example.org") for n in range(4)], capture=django_capture_on_commit_callbacks
    )
    enqueued.clear()
    assert outbox.send_batch(ids) == 0
    assert enqueued == [({"email": ids}, 30.0)]
    assert {(m.status, m.attempts) for m in rows(ids)} == {(S.PENDING, 1)}
    assert all("Could not reach the SMTP server" in m.error for m in rows(ids))


def test_a_refused_address_fails_at_once_and_falls_back_to_a_text_message(
    postgres, smtp_email, django_capture_on_commit_callbacks, enqueued
):
    smtp_email.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
    worker = EmploymentFactory().worker
    ids = queue(
        email("gone@example.org", fallback_mobile="+447700900123", worker_id=worker.pk),
        email("here@example.org"),
        capture=django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.send_batch(ids) == 1
    gone, here = rows(ids)
    assert (gone.status, gone.attempts) == (S.FAILED, 1) and "550" in gone.error
    assert here.status == S.SENT
    fallback = gone.fallbacks.get()
    assert (fallback.channel, fallback.worker_id, fallback.fallback_of_id) == (
        "sms",
        worker.pk,
        gone.pk,
    )
    assert enqueued[-1] == ({"sms": [fallback.pk]}, None)
    assert smtp_email.recipients() == {"here@example.org": 1}


def test_text_messages_go_to_files_in_development(
    postgres, settings, tmp_path, django_capture_on_commit_callbacks, enqueued
):
    settings.SMS_BACKEND, settings.SMS_FILE_PATH = "file", str(tmp_path / "sms")
    [pk] = queue(
        OutgoingMessage("sms", "greeting", "+447700900123", {"first_name": "Kim", "link": "L"}),
        capture=django_capture_on_commit_callbacks,
    )
    assert outbox.send_batch([pk]) == 1
    [written] = (tmp_path / "sms").iterdir()
    assert "To: +447700900123" in written.read_text()
    assert "Hello Kim, book at L" in written.read_text()
    message = Message.objects.get(pk=pk)
    assert (message.status, message.provider, message.provider_reference) == (
        S.SENT,
        "file",
        f"sms-{pk}",
    )


def test_without_notify_in_production_text_messages_fail_saying_why(
    postgres, settings, django_capture_on_commit_callbacks, enqueued
):
    settings.SMS_BACKEND, settings.NOTIFY_API_KEY = "", ""
    [pk] = queue(
        OutgoingMessage("sms", "greeting", "+447700900123", {"first_name": "Kim", "link": "L"}),
        capture=django_capture_on_commit_callbacks,
    )
    assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert message.status == S.FAILED
    assert "set NOTIFY_API_KEY" in message.error


# --- The sweep ------------------------------------------------------------------------------


def claimed_long_ago(pk, *, seconds, attempts, provider="smtp"):
    """Leave ``pk`` as a worker that died ``seconds`` ago, mid-send, would have left it."""
    Message.objects.filter(pk=pk).update(
        status=S.SENDING,
        provider=provider,
        claimed_by="worker-that-died:1:a",
        claimed_at=timezone.now() - timedelta(seconds=seconds),
        attempts=attempts,
    )


def test_the_sweep_takes_back_dead_claims_and_requeues_lost_tasks(
    postgres, settings, django_capture_on_commit_callbacks, enqueued
):
    settings.MESSAGE_LEASE_SECONDS, settings.MESSAGE_REQUEUE_SECONDS = 300, 60
    settings.MESSAGE_MAX_ATTEMPTS = 3
    ids = queue(
        *[email(f"p{n}@example.org") for n in range(5)], capture=django_capture_on_commit_callbacks
    )
    now = timezone.now()
    dead, poison, alive, lost, fresh = ids
    claimed_long_ago(dead, seconds=301, attempts=1)
    claimed_long_ago(poison, seconds=400, attempts=3)
    claimed_long_ago(alive, seconds=10, attempts=1)
    Message.objects.filter(pk=lost).update(queued_at=now - timedelta(seconds=61))
    enqueued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        report = outbox.sweep(now)
    assert (report.taken_back, report.gave_up, report.queued_again) == (1, 1, 1)
    assert enqueued == [({"email": [dead, lost]}, None)]
    by_id = {message.pk: message for message in rows(ids)}
    assert (by_id[dead].status, by_id[dead].claimed_by) == (S.PENDING, "")
    assert by_id[poison].status == S.FAILED
    assert by_id[alive].status == S.SENDING
    assert by_id[lost].queued_at == now
    assert by_id[fresh].queued_at < now and by_id[fresh].status == S.PENDING
    assert AuditEvent.objects.filter(verb="message_claims_taken_back").count() == 1

    # The taken-back message is sent once by the next task.
    assert outbox.send_batch([dead]) == 1
    assert [m.to for m in mail.outbox] == [["p0@example.org"]]


# --- Rate limits ----------------------------------------------------------------------------


def test_the_rate_limit_bucket_is_shared_through_redis(redis_url):
    import redis

    redis.Redis.from_url(redis_url).delete("carevax:message-rate:test")
    # Two buckets on one key, as two worker processes would hold.
    first = ratelimits.RedisBucket(redis_url, "carevax:message-rate:test", rate=1)
    second = ratelimits.RedisBucket(redis_url, "carevax:message-rate:test", rate=1)
    assert first.take() == 0
    assert 0 < second.take() <= 1.0
    assert 0 < first.take() <= 1.0


def test_rate_limits_are_read_from_the_environment_format():
    from portal.settings import _rate_limits

    assert _rate_limits("email=50/s,sms=120/m") == {"email": 50.0, "sms": 2.0}
    assert _rate_limits("email=0") == {"email": None, "sms": None}
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        _rate_limits("fax=1/s")
