"""Round analysis: the example replays the reference study; random rounds match numpy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delphi import actions
from delphi.core.analysis import analyse_round
from delphi.core.models import (
    Band,
    Group,
    Manifest,
    ManifestItem,
    ManifestSection,
    Panellist,
    PanelReturn,
    Roster,
    Settings,
)
from tests.conftest import ROOT

TABLE_17_R1 = {"1.10", "2.3", "2.5", "2.7", "2.8", "2.9", "2.11", "2.13", "2.18", "3.6"}


@pytest.fixture(scope="module")
def example() -> actions.Analysis:
    return actions.analyse(ROOT, round=1, write=False)


def test_example_response_counts(example: actions.Analysis) -> None:
    r = example.result.response
    assert (r.invited, r.returned) == (99, 88)
    assert {g: (x.invited, x.returned) for g, x in r.groups.items()} == {
        "expert": (31, 27), "provider": (34, 33), "user": (34, 28)}


def test_example_round_1_consensus_is_table_17_r1(example: actions.Analysis) -> None:
    reached = {i.id for i in example.result.items if i.consensus and i.kind == "rating"}
    assert reached == TABLE_17_R1
    assert example.result.summary_line(["disagree", "neutral", "agree"]) == (
        "10 of 49 items reached consensus: 10 agree")


def test_example_ranking_matches_table_18(example: actions.Analysis) -> None:
    by_id = {i.id: i for i in example.result.items}
    stigma, psych, inpatient = by_id["5.11"], by_id["5.2"], by_id["5.3"]
    assert (stigma.rank, psych.rank, inpatient.rank) == (1, 1, 11)
    assert [stigma.groups[g].median for g in ("expert", "provider", "user")] == [7.0, 8.0, 9.0]
    assert stigma.median == 8.0
    assert stigma.mean == pytest.approx(7.4, abs=0.05)
    assert by_id["5.5"].groups["user"].median == 7.5


def test_results_json_is_the_contract_object(tmp_path: Path, example: actions.Analysis) -> None:
    data = example.result.to_json()
    assert list(data)[:5] == ["study", "round", "response", "items", "quartiles"]
    item = data["items"][0]
    for key in ("id", "section", "kind", "n", "median", "q1", "q3", "iqr", "mean", "bands",
                "consensus", "groups", "divergent", "rank"):
        assert key in item
    assert set(item["groups"]) == {"expert", "provider", "user"}
    assert set(item["bands"]) == {"disagree", "neutral", "agree"}
    assert json.loads(json.dumps(data)) == data  # plain JSON, nothing exotic


# ---------------------------------------------------------------- random rounds vs numpy

SETTINGS = Settings(
    title="Random", bands=[Band(name="low", min=1, max=3), Band(name="mid", min=4, max=6),
                           Band(name="high", min=7, max=9)],
    groups=[Group(id="a", label="A"), Group(id="b", label="B"), Group(id="c", label="C")])


def _manifest(n_items: int, codes: list[str]) -> Manifest:
    sections = [ManifestSection(id="s", title="S")]
    items = [ManifestItem(id=f"i{k}", section="s", kind="rating", text=f"Item {k}",
                          hash=ManifestItem.hash_of(f"i{k}", "s", "rating", f"Item {k}"))
             for k in range(n_items)]
    return Manifest(study="Random", round=1, sections=sections, items=items, invited=codes,
                    hash=Manifest.hash_of("Random", 1, sections, items, codes))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_people=st.integers(1, 40), n_items=st.integers(1, 6),
       missing=st.floats(0, 0.9), method=st.sampled_from(["linear", "spss"]),
       group_c_empty=st.booleans())
def test_random_round_matches_numpy(seed: int, n_people: int, n_items: int, missing: float,
                                    method: str, group_c_empty: bool) -> None:
    rng = random.Random(seed)
    groups = ["a", "b"] if group_c_empty else ["a", "b", "c"]
    people = [Panellist(code=f"P{k}", name="X", email="x@example.org",
                        group=rng.choice(groups)) for k in range(n_people)]
    roster = Roster(panellists=people)
    manifest = _manifest(n_items, [p.code for p in people])
    returns = [PanelReturn(code=p.code, ratings={
        f"i{k}": (None if rng.random() < missing else rng.randint(1, 9)) for k in range(n_items)})
        for p in people if rng.random() < 0.85]
    settings_ = SETTINGS.model_copy(update={"quartiles": method})
    result = analyse_round(settings_, manifest, roster, returns)
    group_of = {p.code: p.group for p in people}
    np_method = {"linear": "linear", "spss": "weibull"}[method]

    assert result.response.returned == len(returns)
    for item in result.items:
        for group in [None, "a", "b", "c"]:
            values = [r.ratings[item.id] for r in returns if r.ratings[item.id] is not None
                      and (group is None or group_of[r.code] == group)]
            stats = item if group is None else item.groups[group]
            assert stats.n == len(values)
            if not values:
                assert stats.median is None and stats.consensus is None
                continue
            q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75], method=np_method)
            assert (stats.q1, stats.median, stats.q3) == pytest.approx((q1, med, q3))
            assert stats.mean == pytest.approx(np.mean(values))
        medians = [item.groups[g].median for g in "abc" if item.groups[g].median is not None]
        assert item.divergent == (len(medians) > 1 and max(medians) - min(medians) >= 2)
