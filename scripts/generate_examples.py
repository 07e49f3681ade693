"""Generate the invented panels, returns and results of the studies under ``examples/``.

    python scripts/generate_examples.py            # rewrite the files under examples/
    python scripts/generate_examples.py --check    # fail if the committed files differ

Two studies, each carried through all its rounds with delphi itself (the manifests are what
``delphi new-round`` plans, the results what ``delphi analyse`` writes):

- ``examples/enlight-style/``: 1-7 ratings plus "don't know" (``X``), which stays in the
  denominator and counts towards exclusion, and strict thresholds (more than 75 %), as the
  ENLIGHT checklist Delphi defined them. Two rounds.
- ``examples/quality-indicators/``: indicators rated on two dimensions (importance 1-9,
  feasibility 1-5) with "unable to score" (``U``) left out of the denominator; round 1 also
  asks open questions; from round 2 on a choice of how each indicator should be reported.
  Three rounds.

Every answer comes from one seeded random generator, with the number of panellists in each
answer fixed per item and round (``PLAN`` below), so each study reaches consensus exactly where
its plan says; the script refuses to write anything otherwise. Only the study files
(study.yaml, questionnaires/items.yaml) are written by hand. People, e-mail addresses and
answers are invented.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate_example import write_or_check  # noqa: E402  (scripts/ is the script's own folder)

from delphi import actions  # noqa: E402
from delphi.core.analysis import RoundResult  # noqa: E402
from delphi.core.answers import Question, questions  # noqa: E402
from delphi.core.models import PanelReturn  # noqa: E402
from delphi.core.rounds import build_manifest, plan_round  # noqa: E402
from delphi.store.returns_csv import returns_csv_text  # noqa: E402
from delphi.store.study import Study, atomic_write, manifest_text  # noqa: E402
from delphi.store.yamlfile import dump_yaml  # noqa: E402

EXAMPLES = ROOT / "examples"
FIRST = ["Alex", "Bea", "Cal", "Dana", "Eli", "Fay", "Gus", "Hana", "Ira", "Jo", "Kit", "Lena",
         "Max", "Nia", "Olu", "Pia", "Quin", "Rae", "Sami", "Tess", "Uma", "Vic", "Wren", "Xan"]
LAST = ["Example", "Sample", "Placeholder", "Testwell", "Mockford", "Dummett", "Specimen",
        "Fictional", "Madeup", "Notreal", "Pseudonym", "Standin", "Prototype", "Sketchley"]

# A target: how many of the round's responders give each kind of answer to one question.
# ``low``/``mid``/``high`` are band counts (the scale's bands in order), ``unsure`` the unsure
# answers, ``none`` no answer; for a choice, ``options`` counts per option id. The counts are
# of the responders in the round, so they must add up to their number.


@dataclass(frozen=True)
class Target:
    """How the responders of a round answer one question."""

    bands: tuple[int, ...] = ()
    unsure: int = 0
    none: int = 0
    options: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """One example study: its panel, response per round and every question's target."""

    folder: str
    seed: int
    groups: dict[str, tuple[str, int]]  # group id: (code prefix, size)
    responders: dict[int, int]
    targets: dict[int, dict[str, Target]]
    consensus: dict[int, dict[str, str | None]]  # answer key: expected verdict, per round
    open_texts: dict[str, list[str]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


def _t(low: int, mid: int, high: int, unsure: int = 0, none: int = 0) -> Target:
    return Target(bands=(low, mid, high), unsure=unsure, none=none)


# ---------------------------------------------------------------- ENLIGHT-style
# 40 panellists, 36 answer round 1 and 33 round 2. "Don't know" (X) is in the denominator and
# counts towards "exclude"; consensus needs MORE than 75 % (28 of 36 in round 1: 27 is exactly
# 75 % and is not enough).
ENLIGHT = Plan(
    folder="enlight-style", seed=2023,
    groups={"research": ("R", 24), "practice": ("P", 16)},
    responders={1: 36, 2: 33},
    targets={
        1: {
            "11.1": _t(2, 2, 32), "11.2": _t(3, 4, 27, unsure=2),  # 27/36 = 75 %: not strict
            "11.3": _t(4, 6, 25, unsure=1), "11.4": _t(5, 7, 14, unsure=10),
            "11.5": _t(8, 9, 18, unsure=1), "11.6": _t(11, 8, 16, unsure=1),
            "12.1": _t(1, 2, 33), "12.2": _t(0, 1, 35), "12.3": _t(4, 5, 22, unsure=4, none=1),
            "12.4": _t(2, 4, 29, unsure=1), "12.5": _t(6, 8, 21, unsure=1),
            "13.1": _t(1, 3, 32), "13.2": _t(3, 5, 26, unsure=2), "13.3": _t(3, 4, 24, unsure=5),
            "13.4": _t(7, 9, 18, unsure=2), "13.5": _t(17, 6, 3, unsure=10),  # 27/36 exclude
            "13.6": _t(12, 10, 12, unsure=2),
        },
        2: {
            "11.2": _t(2, 3, 27, unsure=1), "11.3": _t(2, 5, 25, unsure=1),
            "11.4": _t(4, 5, 16, unsure=8), "11.5": _t(6, 7, 19, unsure=1),
            "11.6": _t(10, 8, 14, unsure=1), "12.3": _t(2, 3, 26, unsure=2),
            "12.5": _t(5, 7, 20, unsure=1), "13.2": _t(2, 3, 27, unsure=1),
            "13.3": _t(2, 4, 24, unsure=3), "13.4": _t(6, 8, 18, unsure=1),
            "13.5": _t(19, 3, 1, unsure=10), "13.6": _t(12, 9, 11, unsure=1),
        },
    },
    consensus={
        1: {"11.1": "include", "12.1": "include", "12.2": "include", "13.1": "include",
            "11.2": None, "13.5": None},
        2: {"11.2": "include", "11.3": "include", "12.3": "include", "13.2": "include",
            "13.5": "exclude", "11.4": None},
    },
    comments=["The instrument matters less than its calibration.",
              "Hard to know without the study's aim.",
              "Essential for any replication.",
              "Most labs cannot measure this yet."],
)

# ---------------------------------------------------------------- quality indicators
# 30 panellists, 28 / 26 / 24 answer. Threshold 70 % (at least), "unable to score" (U) left
# out of the denominator: Q3's feasibility in round 1 is 16 high of 24 rated (4 unable), 67 %.
# A statement drops out once both dimensions have reached consensus; Q7 does so in round 1
# with "low" importance and "high" feasibility.
QI = Plan(
    folder="quality-indicators", seed=2024,
    groups={"clinician": ("C", 12), "manager": ("M", 8), "patient": ("P", 10)},
    responders={1: 28, 2: 26, 3: 24},
    targets={
        1: {
            "Q1/importance": _t(1, 3, 24), "Q1/feasibility": _t(1, 2, 22, unsure=3),
            "Q2/importance": _t(1, 4, 23), "Q2/feasibility": _t(5, 9, 9, unsure=5),
            "Q3/importance": _t(2, 4, 22), "Q3/feasibility": _t(3, 5, 16, unsure=4),
            "Q4/importance": _t(3, 8, 17), "Q4/feasibility": _t(1, 2, 24, unsure=1),
            "Q5/importance": _t(3, 9, 16), "Q5/feasibility": _t(6, 8, 8, unsure=6),
            "Q6/importance": _t(4, 10, 14), "Q6/feasibility": _t(2, 4, 21, unsure=1),
            "Q7/importance": _t(21, 5, 2), "Q7/feasibility": _t(2, 3, 22, unsure=1),
            "Q8/importance": _t(6, 10, 12), "Q8/feasibility": _t(4, 8, 14, unsure=2),
        },
        2: {
            "Q2/feasibility": _t(4, 8, 10, unsure=4), "Q3/feasibility": _t(2, 3, 19, unsure=2),
            "Q4/importance": _t(2, 5, 19), "Q5/importance": _t(2, 5, 19),
            "Q5/feasibility": _t(5, 8, 7, unsure=6), "Q6/importance": _t(3, 9, 14),
            "Q8/importance": _t(5, 9, 12), "Q8/feasibility": _t(2, 5, 19),
            "R1": Target(options={"public": 20, "internal": 5, "drop": 1}),
            "R2": Target(options={"public": 9, "internal": 14, "drop": 3}),
            "R3": Target(options={"public": 12, "internal": 12, "drop": 2}),
        },
        3: {
            "Q2/feasibility": _t(3, 6, 12, unsure=3), "Q5/feasibility": _t(4, 7, 8, unsure=5),
            "Q6/importance": _t(2, 5, 17), "Q8/importance": _t(4, 8, 12),
            "R2": Target(options={"public": 5, "internal": 17, "drop": 2}),
            "R3": Target(options={"public": 13, "internal": 10, "drop": 1}),
        },
    },
    consensus={
        1: {"Q1/importance": "high", "Q1/feasibility": "high", "Q3/importance": "high",
            "Q3/feasibility": None, "Q7/importance": "low", "Q7/feasibility": "high",
            "Q4/feasibility": "high", "Q2/importance": "high", "Q6/feasibility": "high"},
        2: {"Q3/feasibility": "high", "Q4/importance": "high", "Q5/importance": "high",
            "Q8/feasibility": "high", "R1": "public", "R2": None, "Q2/feasibility": None},
        3: {"Q6/importance": "high", "R2": "internal", "R3": None, "Q8/importance": None},
    },
    open_texts={
        "O1": ["Continuity of the relationship with one worker.",
               "Whether people feel listened to when they are in crisis.",
               "Support for families, not only carers' assessments.",
               "Access to talking therapies, and how long the wait is.",
               "Housing and money problems, which drive most relapses.",
               "How often appointments are cancelled by the service."],
        "O2": ["Readmissions are higher where people are more unwell to begin with.",
               "Paid work depends on the local job market, not on the team.",
               "Waiting times look worse for teams that accept everyone referred.",
               "Recommendation scores are low where people are detained."],
    },
    comments=["Needs case-mix adjustment to be fair.",
              "Routine data do not record this well.",
              "Patients care about this more than anything else here.",
              "Too easy to game."],
)

PLANS = (ENLIGHT, QI)


def make_roster(plan: Plan, rng: random.Random) -> list[dict[str, object]]:
    """The invented panel: codes by group, names and e-mail addresses at example.org."""
    people: list[dict[str, object]] = []
    used: set[str] = set()
    for group, (prefix, size) in plan.groups.items():
        for number in range(1, size + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}".lower()
            while email in used:
                email += str(rng.randint(0, 9))
            used.add(email)
            people.append({"code": f"{prefix}{number:02d}", "name": f"{first} {last}",
                           "email": f"{email}@example.org", "group": group})
    return people


def _values(question: Question, band: int) -> list[int]:
    assert question.rating is not None
    b = question.rating.bands[band]
    return list(range(b.min, b.max + 1))


def _answers(rng: random.Random, question: Question, target: Target, codes: list[str],
             previous: dict[str, int]) -> dict[str, object]:
    """Each responder's answer to one question: exactly the target's counts, drawn at random.

    A panellist's place in the order follows their previous rating, so answers move between
    rounds the way panels do (mostly towards the group) rather than at random.
    """
    order = sorted(codes, key=lambda c: previous.get(c, 0) + rng.uniform(-2.5, 2.5))
    out: dict[str, object] = {}
    if question.kind == "choice":
        counts = list(target.options.items())
        rng.shuffle(order)
    else:
        counts = [("none", target.none), ("unsure", target.unsure)]
        counts += [(str(band), n) for band, n in enumerate(target.bands)]
    if sum(n for _, n in counts) != len(codes):
        raise SystemExit(f"{question.key}: the target counts {sum(n for _, n in counts)} "
                         f"answers for {len(codes)} responders")
    start = 0
    for answer, n in counts:
        for code in order[start:start + n]:
            if question.kind == "choice":
                out[code] = answer
            elif answer == "unsure":
                out[code] = "unsure"
            elif answer != "none":
                old = previous.get(code)
                values = _values(question, int(answer))
                out[code] = old if old in values and rng.random() < 0.6 else rng.choice(values)
        start += n
    return out


@dataclass
class Drawn:
    """One round's returns as they are built."""

    ratings: dict[str, dict[str, int | None]] = field(default_factory=dict)
    unsure: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    comments: dict[str, dict[str, str]] = field(default_factory=dict)

    def returns(self, codes: Sequence[str]) -> list[PanelReturn]:
        return [PanelReturn(code=c, ratings=self.ratings.get(c, {}),
                            unsure=self.unsure.get(c, []), choices=self.choices.get(c, {}),
                            texts=self.texts.get(c, {}), comments=self.comments.get(c, {}))
                for c in codes]


def draw_round(plan: Plan, rng: random.Random, round_no: int, asked: list[Question],
               responders: list[str], previous: list[PanelReturn]) -> list[PanelReturn]:
    """The returns of one round, following the plan's targets for that round."""
    targets = plan.targets[round_no]
    planned = {q.key for q in asked if q.kind != "open"}
    if planned != set(targets):
        raise SystemExit(f"{plan.folder}, round {round_no}: delphi asks {sorted(planned)}, "
                         f"the plan has targets for {sorted(targets)}")
    drawn = Drawn()
    before = {r.code: r for r in previous}
    for question in asked:
        if question.kind == "open":
            texts = plan.open_texts.get(question.item, [])
            writers = rng.sample(responders, min(len(texts), len(responders)))
            for code, text in zip(writers, texts, strict=False):
                drawn.texts.setdefault(code, {})[question.key] = text
            continue
        prior = {c: v for c, r in before.items() if (v := r.ratings.get(question.key))}
        answers = _answers(rng, question, targets[question.key], responders, prior)
        for code, answer in answers.items():
            if answer == "unsure":
                drawn.unsure.setdefault(code, []).append(question.key)
            elif question.kind == "choice":
                drawn.choices.setdefault(code, {})[question.key] = str(answer)
            else:
                drawn.ratings.setdefault(code, {})[question.key] = int(str(answer))
    items = sorted({q.item for q in asked if q.kind != "open"})
    for code in rng.sample(responders, min(len(plan.comments), len(responders))):
        drawn.comments.setdefault(code, {})[rng.choice(items)] = rng.choice(plan.comments)
    return drawn.returns(responders)


def verdicts(result: RoundResult) -> dict[str, str | None]:
    """Each answer key's consensus verdict in a round's results."""
    return {(f"{i.id}/{i.dimension}" if i.dimension else i.id): i.consensus
            for i in result.items}


def check(plan: Plan, result: RoundResult) -> list[str]:
    """Every way a round's results differ from the plan's expected verdicts."""
    got = verdicts(result)
    return [f"round {result.round}, {key}: consensus {got.get(key, 'not asked')!r}, "
            f"planned {want!r}"
            for key, want in plan.consensus.get(result.round, {}).items()
            if got.get(key, "not asked") != want]


def generate(plan: Plan) -> dict[Path, str]:
    """The example's generated files (relative paths) and their text, checked against the plan.

    The study is built in a temporary folder round by round with delphi's own round engine
    and analysis, so the committed files are exactly what the commands would write.
    """
    source = EXAMPLES / plan.folder
    rng = random.Random(plan.seed)
    people = make_roster(plan, rng)
    files: dict[Path, str] = {
        Path("panels/panel.yaml"): ("# Invented people (example.org), generated by "
                                    "scripts/generate_examples.py.\n"
                                    + dump_yaml({"panellists": people}, flow_leaves=True))}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / plan.folder
        for name in ("study.yaml", "questionnaires/items.yaml"):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, work / name)
        atomic_write({work / "panels/panel.yaml": files[Path("panels/panel.yaml")]})
        results: list[RoundResult] = []
        previous: list[PanelReturn] = []
        failures: list[str] = []
        for round_no in sorted(plan.responders):
            study = Study(work)
            settings, bank, roster = study.settings, study.bank, study.roster
            manifest = (build_manifest(settings, bank, roster, 1) if round_no == 1
                        else plan_round(settings, bank, roster, round_no, results).manifest)
            codes = [str(p["code"]) for p in people]
            responders = sorted(rng.sample(codes, plan.responders[round_no]), key=codes.index)
            returns = draw_round(plan, rng, round_no, questions(settings, manifest),
                                 responders, previous)
            base = Path("rounds") / f"round-{round_no}"
            files[base / "questionnaire.yaml"] = manifest_text(manifest)
            files[base / "returns/returns.csv"] = returns_csv_text(manifest, returns, settings)
            atomic_write({work / base / "questionnaire.yaml": files[base / "questionnaire.yaml"],
                          work / base / "returns/returns.csv":
                              files[base / "returns/returns.csv"]})
            analysis = actions.analyse(work, round_no)
            for written in analysis.written:
                files[written.relative_to(work)] = written.read_text(encoding="utf-8")
            results.append(analysis.result)
            failures += check(plan, analysis.result)
            previous = returns
    if failures:
        raise SystemExit(f"{plan.folder} does not follow its plan:\n  " + "\n  ".join(failures))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args(argv)
    files = {EXAMPLES / plan.folder / path: text for plan in PLANS
             for path, text in generate(plan).items()}
    return write_or_check(files, args.check, "the example studies match their generator",
                          lambda path: path.relative_to(ROOT))


if __name__ == "__main__":
    raise SystemExit(main())
