"""What the cards app announces to the layers above it (the Lithic integration listens)."""

from django.dispatch import Signal

# Sent inside the transaction of a card change that the card processor must hear about (state,
# limit, memo, spending profile, a new card), with `sender=Card` and `pk`. Receivers run in that
# transaction, so what they record commits with the change or not at all.
card_changed = Signal()
