"""Signals the bookings app sends for the later booking and invitation work to handle."""

from django.dispatch import Signal

# Sent inside the cancelling transaction with ``session_id`` and ``slot_ids`` (the cancelled
# session's slots that have bookings). A receiver tells those workers and invites them to
# rebook, writing its outbox rows in the same transaction.
session_cancelled = Signal()
