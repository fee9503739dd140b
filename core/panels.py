"""Panels of a record's page that are a table: columns, rows, and a link to the full list.

`table_panel(...)` builds a `core.admin.PagePanel` rendered by templates/admin/panels/table.html.
Cells are text (escaped) or HTML made with `format_html`; a column's `css` class (`money`,
`number`) aligns its cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils import formats, timezone

from core.admin import PagePanel


@dataclass(frozen=True)
class Column:
    label: str
    css: str = ""


def table_panel(
    *,
    id: str,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    more_url: str = "",
    more_label: str = "",
    empty: str = "None.",
    summary: str = "",
    order: int = 100,
) -> PagePanel:
    return PagePanel(
        id=id,
        title=title,
        template="admin/panels/table.html",
        order=order,
        context={
            "columns": columns,
            "rows": [list(zip(row, (c.css for c in columns), strict=True)) for row in rows],
            "more_url": more_url,
            "more_label": more_label,
            "empty": empty,
            "summary": summary,
        },
    )


def when(moment) -> str:
    """A time as the console writes it: to the second, with the time zone."""
    if moment is None:
        return ""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


@dataclass(frozen=True)
class Figure:
    """One number of the overview, and the list it counts."""

    id: str
    value: str
    caption: str
    href: str = ""
    bad: bool = False


def overview_panel(
    *,
    id: str,
    title: str,
    figures: Sequence[Figure] = (),
    html: str = "",
    note: str = "",
    order: int = 100,
) -> PagePanel:
    return PagePanel(
        id=id,
        title=title,
        template="admin/overview/section.html",
        order=order,
        context={"figures": figures, "html": html, "note": note},
    )
