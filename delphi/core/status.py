"""Round status: who was invited, who returned, who is outstanding, and attrition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from delphi.core.models import Manifest, PanelReturn, Roster, Settings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Counts(_Frozen):
    """Invited, returned and outstanding counts, and the response rate."""

    invited: int
    returned: int
    outstanding: int
    rate: float | None


class Outstanding(_Frozen):
    """A panellist with no return yet; the name is shown only on request."""

    code: str
    group: str
    delivery: str
    name: str


class Attrition(_Frozen):
    """Between two consecutive rounds: who stayed, who was lost, who came back."""

    round: int
    returned_previous: int
    returned_both: int
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
    rounds: dict[int, Counts]
    attrition: list[Attrition]

    def to_json(self, names: bool = False) -> dict[str, Any]:
        """Plain JSON; names of outstanding panellists only when asked for."""
        data = self.model_dump(mode="json")
        data["rounds"] = {str(k): v for k, v in data["rounds"].items()}
        if not names:
            for entry in data["outstanding"]:
                entry.pop("name")
        return data


def _counts(invited: Sequence[str], returned: set[str]) -> Counts:
    got = sum(1 for c in invited if c in returned)
    return Counts(invited=len(invited), returned=got, outstanding=len(invited) - got,
                  rate=got / len(invited) if invited else None)


def round_status(settings: Settings, roster: Roster, manifests: Mapping[int, Manifest],
                 returns: Mapping[int, Sequence[PanelReturn]], round_no: int) -> RoundStatus:
    """Status of ``round_no``, with response counts and attrition across all rounds given."""
    people = roster.by_code()
    returned = {r: {ret.code for ret in rets} for r, rets in returns.items()}
    manifest = manifests[round_no]
    done = returned.get(round_no, set())
    invited = manifest.invited
    groups = {g: _counts([c for c in invited if people[c].group == g], done)
              for g in settings.group_ids}
    outstanding = [Outstanding(code=c, group=people[c].group, delivery=people[c].delivery,
                               name=people[c].name) for c in invited if c not in done]
    per_round = {r: _counts(m.invited, returned.get(r, set()))
                 for r, m in sorted(manifests.items())}
    attrition = []
    for r in sorted(manifests):
        if r - 1 in manifests:
            before, now = returned.get(r - 1, set()), returned.get(r, set())
            attrition.append(Attrition(
                round=r, returned_previous=len(before), returned_both=len(before & now),
                lost=len(before - now), rejoined=len(now - before)))
    return RoundStatus(study=manifest.study, round=round_no,
                       labels={g.id: g.label for g in settings.groups},
                       overall=_counts(invited, done),
                       groups=groups, outstanding=outstanding, rounds=per_round,
                       attrition=attrition)
