"""Charts drawn on the server as SVG: no script, no third party, nothing for the CSP to allow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def column_chart(
    points: Sequence[tuple[str, Decimal]],
    *,
    title: str,
    label: Callable[[Decimal], str],
    href: Callable[[int], str] | None = None,
    height: int = 140,
    bar_width: int = 18,
    gap: int = 4,
) -> SafeString:
    """Columns, one per point (`(axis label, value)`), each with its value as a tooltip and,
    with `href`, a link (to the list behind it). The first, middle and last axis labels are
    written under the chart; the highest value above it."""
    top = max((value for _, value in points), default=Decimal(0))
    plot = height - 20
    width = len(points) * (bar_width + gap)
    parts = [
        format_html(
            '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" '
            'height="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>',
            title, width, height + 16, width, height + 16, title,
        ),
        format_html('<text x="0" y="10" class="chart-max">{}</text>', label(top)),
    ]  # fmt: skip
    for index, (axis, value) in enumerate(points):
        bar = 0 if top <= 0 else int(plot * value / top)
        x = index * (bar_width + gap)
        rect = format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" class="chart-bar"><title>{}: {}</title>'
            "</rect>",
            x, height - max(bar, 1), bar_width, max(bar, 1), axis, label(value),
        )  # fmt: skip
        if href is not None:
            rect = format_html('<a href="{}">{}</a>', href(index), rect)
        parts.append(rect)
        if index in (0, len(points) // 2, len(points) - 1):
            parts.append(
                format_html(
                    '<text x="{}" y="{}" class="chart-axis">{}</text>', x, height + 14, axis
                )
            )
    parts.append(mark_safe("</svg>"))  # noqa: S308 - a literal closing tag
    return mark_safe("".join(str(part) for part in parts))  # noqa: S308 - parts are escaped


def bar_rows(
    rows: Sequence[tuple[str, Decimal | int, str]], *, value_label: Callable[[object], str]
) -> SafeString:
    """Horizontal bars as a table: (label, value, link) per row, the longest bar the highest."""
    top = max((value for _, value, _ in rows), default=0)
    html = ['<table class="bars">']
    for label, value, link in rows:
        share = 0 if not top else int(100 * value / top)
        html.append(
            format_html(
                '<tr><td class="bar-label"><a href="{}">{}</a></td><td class="bar-cell">'
                '<span class="meter"><span style="width: {}%"></span></span></td>'
                '<td class="money">{}</td></tr>',
                link, label, share, value_label(value),
            )
        )  # fmt: skip
    if not rows:
        html.append("<tr><td>Nothing yet.</td></tr>")
    html.append("</table>")
    return mark_safe("".join(html))  # noqa: S308 - every row is escaped by format_html


__all__ = ["bar_rows", "column_chart"]
