"""Small inline SVG charts: the share of ratings in each band, overall and per group.

Every text starts where it is placed (no ``text-anchor``): weasyprint draws an anchored text as
a form XObject of its own, which made these charts two fifths of a questionnaire's bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from delphi.core.feedback import ChartRow
from delphi.i18n import Language

# Dark red, light grey, dark blue: apart in hue on screen and in lightness when printed grey.
PALETTE = ["#b2182b", "#c8c8c8", "#2166ac", "#5aae61", "#762a83", "#e08214"]
ROW_HEIGHT, LABEL_WIDTH, BAR_WIDTH = 11, 46, 120


def chart_labels(groups: Mapping[str, str], language: Language) -> dict[str | None, str]:
    """Row labels of the charts: the whole panel (``None``) and each group's short label."""
    labels: dict[str | None, str] = {None: language._("All")}
    labels.update(groups)
    return labels


def band_chart(rows: Sequence[ChartRow], title: str, labels: Mapping[str | None, str],
               language: Language) -> Markup:
    """A stacked bar per row; each bar splits 100 % of that row's ratings by band.

    ``labels`` names the rows (see :func:`chart_labels`); shares are written the language's way.
    """
    no_ratings = escape(language._("no ratings"))
    height = ROW_HEIGHT * len(rows) + 2
    width = LABEL_WIDTH + BAR_WIDTH + 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    for r, row in enumerate(rows):
        y = 1 + r * ROW_HEIGHT
        parts.append(f'<text x="1" y="{y + 8}" font-size="7" '
                     f'fill="#222">{escape(labels[row.group])}</text>')
        if row.n == 0:
            parts.append(f'<text x="{LABEL_WIDTH + 2}" y="{y + 8}" font-size="6.5" '
                         f'fill="#555">{no_ratings}</text>')
            continue
        x = float(LABEL_WIDTH)
        for b, share in enumerate(row.shares):
            w = share.share * BAR_WIDTH
            if w <= 0:
                continue
            colour = PALETTE[b % len(PALETTE)]
            parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{ROW_HEIGHT - 2}" '
                         f'fill="{colour}"/>')
            if share.share >= 0.14:
                ink = "#000" if colour == "#c8c8c8" else "#fff"
                parts.append(f'<text x="{x + 1.5:.2f}" y="{y + 7}" font-size="6" '
                             f'fill="{ink}">{escape(language.percent(share.share))}</text>')
            x += w
    parts.append("</svg>")
    return Markup("".join(parts))
