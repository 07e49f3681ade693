"""Property tests: random studies mixing every kind of question, checked against numpy.

Each study has a 1-9 rating section, a 1-7 section whose "unsure" answer counts in the
denominator and in a band, a section whose "unsure" answer is left out, a section rated on two
dimensions (one on its own 1-5 scale), a choice, an open question and a ranking; panellists
leave answers out at random, one stakeholder group never answers, and the threshold is strict
or not. The returns also go through the canonical CSV and back, so the readers see the same
random answers.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from delphi.core.analysis import analyse_round
from delphi.core.answers import Question, questions
from delphi.core.models import ItemBank, PanelReturn, Roster, Settings
from delphi.core.rounds import build_manifest
from delphi.store.returns_csv import ReturnsReader, returns_csv_text

BANK = {"sections": [
    {"id": "plain", "title": "Plain 1-9", "items": [{"id": "1", "text": "One"}]},
    {"id": "counted", "title": "Unsure counted", "scale": {"min": 1, "max": 7},
     "bands": [{"name": "low", "min": 1, "max": 3}, {"name": "mid", "min": 4, "max": 4},
               {"name": "high", "min": 5, "max": 7}],
     "unsure": {"code": "X", "label": "Don't know", "in_denominator": True, "band": "low"},
     "items": [{"id": "2", "text": "Two"}]},
    {"id": "apart", "title": "Unsure left out",
     "unsure": {"code": "U", "label": "Unable to score"},
     "items": [{"id": "3", "text": "Three"}]},
    {"id": "dims", "title": "Two dimensions", "dimensions": [
        {"id": "imp", "label": "Importance"},
        {"id": "fea", "label": "Feasibility", "scale": {"min": 1, "max": 5},
         "bands": [{"name": "no", "min": 1, "max": 2}, {"name": "yes", "min": 3, "max": 5}],
         "unsure": {"code": "?", "label": "Cannot say", "in_denominator": True}}],
     "items": [{"id": "4", "text": "Four"}]},
    {"id": "vote", "title": "Vote", "kind": "choice",
     "options": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}, {"id": "c", "label": "C"}],
     "items": [{"id": "5", "text": "Five"}]},
    {"id": "ideas", "title": "Ideas", "kind": "open", "items": [{"id": "6", "text": "Six"}]},
    {"id": "rank", "title": "Ranking", "kind": "ranking", "items": [{"id": "7", "text": "Seven"}]},
]}
GROUPS = ["g1", "g2", "empty"]


def study(threshold: float, strict: bool) -> Settings:
    return Settings.model_validate({
        "title": "Random", "scale": {"min": 1, "max": 9},
        "bands": [{"name": "disagree", "min": 1, "max": 3}, {"name": "neutral", "min": 4, "max": 6},
                  {"name": "agree", "min": 7, "max": 9}],
        "consensus": {"threshold": threshold, "strict": strict},
        "groups": [{"id": g, "label": g} for g in GROUPS]})


def answer(question: Question) -> st.SearchStrategy[Any]:
    """None (no answer), a rating, "unsure", an option id or a text, as the question allows."""
    if question.kind == "open":
        text = st.text(st.sampled_from("ab =+-@'\",;é\n"), min_size=1, max_size=8)
        return st.one_of(st.none(), text.map(str.strip).filter(bool))  # the reader strips
    if question.kind == "choice":
        return st.one_of(st.none(), st.sampled_from(question.option_ids()))
    assert question.rating is not None
    scale = question.rating.scale
    values: st.SearchStrategy[Any] = st.integers(scale.min, scale.max)
    if question.rating.unsure is not None:
        values = st.one_of(values, st.just("unsure"))
    return st.one_of(st.none(), values)


@st.composite
def random_round(draw: st.DrawFn) -> tuple[Settings, Any, Roster, list[PanelReturn]]:
    settings = study(draw(st.sampled_from([0.6, 0.75, 0.8, 2 / 3])), draw(st.booleans()))
    people = [(f"P{i:02d}", draw(st.sampled_from(GROUPS[:2])))
              for i in range(draw(st.integers(0, 14)))]
    people.append(("Z99", "empty"))  # invited, never answers
    roster = Roster.model_validate({"panellists": [
        {"code": c, "name": c, "email": f"{c.lower()}@example.org", "group": g}
        for c, g in people]})
    manifest = build_manifest(settings, ItemBank.model_validate(BANK), roster, 1)
    asked = questions(settings, manifest)
    returns = []
    for code, _ in people[:-1]:
        if not draw(st.booleans()) and draw(st.booleans()):
            continue  # about a quarter return nothing
        given = {q.key: draw(answer(q)) for q in asked}
        returns.append(PanelReturn(
            code=code,
            ratings={k: v for k, v in given.items() if isinstance(v, int)},
            unsure=[k for k, v in given.items() if v == "unsure"],
            choices={q.key: given[q.key] for q in asked
                     if q.kind == "choice" and given[q.key] is not None},
            texts={q.key: given[q.key] for q in asked
                   if q.kind == "open" and given[q.key] is not None}))
    return settings, manifest, roster, returns


def holds(count: int, denominator: int, threshold: float, strict: bool) -> bool:
    share, bound = Fraction(count, denominator), Fraction(str(threshold))
    return share > bound if strict else share >= bound


def expected_rating(question: Question, rets: list[PanelReturn], settings: Settings
                    ) -> dict[str, Any]:
    """What the numpy oracle says of one rating question over some returns."""
    spec = question.rating
    assert spec is not None
    values = np.array([r.ratings[question.key] for r in rets
                       if r.ratings.get(question.key) is not None], dtype=float)
    unsure = sum(1 for r in rets if question.key in r.unsure)
    counted = unsure if spec.unsure is not None and spec.unsure.in_denominator else 0
    denominator = len(values) + counted
    out: dict[str, Any] = {"n": len(values), "unsure": unsure, "denominator": denominator}
    if len(values):
        q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="linear")
        out.update(median=median, q1=q1, q3=q3, mean=float(np.mean(values)))
    else:
        out.update(median=None, q1=None, q3=None, mean=None)
    counts = {b.name: int(np.sum((values >= b.min) & (values <= b.max)))
              + (counted if spec.unsure and spec.unsure.band == b.name else 0)
              for b in spec.bands}
    out["bands"] = {b: (c / denominator if denominator else None) for b, c in counts.items()}
    rule = settings.consensus
    out["consensus"] = next((b for b, c in counts.items() if denominator
                             and holds(c, denominator, rule.threshold, rule.strict)), None)
    return out


def expected_choice(question: Question, rets: list[PanelReturn], settings: Settings
                    ) -> dict[str, Any]:
    chosen = [r.choices[question.key] for r in rets if question.key in r.choices]
    counts = {o: chosen.count(o) for o in question.option_ids()}
    rule = settings.consensus
    return {"n": len(chosen),
            "options": {o: (c / len(chosen) if chosen else None) for o, c in counts.items()},
            "consensus": next((o for o, c in counts.items() if chosen
                               and holds(c, len(chosen), rule.threshold, rule.strict)), None)}


def check(entry: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, dict):
            assert entry[key].keys() == value.keys()
            for k, v in value.items():
                assert entry[key][k] == (None if v is None else pytest.approx(v)), (key, k)
        elif isinstance(value, float):
            assert entry[key] == pytest.approx(value), key
        else:
            assert entry[key] == value, key


def three_of_four(strict: bool) -> tuple[Settings, Any, Roster, list[PanelReturn]]:
    """A share exactly at the threshold: 3 of 4 (75 %) in every section, strict or not."""
    settings = study(0.75, strict)
    roster = Roster.model_validate({"panellists": [
        {"code": c, "name": c, "email": f"{c.lower()}@example.org", "group": "g1"}
        for c in ("A", "B", "C", "D")]})
    manifest = build_manifest(settings, ItemBank.model_validate(BANK), roster, 1)
    returns = [PanelReturn(code=c, ratings={"1": v, "4/imp": v}, choices={"5": o},
                           unsure=["2"] if c != "D" else [],
                           texts={"6": "idea"})
               for c, v, o in (("A", 8, "a"), ("B", 9, "a"), ("C", 7, "a"), ("D", 2, "b"))]
    returns[3] = returns[3].model_copy(update={"ratings": {"1": 2, "2": 6, "4/imp": 2}})
    return settings, manifest, roster, returns


@settings(max_examples=150, deadline=None)
@given(drawn=random_round())
@example(drawn=three_of_four(strict=False))
@example(drawn=three_of_four(strict=True))
def test_every_entry_matches_numpy(drawn: tuple[Settings, Any, Roster, list[PanelReturn]],
                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    settings, manifest, roster, returns = drawn
    # the canonical CSV and the reader give back exactly these returns
    reader = ReturnsReader(manifest, settings)
    path = tmp_path_factory.mktemp("csv") / "returns.csv"
    path.write_text(returns_csv_text(manifest, returns, settings), encoding="utf-8")
    reader.read(path, "returns.csv", escaped=True)
    assert not reader.problems
    assert [r.answers() for r in reader.returns()] == [r.answers() for r in returns]

    result = analyse_round(settings, manifest, roster, returns).to_json()
    group_of = {p.code: p.group for p in roster.panellists}
    by_key = {(i["id"] + ("/" + i["dimension"] if "dimension" in i else "")): i
              for i in result["items"]}
    for question in questions(settings, manifest):
        entry = by_key[question.key]
        for group in [None, *GROUPS]:
            rets = [r for r in returns if group is None or group_of[r.code] == group]
            got = entry if group is None else entry["groups"][group]
            if question.kind == "open":
                assert got["n"] == sum(1 for r in rets if question.key in r.texts)
            elif question.kind == "choice":
                check(got, expected_choice(question, rets, settings))
            else:
                check(got, expected_rating(question, rets, settings))
        assert entry["groups"]["empty"]["n"] == 0


@pytest.mark.parametrize(("strict", "consensus"), [(False, "agree"), (True, None)])
def test_a_share_exactly_at_the_threshold(strict: bool, consensus: str | None) -> None:
    settings, manifest, roster, returns = three_of_four(strict)
    items = {i.key: i for i in analyse_round(settings, manifest, roster, returns).items}
    assert items["1"].bands["agree"] == 0.75 and items["1"].consensus == consensus
    assert items["4/imp"].consensus == consensus
    assert items["5"].options == {"a": 0.75, "b": 0.25, "c": 0.0}
    assert items["5"].consensus == (None if strict else "a")
    # 3 unsure of 4 answers, counted in 'low': 75 % low
    assert (items["2"].n, items["2"].unsure, items["2"].denominator) == (1, 3, 4)
    assert items["2"].consensus == (None if strict else "low")
