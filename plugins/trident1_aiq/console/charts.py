"""Inline SVG charts rendered on the server: no JavaScript, no CDN (the machine may be offline).

Every text that comes from data goes through ``markupsafe.escape``; links are built with
``urlencode``. The result is ``Markup`` so that Jinja inserts it as it is.
"""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup, escape

from trident1_aiq.console.data import DayCell

COLORS = {"sales": "#2b6cb0", "held": "#d69e2e", "quarantined": "#c53030", "refunds": "#1a202c",
          "missing": "#cbd5e0", "failed": "#c53030"}


def _scale_max(cells: list[DayCell]) -> int:
    top = max((c.sales + c.still_held + c.quarantined for c in cells), default=0)
    top = max(top, max((c.refunds for c in cells), default=0))
    return max(top, 1)


def day_bars(cells: list[DayCell], credential: str, location_id: str, *, width: int = 1000, height: int = 90,
             link: str = "quarantine") -> Markup:
    """One location's last days as stacked bars: sales loaded, records still held, records rejected;
    refunds as a dark tick. A day no run covered is a grey hatched column marked "no run" — missing,
    not zero — and a day whose runs all failed has a red outline. Each bar links to the day's
    quarantine."""
    left, bottom, top_pad = 34, 18, 6
    plot_h = height - bottom - top_pad
    slot = (width - left) / max(len(cells), 1)
    bar_w = max(slot - 3, 2)
    peak = _scale_max(cells)
    out = [f'<svg class="bars" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<title>{escape(credential)} {escape(location_id)}: the last {len(cells)} days</title>',
           '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="#edf2f7"/>'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="{COLORS["missing"]}" stroke-width="3"/></pattern></defs>',
           f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width}" y2="{top_pad + plot_h}" stroke="#a0aec0"/>',
           f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" class="axis">{peak}</text>',
           f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" class="axis">0</text>']
    for i, c in enumerate(cells):
        x = left + i * slot + 1.5
        query = urlencode({"credential": credential, "location": location_id, "day": c.day.isoformat()})
        figures = f"{c.sales} sales loaded, {c.still_held} held, {c.quarantined} rejected, {c.refunds} refunds"
        if c.state == "missing":  # records may still have arrived through a later run's look-back
            label = f"{c.day.isoformat()}: no run covered this day" + (
                f"; {figures} (through later runs' look-back)" if c.sales or c.still_held or c.quarantined else "")
        else:
            label = f"{c.day.isoformat()}: {figures}" + (" (the run failed)" if c.state == "failed" else "")
        out.append(f'<a href="{escape(link)}?{escape(query)}" data-day="{c.day.isoformat()}" '
                   f'data-state="{c.state}" data-sales="{c.sales}" data-held="{c.still_held}">'
                   f'<title>{escape(label)}</title>')
        if c.state == "missing" and not (c.sales or c.still_held or c.quarantined):
            out.append(f'<rect x="{x:.1f}" y="{top_pad}" width="{bar_w:.1f}" height="{plot_h}" fill="url(#hatch)"/>')
        else:
            y = top_pad + plot_h
            for value, color in ((c.sales, COLORS["sales"]), (c.still_held, COLORS["held"]),
                                 (c.quarantined, COLORS["quarantined"])):
                if value:
                    h = value / peak * plot_h
                    y -= h
                    out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}"/>')
            if c.refunds:
                ry = top_pad + plot_h - c.refunds / peak * plot_h
                out.append(f'<rect x="{x:.1f}" y="{ry - 1:.1f}" width="{bar_w:.1f}" height="2" '
                           f'fill="{COLORS["refunds"]}"/>')
            if c.state == "failed":
                out.append(f'<rect x="{x:.1f}" y="{top_pad}" width="{bar_w:.1f}" height="{plot_h}" fill="none" '
                           f'stroke="{COLORS["failed"]}" stroke-dasharray="3 2"/>')
            elif c.state == "missing":  # data arrived (through a later run's look-back) but no run covered it
                out.append(f'<rect x="{x:.1f}" y="{top_pad}" width="{bar_w:.1f}" height="{plot_h}" '
                           f'fill="url(#hatch)" fill-opacity="0.5"/>')
        out.append('</a>')
        if i % 7 == len(cells) % 7 or i == len(cells) - 1:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="axis">'
                       f'{c.day.strftime("%m-%d")}</text>')
    out.append('</svg>')
    return Markup("".join(out))


def legend() -> Markup:
    items = [("sales", "sales loaded"), ("held", "held for a mapping"), ("quarantined", "rejected (quarantine)"),
             ("refunds", "refunds (tick)")]
    parts = [f'<span class="key"><i style="background:{COLORS[k]}"></i>{escape(v)}</span>' for k, v in items]
    parts.append('<span class="key"><i class="hatched"></i>no run covered the day</span>')
    parts.append(f'<span class="key"><i style="border:1px dashed {COLORS["failed"]}"></i>the day\'s runs failed</span>')
    return Markup("".join(parts))
