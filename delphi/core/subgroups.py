"""Subgroup differences by roster attributes, as in section 6.2 of the reference study.

Fisher's exact test with a false-discovery-rate correction (Benjamini-Hochberg).

For each rating item, attribute value and end band (agree / disagree: the highest and lowest
bands), the panellists of the subgroup are compared with the rest of those who rated the item.
A multi-valued attribute counts a panellist in each of its values. Only panellists who have the
attribute take part in its comparisons ("overall" means all of them). Subgroups smaller than
``min_size`` are not tested and not reported, to protect anonymity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Band, Panellist


class Finding(BaseModel):
    """One subgroup against the rest on one item and band."""

    model_config = ConfigDict(frozen=True)

    item: str
    text: str
    round: int
    attribute: str
    value: str
    band: str
    subgroup_n: int
    subgroup_share: float
    rest_n: int
    rest_share: float
    overall_share: float
    p: float
    q: float = 1.0


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of Fisher's exact test of the table [[a, b], [c, d]].

    It sums the tables no more likely than the one observed, as R and scipy do.
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    low, high = max(0, col1 - (n - row1)), min(row1, col1)

    def log_p(x: int) -> float:
        return _log_comb(col1, x) + _log_comb(n - col1, row1 - x) - _log_comb(n, row1)

    observed = log_p(a)
    total = sum(math.exp(log_p(x)) for x in range(low, high + 1)
                if log_p(x) <= observed + 1e-7)
    return min(1.0, total)


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q), in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = running
    return q


def subgroup_findings(items: Sequence[tuple[str, str, int, Mapping[str, int]]],
                      panel: Sequence[Panellist], attributes: Sequence[str],
                      bands: Sequence[Band], min_size: int = 5,
                      adjust: bool = True) -> list[Finding]:
    """Every test of every subgroup (with q filled in over all of them), smallest p first.

    ``items`` are (item id, text, round, {code: rating}) for the ratings to compare.
    ``adjust=False`` leaves q for :func:`adjusted` to fill in over the findings of several
    calls (items on scales with different bands).
    """
    people = {p.code: p for p in panel}
    findings: list[Finding] = []
    for item_id, text, round_no, ratings in items:
        raters = [c for c in ratings if c in people]
        if not raters:
            continue
        for attribute in attributes:
            # compare among those who have the attribute at all (service users may have no
            # background), so a subgroup is not confounded with the stakeholder groups
            stated = [c for c in raters if people[c].attribute_values(attribute)]
            values = sorted({v for c in stated for v in people[c].attribute_values(attribute)})
            for value in values:
                inside = [c for c in stated if value in people[c].attribute_values(attribute)]
                outside = [c for c in stated if c not in inside]
                if len(inside) < min_size or not outside:
                    continue
                for band in (bands[-1], bands[0]):
                    a = sum(1 for c in inside if ratings[c] in band)
                    c_ = sum(1 for c in outside if ratings[c] in band)
                    findings.append(Finding(
                        item=item_id, text=text, round=round_no, attribute=attribute,
                        value=value, band=band.name, subgroup_n=len(inside),
                        subgroup_share=a / len(inside), rest_n=len(outside),
                        rest_share=c_ / len(outside),
                        overall_share=(a + c_) / len(stated),
                        p=fisher_exact(a, len(inside) - a, c_, len(outside) - c_)))
    return adjusted(findings) if adjust else findings


def adjusted(findings: Sequence[Finding]) -> list[Finding]:
    """The findings with q filled in over all of them, smallest p first."""
    qs = benjamini_hochberg([f.p for f in findings])
    out = [f.model_copy(update={"q": q}) for f, q in zip(findings, qs, strict=True)]
    return sorted(out, key=lambda f: (f.p, f.item, f.attribute, f.value))
