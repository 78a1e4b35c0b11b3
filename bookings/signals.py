"""Signals the bookings app sends."""

from django.dispatch import Signal

# Sent with ``message`` (a Message) and ``status`` each time the outbox settles a message:
# sent, delivered, failed or cancelled, or pending again for a retry.
# Receivers run in the transaction that records the change, before the provider is handed the
# message where it is "sent", so what they write commits with it or not at all.
message_status_changed = Signal()
