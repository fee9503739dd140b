from __future__ import annotations

import django_filters
from django.db.models import Q

from spending.models import SpendingCategory


class SpendingCategoryFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=255,
        help_text="An MCC prefix (digits) or words of the description",
    )
    is_high_risk = django_filters.BooleanFilter()
    group = django_filters.CharFilter(lookup_expr="iexact", help_text="The ISO 18245 range name")

    class Meta:
        model = SpendingCategory
        fields = ("search", "is_high_risk", "group")

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(Q(mcc__startswith=value) | Q(description__icontains=value))
        return queryset.filter(description__icontains=value)
