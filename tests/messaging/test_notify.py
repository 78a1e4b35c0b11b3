"""GOV.UK Notify through its own Python client, against a local HTTP server standing in for
NOTIFY_BASE_URL: the exact requests, failures, and asking Notify by reference after a crash
before sending again."""

from __future__ import annotations

import runpy
import time

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from bookings import outbox
from bookings.models import Message
from bookings.outbox import OutgoingMessage, queue_messages
from tests.messaging.conftest import API_SECRET, EMAIL_TEMPLATE_ID, SERVICE_ID, SMS_TEMPLATE_ID
from tests.messaging.test_outbox import claimed_long_ago
from tests.test_settings import SETTINGS, production_env

S = Message.Status
pytestmark = pytest.mark.django_db


def queue(*messages) -> list[int]:
    with transaction.atomic():
        return queue_messages(messages)


GREETING = {"first_name": "Sam", "link": "https://carevax.example/b/abc", "employer": "Oak Care"}


def test_email_and_text_messages_are_posted_to_notify_exactly(notify_settings, enqueued):
    email_id, sms_id = queue(
        OutgoingMessage("email", "greeting", "sam@example.org", GREETING),
        OutgoingMessage("sms", "greeting", "+447700900123", GREETING),
    )
    assert outbox.send_batch([email_id, sms_id]) == 2

    email_post, sms_post = notify_settings.posts()
    assert email_post.path == "/v2/notifications/email"
    assert email_post.body == {
        "email_address": "sam@example.org",
        "template_id": EMAIL_TEMPLATE_ID,
        "personalisation": {
            "subject": "Hello Sam",
            "body": "Dear Sam,\n\nYour link is https://carevax.example/b/abc\n\nFrom Oak Care\n",
        },
        "reference": str(email_id),
    }
    assert sms_post.path == "/v2/notifications/sms"
    assert sms_post.body == {
        "phone_number": "+447700900123",
        "template_id": SMS_TEMPLATE_ID,
        "personalisation": {"body": "Hello Sam, book at https://carevax.example/b/abc"},
        "reference": str(sms_id),
    }
    for request in (email_post, sms_post):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("NOTIFY-API-PYTHON-CLIENT/")
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(token, API_SECRET, algorithms=["HS256"])
        assert claims["iss"] == SERVICE_ID
        assert abs(claims["iat"] - time.time()) < 60

    for pk in (email_id, sms_id):
        message = Message.objects.get(pk=pk)
        [notification] = notify_settings.notifications[str(pk)]
        assert (message.status, message.provider) == (S.SENT, "notify")
        assert message.provider_reference == notification["id"]


def test_a_request_notify_rejects_fails_the_email_and_falls_back_to_a_text(
    notify_settings, enqueued, django_capture_on_commit_callbacks
):
    notify_settings.failures.append(
        (400, {"status_code": 400, "errors": [{"error": "ValidationError", "message": "bad"}]})
    )
    [pk] = queue(
        OutgoingMessage(
            "email", "greeting", "sam@example", GREETING, fallback_mobile="+447700900123"
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert message.status == S.FAILED and "400" in message.error
    fallback = message.fallbacks.get()
    assert (fallback.channel, fallback.recipient) == ("sms", "+447700900123")
    assert outbox.send_batch([fallback.pk]) == 1
    assert notify_settings.posts()[-1].body["phone_number"] == "+447700900123"


def test_a_busy_notify_is_tried_again_later(notify_settings, enqueued):
    notify_settings.failures.append((500, {"status_code": 500, "errors": [{"error": "Exception"}]}))
    [pk] = queue(OutgoingMessage("sms", "greeting", "+447700900123", GREETING))
    assert outbox.send_batch([pk]) == 0
    message = Message.objects.get(pk=pk)
    assert (message.status, message.attempts) == (S.PENDING, 1)
    assert "500" in message.error
    assert enqueued == [({"sms": [pk]}, 30.0)]


def test_after_a_crash_notify_is_asked_before_anything_is_sent_again(
    notify_settings, enqueued, settings
):
    settings.MESSAGE_LEASE_SECONDS = 60
    went, never_went = queue(
        OutgoingMessage("email", "greeting", "a@example.org", GREETING),
        OutgoingMessage("email", "greeting", "b@example.org", GREETING),
    )
    # The worker posted the first, then died before it could record that; it died before
    # posting the second.
    notify_settings.notifications[str(went)] = [
        {"id": "0b5e3c4e-7c5a-4c9e-9d35-2b7f0d0c0a11", "type": "email", "status": "sending"}
    ]
    claimed_long_ago(went, seconds=61, attempts=1, provider="notify")
    claimed_long_ago(never_went, seconds=61, attempts=1, provider="notify")

    report = outbox.sweep()
    assert (report.found_sent, report.taken_back) == (1, 1)
    assert notify_settings.posts() == []
    asked = [request.query for request in notify_settings.requests]
    assert asked == [
        {"reference": str(went), "template_type": "email"},
        {"reference": str(never_went), "template_type": "email"},
    ]
    first = Message.objects.get(pk=went)
    assert (first.status, first.provider_reference) == (
        S.SENT,
        "0b5e3c4e-7c5a-4c9e-9d35-2b7f0d0c0a11",
    )
    assert Message.objects.get(pk=never_went).status == S.PENDING
    assert outbox.send_batch([went, never_went]) == 1
    assert [post.body["reference"] for post in notify_settings.posts()] == [str(never_went)]


def test_while_notify_cannot_be_asked_nothing_is_sent_again(
    notify_settings, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.MESSAGE_LEASE_SECONDS = 60
    ids = queue(
        *[OutgoingMessage("sms", "greeting", f"+44770090012{n}", GREETING) for n in range(3)]
    )
    for pk in ids:
        claimed_long_ago(pk, seconds=61, attempts=1, provider="notify")
    notify_settings.get_failures.append((503, {"status_code": 503, "errors": []}))

    report = outbox.sweep()
    assert (report.found_sent, report.taken_back) == (0, 0)
    assert len(notify_settings.requests) == 1, "one failed request is enough to stop asking"
    assert set(Message.objects.values_list("status", flat=True)) == {S.SENDING}
    assert enqueued == []

    with django_capture_on_commit_callbacks(execute=True):
        report = outbox.sweep()  # Notify answers again: none of them is there, so all go again
    assert report.taken_back == 3
    assert enqueued == [({"sms": ids}, None)]


def test_notify_needs_its_template_ids_and_in_production_its_callback_token(monkeypatch):
    for key, value in production_env(NOTIFY_API_KEY="key").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DEBUG", raising=False)
    with pytest.raises(ImproperlyConfigured, match="NOTIFY_EMAIL_TEMPLATE_ID"):
        runpy.run_path(str(SETTINGS))
    monkeypatch.setenv("NOTIFY_EMAIL_TEMPLATE_ID", EMAIL_TEMPLATE_ID)
    monkeypatch.setenv("NOTIFY_SMS_TEMPLATE_ID", SMS_TEMPLATE_ID)
    with pytest.raises(ImproperlyConfigured, match="NOTIFY_CALLBACK_TOKEN"):
        runpy.run_path(str(SETTINGS))
    monkeypatch.setenv("NOTIFY_CALLBACK_TOKEN", "a-long-random-token")
    loaded = runpy.run_path(str(SETTINGS))
    assert loaded["NOTIFY_CHANNELS"] == ["email", "sms"]
    assert loaded["SMS_BACKEND"] == ""
