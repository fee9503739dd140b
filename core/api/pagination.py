"""Bounded pages: page numbers for small lists, a keyset cursor for transactions."""

from __future__ import annotations

from rest_framework import pagination

MAX_PAGE_SIZE = 100


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class TransactionCursorPagination(pagination.CursorPagination):
    """Newest first; the cursor is a position, so pages stay stable while rows are inserted
    and a deep page costs what the first does (an index range scan from the cursor)."""

    ordering = ("-transaction_date", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
