"""Round status: who was invited, who returned, who withdrew, who is outstanding, and attrition.

A panellist who withdrew (``withdrawn:`` in the roster) without returning a round is counted
as withdrawn in that round, apart from the non-responders; a return they gave counts as a
return. Between rounds, those who returned the previous round and then withdrew are counted
as withdrawn, not as lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Manifest, PanelReturn, Roster, Settings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Counts(_Frozen):
    """Invited, returned, withdrawn (without a return) and outstanding, and the response rate.

    ``invited = returned + withdrawn + outstanding``; the rate is ``returned / invited``.
    """

    invited: int
    returned: int
    withdrawn: int
    outstanding: int
    rate: float | None


class Outstanding(_Frozen):
    """A panellist with no return yet; the name is shown only on request."""

    code: str
    group: str
    delivery: str
    name: str


class Withdrawn(_Frozen):
    """A panellist who withdrew by this round; the reason is shown only on request."""

    code: str
    group: str
    date: str
    round: int | None
    reason: str | None


class Attrition(_Frozen):
    """Between two consecutive rounds: who stayed, who withdrew, who was lost, who came back.

    Of those who returned the previous round, ``returned_both`` returned this one too,
    ``withdrawn`` withdrew without returning it and ``lost`` did not answer.
    """

    round: int
    returned_previous: int
    returned_both: int
    withdrawn: int
    lost: int
    rejoined: int


class RoundStatus(_Frozen):
    """Everything ``delphi status`` reports for one round."""

    study: str
    round: int
    labels: dict[str, str]
    overall: Counts
    groups: dict[str, Counts]
    outstanding: list[Outstanding]
    withdrawn: list[Withdrawn]
    rounds: dict[int, Counts]
    attrition: list[Attrition]

    def to_json(self, names: bool = False) -> dict[str, Any]:
        """Plain JSON; outstanding panellists' names and withdrawal reasons only if asked."""
        data = self.model_dump(mode="json")
        data["rounds"] = {str(k): v for k, v in data["rounds"].items()}
        if not names:
            for entry in data["outstanding"]:
                entry.pop("name")
            for entry in data["withdrawn"]:
                entry.pop("reason")
        return data


def _counts(invited: Sequence[str], returned: set[str], gone: set[str]) -> Counts:
    got = sum(1 for c in invited if c in returned)
    left = sum(1 for c in invited if c in gone and c not in returned)
    return Counts(invited=len(invited), returned=got, withdrawn=left,
                  outstanding=len(invited) - got - left,
                  rate=got / len(invited) if invited else None)


def withdrawn_by(roster: Roster, round_no: int) -> set[str]:
    """Codes of the panellists who had withdrawn by ``round_no`` (in it or before)."""
    return {p.code for p in roster.panellists if p.withdrawn_by(round_no)}


def round_status(settings: Settings, roster: Roster, manifests: Mapping[int, Manifest],
                 returns: Mapping[int, Sequence[PanelReturn]], round_no: int) -> RoundStatus:
    """Status of ``round_no``, with response counts and attrition across all rounds given."""
    people = roster.by_code()
    returned = {r: {ret.code for ret in rets} for r, rets in returns.items()}
    manifest = manifests[round_no]
    done = returned.get(round_no, set())
    gone = withdrawn_by(roster, round_no)
    invited = manifest.invited
    groups = {g: _counts([c for c in invited if people[c].group == g], done, gone)
              for g in settings.group_ids}
    outstanding = [Outstanding(code=c, group=people[c].group, delivery=people[c].delivery,
                               name=people[c].name)
                   for c in invited if c not in done and c not in gone]
    withdrawn = [Withdrawn(code=p.code, group=p.group, date=p.withdrawn.date.isoformat(),
                           round=p.withdrawn.round, reason=p.withdrawn.reason)
                 for p in roster.panellists if p.withdrawn is not None and p.code in gone]
    gone_by = {r: withdrawn_by(roster, r) for r in manifests}
    per_round = {r: _counts(m.invited, returned.get(r, set()), gone_by[r])
                 for r, m in sorted(manifests.items())}
    attrition = []
    for r in sorted(manifests):
        if r - 1 in manifests:
            before, now = returned.get(r - 1, set()), returned.get(r, set())
            left = (before - now) & gone_by[r]
            attrition.append(Attrition(
                round=r, returned_previous=len(before), returned_both=len(before & now),
                withdrawn=len(left), lost=len(before - now - left),
                rejoined=len(now - before)))
    return RoundStatus(study=manifest.study, round=round_no,
                       labels={g.id: g.label for g in settings.groups},
                       overall=_counts(invited, done, gone),
                       groups=groups, outstanding=outstanding, withdrawn=withdrawn,
                       rounds=per_round, attrition=attrition)
