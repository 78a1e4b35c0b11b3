"""Signals the eligibility decisions send, so that later steps (invitations, in the bookings
app) happen in the same transaction without this app importing them."""

from django.dispatch import Signal

# Sent inside the deciding transaction with ``employment_ids``: employments a local lead has
# just decided eligible (one by one, in bulk, or by reversing a refusal).
employments_approved = Signal()

# Sent inside the deciding transaction with ``employment_ids``: employments whose eligible
# decision a local lead has just reversed.
approvals_reversed = Signal()
