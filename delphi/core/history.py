"""Results across rounds: when each item first reached consensus; each ranking's latest.

The next round's plan, the questionnaire's "agreed in earlier rounds" list and the report all
ask these questions; they get one answer here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:  # annotations only: the terminal's views need no analysis to show a status
    from delphi.core.analysis import ItemResult, RoundResult


class _Ranked(Protocol):
    @property
    def rank(self) -> int | None: ...


R = TypeVar("R", bound=_Ranked)


def in_rank_order(items: Iterable[R]) -> list[R]:
    """Ranked entries by rank (ties in their given order), then those without a rank."""
    return sorted(items, key=lambda i: (i.rank is None, i.rank or 0))


@dataclass(frozen=True)
class Reached:
    """An item in the round it first reached consensus, and the band it reached."""

    round: int
    item: ItemResult
    band: str


def first_consensus(results: Sequence[RoundResult], group: str | None = None,
                    stable: bool = False) -> list[Reached]:
    """Rating and choice entries in the first round they reached consensus.

    In round and item order; a statement with dimensions has one entry per dimension
    (``item.key``).

    ``group``: consensus within that stakeholder group instead of the whole panel.
    ``stable``: a rating's consensus counts only in a round where its ratings were also
    stable since the round before (``stability: required`` in study.yaml); a choice has no
    stability, so its consensus counts as it is.
    """
    seen: dict[str, Reached] = {}
    for result in sorted(results, key=lambda r: r.round):
        for item in result.items:
            stats = item if group is None else item.groups.get(group)
            if not item.judged or item.key in seen or stats is None or not stats.consensus:
                continue
            if stable and item.kind == "rating" and not (
                    item.stability is not None and item.stability.stable):
                continue
            seen[item.key] = Reached(result.round, item, stats.consensus)
    return list(seen.values())


def latest_rankings(results: Sequence[RoundResult]) -> list[tuple[int, list[ItemResult]]]:
    """Each ranking section's last round and its options in rank order.

    Sections come in the order they were first asked.
    """
    latest: dict[str, tuple[int, list[ItemResult]]] = {}
    for result in sorted(results, key=lambda r: r.round):
        sections: dict[str, list[ItemResult]] = {}
        for item in result.items:
            if item.kind == "ranking":
                sections.setdefault(item.section, []).append(item)
        for section, items in sections.items():
            latest[section] = (result.round, in_rank_order(items))
    return list(latest.values())
