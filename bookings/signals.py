"""Signals the bookings app sends for the later booking and invitation work to handle."""

from django.dispatch import Signal

# Sent inside the cancelling transaction with ``session_id`` and ``slot_ids`` (the cancelled
# session's slots that have bookings). A receiver tells those workers and invites them to
# rebook, writing its outbox rows in the same transaction.
session_cancelled = Signal()

# Sent with ``message`` (a Message) and ``status`` each time the outbox settles a message:
# sent, delivered, failed or cancelled, or pending again for a retry.
# Receivers run in the transaction that records the change, before the provider is handed the
# message where it is "sent", so what they write commits with it or not at all.
message_status_changed = Signal()
