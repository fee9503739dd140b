"""Form fields the console's pages share."""

from __future__ import annotations

from django import forms


def reason_field(*, min_length: int, help_text: str) -> forms.CharField:
    """Why the operator acts, in their words: kept in a history or the security log."""
    return forms.CharField(
        min_length=min_length,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}),
        help_text=help_text,
    )
