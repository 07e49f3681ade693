"""Generate the example study's invented panel and returns, replaying the reference study.

    python scripts/generate_example.py            # rewrite the files at the repository root
    python scripts/generate_example.py --out DIR  # write them under DIR instead (tests do this)
    python scripts/generate_example.py --check    # fail if the committed files differ

Writes ``panels/panel.yaml`` (99 invented panellists), ``rounds/round-1/questionnaire.yaml``
(the round-1 manifest, built by delphi from ``questionnaires/items.yaml``) and
``rounds/round-1/returns/returns.csv``. Everything is drawn from one seeded random generator,
so the output is the same on every run. After generating, the script analyses the round with
delphi itself and refuses to write anything unless the example replays "Learning the lessons"
(2007): 88 returns (27 / 33 / 28 by group, section 6.1); consensus in round 1 on exactly the
ten statements Table 17 marks R1; ranking medians per group and overall equal to Tables 18 and
19, means within 0.2, and the ranks of Table 18.

Names, e-mail addresses and street addresses are invented (example.org, Exampletown).
Later rounds will extend this script.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from delphi.core.analysis import RoundResult, analyse_round  # noqa: E402
from delphi.core.models import PanelReturn, Roster  # noqa: E402
from delphi.core.rounds import build_manifest, plan_round  # noqa: E402
from delphi.core.stats import round_half_up  # noqa: E402
from delphi.store.returns_csv import returns_csv_text  # noqa: E402
from delphi.store.study import Study, atomic_write, manifest_text  # noqa: E402
from delphi.store.yamlfile import dump_yaml  # noqa: E402

SEED = 2007
GROUP_SIZES = {"expert": 31, "provider": 34, "user": 34}
RESPONDERS_R1 = {"expert": 27, "provider": 33, "user": 28}  # section 6.1
CODE_PREFIX = {"expert": "EA", "provider": "SP", "user": "SU"}

FIRST = ["Alex", "Bea", "Cal", "Dana", "Eli", "Fay", "Gus", "Hana", "Ira", "Jo", "Kit", "Lena",
         "Max", "Nia", "Olu", "Pia", "Quin", "Rae", "Sami", "Tess", "Uma", "Vic", "Wren", "Xan",
         "Yara", "Zed", "Ada", "Bram", "Cleo", "Dev", "Esme", "Finn", "Gwen", "Hal", "Ines"]
LAST = ["Example", "Sample", "Placeholder", "Testwell", "Mockford", "Dummett", "Specimen",
        "Fictional", "Madeup", "Notreal", "Inventor", "Pseudonym", "Anon", "Proxy", "Standin",
        "Templeton", "Prototype", "Mockup", "Draftly", "Sketchley", "Outline", "Trialson"]
STREETS = ["Example Road", "Sample Street", "Specimen Lane", "Placeholder Avenue", "Mock Close"]

BACKGROUNDS = ["psychiatry", "psychology", "psychotherapy", "nursing", "social work",
               "occupational therapy"]
BACKGROUND_WEIGHTS = [23, 14, 6, 9, 2, 2]
APPROACHES = ["psychodynamic", "therapeutic community", "DBT", "CBT", "CAT", "MBT", "eclectic"]
APPROACH_WEIGHTS = [18, 14, 9, 9, 3, 3, 4]

# ---------------------------------------------------------------- round-1 rating targets
# Shares (disagree, neutral, agree) of those who rated the item, overall or per group.
# R1: the ten statements Table 17 marks R1, with per-group exceptions from Appendix 4.
# Shares of items named in sections 6.2 and 7 follow the figures quoted there.
STRONG = (0.04, 0.08, 0.88)
R1: dict[str, dict[str, tuple[float, float, float]]] = {
    "1.10": {"expert": (0.08, 0.30, 0.62)},
    "2.3": {"expert": (0.10, 0.28, 0.62)},
    "2.5": {},
    "2.7": {},
    "2.8": {},
    "2.9": {"user": (0.12, 0.30, 0.58)},
    "2.11": {"expert": (0.12, 0.26, 0.62)},
    "2.13": {"user": (0.14, 0.28, 0.58)},
    "2.18": {},
    "3.6": {},
}
OTHER: dict[str, tuple[float, float, float]] = {
    # later consensus (Table 17, R2 and R3): close but not yet in round 1
    "1.1": (0.66, 0.22, 0.12), "1.12": (0.10, 0.24, 0.66), "1.13": (0.08, 0.30, 0.62),
    "2.4": (0.10, 0.28, 0.62), "2.15": (0.06, 0.24, 0.70), "3.1": (0.08, 0.22, 0.70),
    "3.2": (0.06, 0.24, 0.70), "3.5": (0.10, 0.24, 0.66), "3.8": (0.08, 0.24, 0.68),
    "4.5": (0.16, 0.30, 0.54),
    # quoted in sections 6.2 and 7
    "2.6": (0.36, 0.39, 0.25), "1.8": (0.24, 0.35, 0.41),
    "4.3": (0.13, 0.49, 0.38), "2.16": (0.20, 0.61, 0.19), "3.4": (0.10, 0.24, 0.66),
    "1.7": (0.60, 0.25, 0.15),
    "4.1": (0.10, 0.23, 0.67), "4.2": (0.12, 0.27, 0.61),
}
# Items on which the stakeholder groups differ (sections 6.2 and 7.4): providers mostly
# against in-house 24-hour access while users want it (2.12); providers oppose compulsion
# (1.9, "74.1 %"); service users keen on user-led services (4.6).
DIVERGENT: dict[str, dict[str, tuple[float, float, float]]] = {
    "2.12": {"expert": (0.35, 0.45, 0.20), "provider": (0.67, 0.23, 0.10),
             "user": (0.10, 0.19, 0.71)},
    "1.9": {"expert": (0.45, 0.40, 0.15), "provider": (0.74, 0.20, 0.06),
            "user": (0.45, 0.40, 0.15)},
    "4.6": {"expert": (0.25, 0.55, 0.20), "provider": (0.20, 0.45, 0.35),
            "user": (0.04, 0.22, 0.74)},
}
DEFAULT_SHARES = [(0.30, 0.38, 0.32), (0.22, 0.40, 0.38), (0.40, 0.34, 0.26),
                  (0.15, 0.35, 0.50), (0.45, 0.30, 0.25), (0.12, 0.33, 0.55)]
VALUE_WEIGHTS = {0: ([1, 2, 3], [0.3, 0.35, 0.35]), 1: ([4, 5, 6], [0.3, 0.4, 0.3]),
                 2: ([7, 8, 9], [0.36, 0.36, 0.28])}

# ---------------------------------------------------------------- ranking targets
# (median, mean) per group (expert, provider, user) and overall: Tables 18 and 19.
RANKING: dict[str, tuple[tuple[float, float], ...]] = {
    "5.11": ((7.0, 6.3), (8.0, 7.7), (9.0, 8.0), (8.0, 7.4)),
    "5.2": ((7.0, 6.8), (7.0, 7.2), (8.0, 8.1), (8.0, 7.4)),
    "5.6": ((7.0, 6.9), (7.0, 7.0), (8.0, 7.4), (7.0, 7.1)),
    "5.5": ((7.0, 6.5), (7.0, 7.4), (7.5, 7.4), (7.0, 7.1)),
    "5.10": ((7.0, 6.8), (7.0, 7.3), (6.0, 6.3), (7.0, 6.8)),
    "5.1": ((6.0, 6.4), (7.0, 7.1), (7.0, 6.8), (7.0, 6.8)),
    "5.7": ((7.0, 6.5), (6.0, 6.2), (7.0, 7.1), (7.0, 6.6)),
    "5.9": ((5.0, 5.6), (7.0, 6.1), (7.0, 7.1), (7.0, 6.2)),
    "5.4": ((5.0, 5.4), (7.0, 6.8), (7.0, 6.5), (6.0, 6.3)),
    "5.8": ((4.0, 4.6), (5.0, 5.6), (6.5, 5.7), (5.0, 5.3)),
    "5.3": ((4.0, 4.3), (5.0, 4.8), (5.5, 5.8), (5.0, 5.0)),
    "6.4": ((8.0, 7.5), (8.0, 8.0), (8.0, 7.8), (8.0, 7.8)),
    "6.2": ((7.0, 7.6), (8.0, 8.2), (7.5, 7.5), (8.0, 7.8)),
    "6.5": ((7.0, 7.3), (7.0, 7.4), (8.0, 7.0), (7.0, 7.3)),
    "6.1": ((7.0, 6.7), (7.0, 6.9), (8.0, 7.6), (7.0, 7.0)),
    "6.3": ((7.0, 6.7), (7.0, 6.9), (7.0, 6.8), (7.0, 6.8)),
    "6.6": ((6.0, 6.1), (7.0, 6.6), (7.5, 6.8), (7.0, 6.5)),
}
TABLE_18_RANKS = {"5.11": 1, "5.2": 1, "5.6": 3, "5.5": 3, "5.10": 5, "5.1": 5, "5.7": 7,
                  "5.9": 8, "5.4": 9, "5.8": 10, "5.3": 11}

COMMENTS = [
    "Depends very much on the local context.",
    "The wording is ambiguous: do you mean all services or only dedicated ones?",
    "Agree in principle, but resources rarely allow it.",
    "This should be a minimum standard.",
    "Hard to answer without knowing who would provide it.",
    "Service users I work with feel strongly about this.",
    "I would agree more strongly if the statement said 'some' rather than 'all'.",
    "Not sure this is evidence based.",
]
SUGGESTIONS = [  # eight suggestions, later collated into five round-2 items (section 2.7.1)
    "Ask whether CMHTs should be allowed to refuse people with a PD diagnosis.",
    "Community mental health teams should not have a policy of excluding people with PD.",
    "Something about reducing or stopping psychiatric medication.",
    "Housing and social problems - should these be sorted out before therapy starts?",
    "Should assessments include a home visit?",
    "Employing people with lived experience to deliver services.",
    "Service users as paid staff, not only volunteers.",
    "Whether medication reviews should be part of a dedicated service.",
]


def largest_remainder(shares: Sequence[float], total: int) -> list[int]:
    """Whole counts proportional to ``shares`` that add up to ``total``."""
    raw = [s * total / sum(shares) for s in shares]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def make_roster(rng: random.Random) -> list[dict[str, object]]:
    """99 invented panellists: 31 expert authors, 34 providers, 34 service users."""
    people: list[dict[str, object]] = []
    used_emails: set[str] = set()
    post = set(rng.sample(range(99), 9))
    index = 0
    for group, size in GROUP_SIZES.items():
        for number in range(1, size + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            title = rng.choice(["Dr ", "Prof ", "Dr ", ""]) if group == "expert" else ""
            email = f"{first}.{last}".lower()
            while email in used_emails:
                email += str(rng.randint(0, 9))
            used_emails.add(email)
            person: dict[str, object] = {
                "code": f"{CODE_PREFIX[group]}{number:02d}",
                "name": f"{title}{first} {last}",
                "email": f"{email}@example.org",
                "group": group,
            }
            if group != "user":
                backgrounds = {rng.choices(BACKGROUNDS, BACKGROUND_WEIGHTS)[0]}
                if rng.random() < 0.25:  # e.g. psychiatrist and psychotherapist
                    backgrounds.add("psychotherapy")
                attributes: dict[str, object] = {
                    "background": sorted(backgrounds, key=BACKGROUNDS.index)}
                if rng.random() < 0.92:  # 57 of 62 gave their approach (section 6.1)
                    approaches = {rng.choices(APPROACHES, APPROACH_WEIGHTS)[0]}
                    if rng.random() < 0.2:
                        approaches.add(rng.choices(APPROACHES, APPROACH_WEIGHTS)[0])
                    attributes["approach"] = sorted(approaches, key=APPROACHES.index)
                person["attributes"] = attributes
            if index in post:
                person["delivery"] = "post"
                person["address"] = (f"{rng.randint(1, 120)} {rng.choice(STREETS)}, "
                                     f"Exampletown EX{rng.randint(1, 9)} {rng.randint(1, 9)}"
                                     f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}")
            people.append(person)
            index += 1
    return people


def _ranking_ratings(rng: random.Random, n: int, median: float, mean: float) -> list[int]:
    """``n`` ratings on 1-9 with exactly this median and a mean rounding to ``mean``."""
    lo, hi = int(median // 1), int(-(-median // 1))
    down, up = rng.randint(1, 5), rng.randint(1, 4)  # how far each side spreads, this draw
    below = [max(1, lo - rng.randrange(down)) for _ in range((n - 1) // 2)]
    above = [min(9, hi + rng.randrange(up)) for _ in range((n - 1) // 2)]
    middle = [lo, hi] if n % 2 == 0 else [int(median)]
    # any sum whose mean rounds to the table's figure will do; pick one at random
    target = rng.choice([s for s in range(n, 9 * n + 1)
                         if round_half_up(s / n) == round_half_up(mean)])
    for _ in range(40 * n):  # nudge single ratings, never across the median, to hit the mean
        gap = target - sum(below) - sum(middle) - sum(above)
        if gap == 0:
            break
        side = rng.choice((below, above))
        k = rng.randrange(len(side))
        ceiling, floor = (lo, 1) if side is below else (9, hi)
        if gap > 0 and side[k] < ceiling:
            side[k] += 1
        elif gap < 0 and side[k] > floor:
            side[k] -= 1
    values = below + middle + above
    rng.shuffle(values)
    return values


def _ranking_item(rng: random.Random, sizes: Sequence[int],
                  targets: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Ratings per group whose medians are exact and whose pooled median and mean match too."""
    *groups, overall = targets
    for _ in range(5000):
        drawn = [_ranking_ratings(rng, n, med, mean) for n, (med, mean) in zip(sizes, groups,
                                                                                strict=True)]
        pooled = sorted(v for values in drawn for v in values)
        k = len(pooled)
        pooled_median = (pooled[(k - 1) // 2] + pooled[k // 2]) / 2
        group_ok = all(round_half_up(sum(v) / len(v)) == round_half_up(t[1])
                       for v, t in zip(drawn, groups, strict=True))
        if (group_ok and pooled_median == overall[0]
                and round_half_up(sum(pooled) / k) == round_half_up(overall[1])):
            return drawn
    raise SystemExit(f"no ratings fit {targets}")


def make_returns(rng: random.Random, roster: list[dict[str, object]],
                 rating_items: list[str]) -> dict[str, dict[str, object]]:
    """Round-1 answers of the 88 responders, keyed by code."""
    responders: list[str] = []
    by_group: dict[str, list[str]] = {}
    for person in roster:
        by_group.setdefault(str(person["group"]), []).append(str(person["code"]))
    for group, codes in by_group.items():
        responders += sorted(rng.sample(codes, RESPONDERS_R1[group]))
    answers: dict[str, dict[str, object]] = {c: {"ratings": {}, "comments": {}} for c in responders}
    group_of = {str(p["code"]): str(p["group"]) for p in roster}

    skipper = rng.choice([c for c in responders if group_of[c] == "user"])
    for position, item in enumerate(rating_items):
        for group in GROUP_SIZES:
            if item in DIVERGENT:
                shares = DIVERGENT[item][group]
            elif item in R1:
                shares = R1[item].get(group, STRONG)
            elif item in OTHER:
                shares = OTHER[item]
            else:
                shares = DEFAULT_SHARES[position % len(DEFAULT_SHARES)]
            codes = [c for c in responders if group_of[c] == group]
            codes = [c for c in codes if rng.random() > 0.012
                     and not (c == skipper and item.startswith("3."))]
            rng.shuffle(codes)
            counts = largest_remainder(shares, len(codes))
            start = 0
            for band, count in enumerate(counts):
                values, weights = VALUE_WEIGHTS[band]
                for code in codes[start:start + count]:
                    answers[code]["ratings"][item] = rng.choices(values, weights)[0]  # type: ignore[index]
                start += count

    group_codes = [[c for c in responders if group_of[c] == g] for g in GROUP_SIZES]
    for item, targets in RANKING.items():
        drawn = _ranking_item(rng, [len(codes) for codes in group_codes], targets)
        for codes, values in zip(group_codes, drawn, strict=True):
            for code, value in zip(codes, values, strict=True):
                answers[code]["ratings"][item] = value  # type: ignore[index]

    for code in rng.sample(responders, 14):
        item = rng.choice(rating_items)
        answers[code]["comments"][item] = rng.choice(COMMENTS)  # type: ignore[index]
    for code, text in zip(rng.sample(responders, len(SUGGESTIONS)), SUGGESTIONS, strict=True):
        answers[code]["suggestions"] = text
    return answers


def check(result: RoundResult) -> list[str]:
    """Every way the generated round fails to replay the reference study."""
    failures = []
    response = result.response
    got = {g: r.returned for g, r in response.groups.items()}
    if response.invited != 99 or got != RESPONDERS_R1:
        failures.append(f"response {response.invited} invited, {got} returned")
    reached = {i.id for i in result.items if i.kind == "rating" and i.consensus}
    if reached != set(R1):
        failures.append(f"consensus on {sorted(reached)}, expected {sorted(R1)}")
    if any(i.consensus != "agree" for i in result.items if i.id in R1):
        failures.append("an R1 item reached consensus in a band other than agree")
    divergent = {i.id for i in result.items if i.kind == "rating" and i.divergent}
    if not set(DIVERGENT) <= divergent:
        failures.append(f"groups diverge on {sorted(divergent)}, expected {sorted(DIVERGENT)}")
    for item in result.items:
        if item.id not in RANKING:
            continue
        stats = [*item.groups.values(), item]
        for target, got_stats, who in zip(RANKING[item.id], stats,
                                          [*GROUP_SIZES, "overall"], strict=True):
            if got_stats.median != target[0] or abs((got_stats.mean or 0) - target[1]) > 0.2:
                failures.append(f"{item.id} {who}: median {got_stats.median} mean "
                                f"{got_stats.mean:.2f}, expected {target}")
        if item.id in TABLE_18_RANKS and item.rank != TABLE_18_RANKS[item.id]:
            failures.append(f"{item.id}: rank {item.rank}, Table 18 says "
                            f"{TABLE_18_RANKS[item.id]}")
    return failures


def generate(root: Path = ROOT, out: Path = ROOT) -> dict[Path, str]:
    """The example's generated files (paths under ``out``) and their text, checked."""
    study = Study(root)
    settings, bank = study.settings, study.bank
    for attempt in range(200):
        rng = random.Random(f"{SEED}-{attempt}")
        people = make_roster(random.Random(SEED))
        roster = Roster.model_validate({"panellists": people})
        manifest = build_manifest(settings, bank, roster, 1)
        rating_ids = [i.id for i in manifest.items if i.kind == "rating"]
        answers = make_returns(rng, people, rating_ids)
        returns = [PanelReturn(code=c, ratings=a["ratings"], comments=a["comments"],  # type: ignore[arg-type]
                               suggestions=a.get("suggestions")) for c, a in answers.items()]
        result = analyse_round(settings, manifest, roster, returns)
        failures = check(result)
        if not failures:
            break
    else:
        raise SystemExit("could not replay the reference study:\n  " + "\n  ".join(failures))
    header = ("# The example panel: invented people (example.org), generated by "
              "scripts/generate_example.py.\n")
    return {
        out / "panels" / "panel.yaml": header + dump_yaml({"panellists": people}, flow_leaves=True),
        out / "rounds" / "round-1" / "questionnaire.yaml": manifest_text(manifest),
        out / "rounds" / "round-1" / "returns" / "returns.csv":
            returns_csv_text(manifest, returns, settings),
    }


# ---------------------------------------------------------------- rounds 2 and 3

FULL = ROOT / "examples" / "full-study"
RESPONDERS = {2: {"expert": 26, "provider": 31, "user": 27},  # 84.8 % (section 6.1)
              3: {"expert": 23, "provider": 27, "user": 30}}  # 74.2 / 79.4 / 88.2 %
REACHED = {2: {"1.14": "agree", "2.15": "agree", "3.1": "agree", "3.2": "agree",
               "3.8": "agree"},
           3: {"1.1": "disagree", "1.12": "agree", "1.13": "agree", "2.4": "agree",
               "3.5": "agree", "4.5": "agree"}}  # Table 17, R2 and R3
NEW_ITEMS: dict[str, dict[str, tuple[float, float, float]]] = {
    "2.20": {g: (0.11, 0.49, 0.40) for g in GROUP_SIZES},  # 40 % supported, 49 % neutral
    "2.21": {g: (0.14, 0.47, 0.39) for g in GROUP_SIZES},
    "2.22": {g: (0.34, 0.41, 0.25) for g in GROUP_SIZES},
    "4.9": {"expert": (0.30, 0.40, 0.30), "provider": (0.25, 0.40, 0.35),
            "user": (0.05, 0.15, 0.80)},  # service users only (Appendix 4)
}
CONVERGING = (0.06, 0.26, 0.68)  # a later-round item on its way to consensus
REACHING = {"agree": (0.04, 0.14, 0.82), "disagree": (0.82, 0.14, 0.04)}


def shares_in(round_no: int, item: str, group: str) -> tuple[float, float, float]:
    """Target band shares (disagree, neutral, agree) of an item in round 2 or 3."""
    if item in REACHED.get(round_no, {}):
        return REACHING[REACHED[round_no][item]]
    later = {i for r in REACHED if r > round_no for i in REACHED[r]}
    if item in later:
        return (0.68, 0.24, 0.08) if item == "1.1" else CONVERGING
    if item in NEW_ITEMS:
        return NEW_ITEMS[item][group]
    if item in DIVERGENT:
        return DIVERGENT[item][group]
    if item in OTHER:
        return OTHER[item]
    return DEFAULT_SHARES[int(item.replace(".", "")) % len(DEFAULT_SHARES)]


def later_round(rng: random.Random, round_no: int, people: list[dict[str, object]],
                manifest_items: list[str], earlier: dict[str, dict[str, int]],
                returned_before: set[str]) -> dict[str, dict[str, int | None]]:
    """Ratings of a later round: the same band targets per group, each panellist's place in
    the ranking of ratings following their previous rating, so answers are stable."""
    by_group: dict[str, list[str]] = {}
    for person in people:
        by_group.setdefault(str(person["group"]), []).append(str(person["code"]))
    responders: list[str] = []
    for group, codes in by_group.items():
        keen = [c for c in codes if c in returned_before]
        others = [c for c in codes if c not in returned_before]
        want = RESPONDERS[round_no][group]
        chosen = rng.sample(keen, min(want, len(keen)))
        chosen += rng.sample(others, want - len(chosen))
        responders += sorted(chosen)
    group_of = {str(p["code"]): str(p["group"]) for p in people}
    answers: dict[str, dict[str, int | None]] = {c: {} for c in responders}
    for item in manifest_items:
        for group in GROUP_SIZES:
            codes = [c for c in responders if group_of[c] == group and rng.random() > 0.01]
            before = earlier.get(item, {})
            codes.sort(key=lambda c: before.get(c, 5) + rng.uniform(-1.5, 1.5))
            counts = largest_remainder(shares_in(round_no, item, group), len(codes))
            start = 0
            for band, count in enumerate(counts):
                values, weights = VALUE_WEIGHTS[band]
                for code in codes[start:start + count]:
                    old = before.get(code)
                    answers[code][item] = (min(max(old, values[0]), values[-1]) if old
                                           and rng.random() < 0.6
                                           else rng.choices(values, weights)[0])
                start += count
    return answers


def generate_full(root: Path = ROOT, out: Path = FULL) -> dict[Path, str]:
    """The three-round replay of the reference study, in a folder of its own."""
    round_1 = generate(root, out)
    study = Study(root)
    settings, bank = study.settings, study.bank
    people = make_roster(random.Random(SEED))
    roster = Roster.model_validate({"panellists": people})
    from delphi.store.returns_csv import ReturnsReader

    manifest_1 = build_manifest(settings, bank, roster, 1)
    reader = ReturnsReader(manifest_1, settings)
    csv_path = out / "rounds" / "round-1" / "returns" / "returns.csv"
    lines = round_1[csv_path].splitlines()
    reader.read_table("round 1", next(csv.reader([lines[0]])),
                      ((n, row) for n, row in enumerate(csv.reader(lines[1:]), start=2)))
    returns_1 = reader.returns()
    files = dict(round_1)
    results = [analyse_round(settings, manifest_1, roster, returns_1)]
    previous = returns_1
    for round_no in (2, 3):
        for attempt in range(300):
            rng = random.Random(f"{SEED}-round-{round_no}-{attempt}")
            plan = plan_round(settings, bank, roster, round_no, results)
            earlier = {item: {r.code: v for r in previous
                              if (v := r.ratings.get(item)) is not None}
                       for item in plan.manifest.item_ids()}
            answers = later_round(rng, round_no, people, plan.manifest.item_ids(), earlier,
                                  {r.code for r in previous})
            returns = [PanelReturn(code=c, ratings=a) for c, a in answers.items()]
            result = analyse_round(settings, plan.manifest, roster, returns,
                                   previous=(round_no - 1, previous))
            reached = {i.id: i.consensus for i in result.items if i.consensus}
            if reached == REACHED[round_no] and {
                    g: r.returned for g, r in result.response.groups.items()
            } == RESPONDERS[round_no]:
                break
        else:
            raise SystemExit(f"could not replay round {round_no}: consensus on {reached}")
        results.append(result)
        previous = returns
        base = out / "rounds" / f"round-{round_no}"
        files[base / "questionnaire.yaml"] = manifest_text(plan.manifest)
        files[base / "returns" / "returns.csv"] = returns_csv_text(plan.manifest, returns, settings)
    for name in ("study.yaml", "questionnaires/items.yaml"):
        files[out / name] = (root / name).read_text(encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="where to write (default: root)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args(argv)
    files = generate(ROOT, args.out)
    if args.out == ROOT:
        files.update(generate_full(ROOT, FULL))
    return write_or_check(files, args.check, "the example study matches its generator")


def write_or_check(files: dict[Path, str], check: bool, matches: str,
                   shown: Callable[[Path], object] = lambda path: path) -> int:
    """Write the generated files at once, or (``check``) compare them with those on disk."""
    if check:
        stale = [str(p) for p, text in files.items()
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        print(matches)
        return 0
    atomic_write(files)
    for path in files:
        print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
