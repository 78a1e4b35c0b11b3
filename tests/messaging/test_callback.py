"""GOV.UK Notify's delivery receipt callback over HTTP: bearer token checked in constant time,
CSRF-exempt, idempotent, and a failed email followed by a text message."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from bookings.models import Message
from bookings.outbox import OutgoingMessage, queue_messages

S = Message.Status
TOKEN = "notify-callback-token-0123456789"
NOTIFY_ID = "740e5834-3a29-46b4-9a6f-16142fde533a"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def callback_token(settings):
    settings.NOTIFY_CALLBACK_TOKEN = TOKEN


@pytest.fixture
def sent_email(enqueued) -> Message:
    """An email Notify has accepted (id NOTIFY_ID), with a mobile to fall back to."""
    with transaction.atomic():
        [pk] = queue_messages(
            [
                OutgoingMessage(
                    "email",
                    "greeting",
                    "sam@example.org",
                    {"first_name": "Sam"},
                    fallback_mobile="+447700900123",
                )
            ]
        )
    Message.objects.filter(pk=pk).update(
        status=S.SENT, provider="notify", provider_reference=NOTIFY_ID, attempts=1
    )
    return Message.objects.get(pk=pk)


def receipt(message_id, status="delivered", **extra) -> dict:
    """A receipt as Notify posts it."""
    return {
        "id": NOTIFY_ID,
        "reference": str(message_id),
        "to": "sam@example.org",
        "status": status,
        "created_at": "2026-12-01T06:00:00.000000Z",
        "completed_at": "2026-12-01T06:00:05.000000Z",
        "sent_at": "2026-12-01T06:00:01.000000Z",
        "notification_type": "email",
        "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
        "template_version": 1,
        **extra,
    }


def post(body, token=TOKEN, client=None):
    client = client or Client(enforce_csrf_checks=True)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.post(
        reverse("notify_delivery_receipt"),
        data=json.dumps(body) if not isinstance(body, bytes) else body,
        content_type="application/json",
        **headers,
    )


def test_a_delivered_receipt_marks_the_message_delivered(sent_email):
    response = post(receipt(sent_email.pk))
    assert response.status_code == 200
    assert response.json() == {"result": "delivered"}
    message = Message.objects.get(pk=sent_email.pk)
    assert message.status == S.DELIVERED
    assert message.delivered_at.isoformat() == "2026-12-01T06:00:05+00:00"


def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(sent_email, settings):
    assert post(receipt(sent_email.pk), token="not-the-token").status_code == 403
    missing = post(receipt(sent_email.pk), token=None)
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == "Bearer"
    settings.NOTIFY_CALLBACK_TOKEN = ""
    assert post(receipt(sent_email.pk), token="").status_code == 401
    assert post(receipt(sent_email.pk), token="anything").status_code == 403
    assert Message.objects.get(pk=sent_email.pk).status == S.SENT


def test_only_json_posts_are_taken(sent_email):
    client = Client()
    assert client.get(reverse("notify_delivery_receipt")).status_code == 405
    assert post(b"not json").status_code == 400
    assert post({"reference": str(sent_email.pk)}).status_code == 400


def test_an_unknown_reference_is_acknowledged_and_ignored(sent_email):
    for reference in ("999999999", "not-ours", ""):
        response = post(receipt(reference))
        assert response.status_code == 200
        assert response.json() == {"result": "unknown"}
    assert Message.objects.get(pk=sent_email.pk).status == S.SENT


def test_a_repeated_receipt_changes_nothing_more(sent_email):
    assert post(receipt(sent_email.pk)).json() == {"result": "delivered"}
    delivered_at = Message.objects.get(pk=sent_email.pk).delivered_at
    again = post(receipt(sent_email.pk, completed_at="2026-12-01T07:00:00.000000Z"))
    assert again.status_code == 200 and again.json() == {"result": "already recorded"}
    assert Message.objects.get(pk=sent_email.pk).delivered_at == delivered_at


def test_a_failed_email_is_followed_by_one_text_message(
    sent_email, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(receipt(sent_email.pk, status="permanent-failure"))
    assert response.json() == {"result": "failed"}
    message = Message.objects.get(pk=sent_email.pk)
    assert (message.status, message.error) == (S.FAILED, "GOV.UK Notify: permanent-failure")
    fallback = message.fallbacks.get()
    assert (fallback.channel, fallback.recipient, fallback.template) == (
        "sms",
        "+447700900123",
        "greeting",
    )
    assert (fallback.context, fallback.status) == ({"first_name": "Sam"}, S.PENDING)
    assert enqueued[-1] == ({"sms": [fallback.pk]}, None)

    with django_capture_on_commit_callbacks(execute=True):
        again = post(receipt(sent_email.pk, status="permanent-failure"))
    assert again.json() == {"result": "already recorded"}
    assert Message.objects.filter(fallback_of=sent_email).count() == 1


def test_a_receipt_for_a_message_whose_worker_died_records_the_send(sent_email):
    # The worker posted to Notify, then died before recording it: the receipt records it.
    Message.objects.filter(pk=sent_email.pk).update(status=S.SENDING, provider_reference="")
    assert post(receipt(sent_email.pk, status="sending")).json() == {"result": "in progress"}
    message = Message.objects.get(pk=sent_email.pk)
    assert (message.status, message.provider_reference) == (S.SENT, NOTIFY_ID)


def test_notify_technical_failures_are_sent_again(
    sent_email, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = post(receipt(sent_email.pk, status="technical-failure")).json()
    assert result == {"result": "sending again"}
    message = Message.objects.get(pk=sent_email.pk)
    assert message.status == S.PENDING
    assert enqueued[-1] == ({"email": [sent_email.pk]}, 30.0)
