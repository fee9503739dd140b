"""Card products (templates an account issues cards from) and cards.

No card number or CVV is ever stored here: PCI scope stays with Lithic; `last_four` only.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.history import audited_history
from core.models import LIVE, BusinessModel
from spending.models import (
    LITHIC_SYNC_FIELDS,
    LITHIC_SYNC_STATUSES,
    SPEND_LIMIT_DURATIONS,
    LithicSynced,
    SpendLimitDuration,
)


class CardType(models.TextChoices):
    """Lithic's card `type`, verbatim. UNLOCKED and DIGITAL_WALLET are deprecated at Lithic
    (they behave as VIRTUAL): cards of those types are kept as Lithic reports them, but no new
    card or product is made with them (`ISSUABLE_CARD_TYPES`)."""

    VIRTUAL = "VIRTUAL", "Virtual"
    PHYSICAL = "PHYSICAL", "Physical"
    SINGLE_USE = "SINGLE_USE", "Single use"
    MERCHANT_LOCKED = "MERCHANT_LOCKED", "Merchant locked"
    UNLOCKED = "UNLOCKED", "Unlocked (deprecated: as virtual)"
    DIGITAL_WALLET = "DIGITAL_WALLET", "Digital wallet (deprecated: as virtual)"


class CardState(models.TextChoices):
    """Lithic's card `state`, verbatim. CLOSED is final."""

    OPEN = "OPEN", "Open"
    PAUSED = "PAUSED", "Paused"
    CLOSED = "CLOSED", "Closed"
    PENDING_FULFILLMENT = "PENDING_FULFILLMENT", "Pending fulfillment"
    PENDING_ACTIVATION = "PENDING_ACTIVATION", "Pending activation"


CARD_TYPES = [c.value for c in CardType]
DEPRECATED_CARD_TYPES = frozenset({CardType.UNLOCKED, CardType.DIGITAL_WALLET})
ISSUABLE_CARD_TYPE_CHOICES = [c for c in CardType.choices if c[0] not in DEPRECATED_CARD_TYPES]
ISSUABLE_CARD_TYPES = [value for value, _label in ISSUABLE_CARD_TYPE_CHOICES]
CARD_STATES = [c.value for c in CardState]


class CardProduct(BusinessModel):
    """A card template of an account: type, default limit and default spending profile."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="card_products"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    card_type = models.CharField(
        max_length=16,
        choices=ISSUABLE_CARD_TYPE_CHOICES,
        default=CardType.VIRTUAL,
    )
    default_spend_limit = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0.00"), help_text="0 means no limit"
    )
    default_spend_limit_duration = models.CharField(
        max_length=12, choices=SpendLimitDuration.choices, default=SpendLimitDuration.MONTHLY
    )
    default_profile = models.ForeignKey(
        "spending.SpendingProfile",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    lithic_product_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Lithic physical card product id"
    )
    is_active = models.BooleanField(default=True)

    history = audited_history("card_products_history")

    class Meta:
        db_table = "card_products"
        ordering = ("account", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], condition=LIVE, name="card_products_account_name_uniq"
            ),
            models.CheckConstraint(
                condition=Q(card_type__in=ISSUABLE_CARD_TYPES),
                name="card_products_card_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(default_spend_limit__gte=0),
                name="card_products_default_spend_limit_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(default_spend_limit_duration__in=SPEND_LIMIT_DURATIONS),
                name="card_products_duration_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Card(LithicSynced, BusinessModel):
    """A card issued on Lithic for a cardholder of an account."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="cards")
    cardholder = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="cards"
    )
    product = models.ForeignKey(
        CardProduct, on_delete=models.PROTECT, null=True, blank=True, related_name="cards"
    )
    profile = models.ForeignKey(
        "spending.SpendingProfile",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cards",
    )
    # Indexed by its partial unique index (an equality lookup implies NOT NULL).
    lithic_card_token = models.UUIDField(null=True, blank=True)
    last_four = models.CharField(max_length=4, blank=True, default="")
    type = models.CharField(max_length=16, choices=CardType.choices, default=CardType.VIRTUAL)
    state = models.CharField(max_length=20, choices=CardState.choices, default=CardState.OPEN)
    spend_limit = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0.00"), help_text="0 means no limit"
    )
    spend_limit_duration = models.CharField(
        max_length=12, choices=SpendLimitDuration.choices, default=SpendLimitDuration.MONTHLY
    )
    memo = models.CharField(max_length=255, blank=True, default="")

    history = audited_history("cards_history", excluded_fields=LITHIC_SYNC_FIELDS)

    class Meta:
        db_table = "cards"
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["lithic_card_token"],
                condition=Q(lithic_card_token__isnull=False),
                name="cards_lithic_card_token_uniq",
            ),
            models.CheckConstraint(condition=Q(type__in=CARD_TYPES), name="cards_type_valid"),
            models.CheckConstraint(condition=Q(state__in=CARD_STATES), name="cards_state_valid"),
            models.CheckConstraint(condition=Q(spend_limit__gte=0), name="cards_spend_limit_gte_0"),
            models.CheckConstraint(
                condition=Q(spend_limit_duration__in=SPEND_LIMIT_DURATIONS),
                name="cards_spend_limit_duration_valid",
            ),
            models.CheckConstraint(
                condition=Q(last_four="") | Q(last_four__regex=r"^[0-9]{4}$"),
                name="cards_last_four_format",
            ),
            models.CheckConstraint(
                condition=Q(lithic_sync_status__in=LITHIC_SYNC_STATUSES),
                name="cards_lithic_sync_status_valid",
            ),
        ]
        indexes = [
            # The sync worker's queue: rows waiting for a push, soonest first.
            models.Index(
                fields=["lithic_next_attempt_at"],
                condition=Q(lithic_sync_status="PENDING"),
                name="cards_sync_due_idx",
            ),
            models.Index(fields=["account", "state"], name="cards_account_state_idx"),
            models.Index(fields=["cardholder"], name="cards_cardholder_idx"),
        ]

    def __str__(self) -> str:
        suffix = f" ••{self.last_four}" if self.last_four else ""
        return f"{self.get_type_display()} card{suffix}"

    def clean(self):
        super().clean()
        for name in ("cardholder", "product", "profile"):
            related = getattr(self, name)
            if related is not None and related.account_id != self.account_id:
                raise ValidationError({name: f"The {name} belongs to another account."})
