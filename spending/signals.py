"""What the spending app announces to the layers above it (the Lithic integration listens)."""

from django.dispatch import Signal

# Sent inside the transaction of a change to a spending profile's rules or its existence, with
# `sender=SpendingProfile` and `pk`. Receivers run in that transaction.
spending_profile_changed = Signal()
