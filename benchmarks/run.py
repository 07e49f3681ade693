"""Speed figures, each against its floor measured side by side in the same run.

    python benchmarks/run.py            # analysis, start-up and a round's questionnaires
    python benchmarks/run.py --quick    # the two smaller analysis sizes only
    python benchmarks/run.py --startup  # start-up only
    python benchmarks/run.py --analysis # the analysis figures only, all three sizes

Prints one line per figure: what, time, floor, ratio. These are measurements, not tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from delphi.core.analysis import analyse_round  # noqa: E402
from delphi.core.models import (  # noqa: E402
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

BANDS = [(1, 3), (4, 6), (7, 9)]


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def in_turns(ours: Callable[[], object], floor: Callable[[], object],
             repeat: int = 5) -> tuple[float, float]:
    """Best wall times of ``ours`` and ``floor``, run in turns, so that a busy moment of the
    shared machine falls on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, taken in ((ours, times[0]), (floor, times[1])):
            start = time.perf_counter()
            fn()
            taken.append(time.perf_counter() - start)
    return min(times[0]), min(times[1])


def synthetic(people: int, items: int, seed: int = 1) -> tuple[Settings, Manifest, Roster,
                                                                list[PanelReturn], np.ndarray,
                                                                np.ndarray]:
    """A study of ``people`` x ``items`` in 3 groups with 5 % of answers missing."""
    rng = random.Random(seed)
    settings = Settings(title="Bench", bands=[Band(name=n, min=a, max=b) for n, (a, b) in
                                              zip(("low", "mid", "high"), BANDS, strict=True)],
                        groups=[Group(id=g, label=g) for g in "abc"])
    roster = Roster(panellists=[Panellist(code=f"P{k}", name=f"Panellist {k}",
                                          email=f"p{k}@example.org", group="abc"[k % 3])
                                for k in range(people)])
    sections = [ManifestSection(id="s", title="S")]
    manifest_items = [ManifestItem(id=f"i{k}", section="s", text=f"Item {k}",
                                   hash=ManifestItem.hash_of(f"i{k}", "s", "rating",
                                                             f"Item {k}"))
                      for k in range(items)]
    codes = [p.code for p in roster.panellists]
    manifest = Manifest(study="Bench", round=1, sections=sections, items=manifest_items,
                        invited=codes, hash=Manifest.hash_of("Bench", 1, sections,
                                                             manifest_items, codes))
    matrix = np.array([[rng.randint(1, 9) if rng.random() > 0.05 else 0
                        for _ in range(items)] for _ in range(people)])
    returns = [PanelReturn(code=codes[r], ratings={f"i{k}": (int(v) or None)
                                                   for k, v in enumerate(matrix[r])})
               for r in range(people)]
    groups = np.array([k % 3 for k in range(people)])
    return settings, manifest, roster, returns, matrix, groups


def numpy_floor(matrix: np.ndarray, groups: np.ndarray) -> None:
    """The same medians, quartiles, means and band shares per item and group, in numpy."""
    for column in matrix.T:
        for subset in (column, *(column[groups == g] for g in range(3))):
            values = subset[subset > 0]
            if values.size:
                np.quantile(values, [0.25, 0.5, 0.75], method="linear")
                values.mean()
                [((values >= a) & (values <= b)).mean() for a, b in BANDS]


FLOOR_SCRIPT = """
import sys, numpy as np
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    header = f.readline().rstrip("\\n").split(",")
rated = [k for k, name in enumerate(header)
         if k and name != "suggestions" and not name.startswith("comment:")]
codes = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype=str)
rows = np.loadtxt(path, delimiter=",", skiprows=1, usecols=rated,
                  converters=lambda cell: float(cell) if cell else np.nan)
groups = np.array([int(code[1:]) % 3 for code in codes])
masks = [groups == g for g in range(3)]
for column in rows.T:
    for subset in (column, *(column[m] for m in masks)):
        values = subset[~np.isnan(subset)]
        if values.size:
            q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="linear")
            iqr, mean = q3 - q1, values.mean()
            shares = [((values >= a) & (values <= b)).mean() for a, b in ((1, 3), (4, 6), (7, 9))]
"""


def study_folder(people: int, items: int) -> Path:
    """A study folder of the synthetic study (:func:`synthetic`): settings, item bank, roster,
    the round's manifest and its returns in the canonical wide CSV, as ``delphi`` keeps them."""
    import tempfile

    from delphi.store.returns_csv import returns_csv_text
    from delphi.store.study import manifest_text
    from delphi.store.yamlfile import dump_yaml

    settings, manifest, roster, returns, _, _ = synthetic(people, items)
    folder = Path(tempfile.mkdtemp(prefix="delphi-bench-"))
    (folder / "questionnaires").mkdir()
    (folder / "panels").mkdir()
    (folder / "rounds/round-1/returns").mkdir(parents=True)
    (folder / "study.yaml").write_text(dump_yaml(settings.model_dump(exclude_none=True)))
    (folder / "questionnaires/items.yaml").write_text(dump_yaml({"sections": [{
        "id": "s", "title": "S", "items": [{"id": i.id, "text": i.text}
                                          for i in manifest.items]}]}))
    (folder / "panels/panel.yaml").write_text(dump_yaml(roster.model_dump(exclude_none=True)))
    (folder / "rounds/round-1/questionnaire.yaml").write_text(manifest_text(manifest))
    (folder / "rounds/round-1/returns/returns.csv").write_text(
        returns_csv_text(manifest, returns, settings))
    return folder


# Peak memory of a process from its own VmHWM: ru_maxrss keeps the high-water mark of the
# process it was forked from (this one, holding the synthetic study) across exec.
PEAK_MEMORY = ("import atexit, sys\n"
               "atexit.register(lambda: sys.stderr.write(next(line.split()[1] for line in "
               "open('/proc/self/status') if line.startswith('VmHWM:'))))\n")


def peak_memory(args: list[str], env: dict[str, str]) -> float:
    """Peak memory (MiB) of ``python -c <code> ...`` (``args``), or NaN where unknown."""
    done = subprocess.run([args[0], args[1], PEAK_MEMORY + args[2], *args[3:]],
                          capture_output=True, text=True, check=True, env=env)
    kib = done.stderr.strip().rpartition("\n")[2]
    return int(kib) / 1024 if kib.isdigit() else float("nan")


def whole_command(people: int, items: int, repeat: int = 5) -> dict[str, float]:
    """``delphi analyse --json`` on a study folder of ``people`` x ``items``, each run a fresh
    process, against a bare Python process that reads the same returns CSV with numpy and
    computes the same statistics (:data:`FLOOR_SCRIPT`). Runs taken in turns: the best of
    ``repeat`` each and the median of the turns' ratios; the peak memory of each (MiB).

    Both read compiled bytecode, as installed packages do (a cache of their own, filled by a
    first turn that is not counted; see :func:`startup`).
    """
    import os
    import shutil
    import tempfile

    folder = study_folder(people, items)
    cache = tempfile.mkdtemp(prefix="delphi-pyc-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    csv_path = folder / "rounds/round-1/returns/returns.csv"
    command = [sys.executable, "-m", "delphi", "analyse", "--study", str(folder), "--json"]
    floor_command = [sys.executable, "-c", FLOOR_SCRIPT, str(csv_path)]

    def run(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env)
        return time.perf_counter() - start

    commands, floors = [], []
    for turn in range(repeat + 1):
        ours, theirs = run(command), run(floor_command)
        if turn:  # the first turn fills the bytecode cache
            commands.append(ours)
            floors.append(theirs)
    as_main = "import runpy, sys; sys.argv[0] = 'delphi'; runpy.run_module('delphi', " \
              "run_name='__main__')"  # what python -m delphi does
    peaks = {"peak": peak_memory([sys.executable, "-c", as_main, *command[3:]], env),
             "floor peak": peak_memory(floor_command, env)}
    shutil.rmtree(folder)
    shutil.rmtree(cache)
    return {"command": min(commands), "floor": min(floors), **peaks,
            "ratio": statistics.median(c / f for c, f in zip(commands, floors, strict=True))}


LIBRARIES_SCRIPT = """
import typer, yaml, rich.console, rich.table
from pydantic import BaseModel
class One(BaseModel):
    x: int
One(x=1)
"""
STATUS_TWICE = """
import contextlib, io, sys, time
from delphi.cli.app import app
def status():
    try:
        app(["status"])
    except SystemExit:
        pass
with contextlib.redirect_stdout(io.StringIO()):
    status()
    start = time.perf_counter()
    status()
    took = time.perf_counter() - start
print(took)
"""
ONE_OPTION_APP = ("import typer\napp = typer.Typer()\n@app.command()\n"
                  "def f(x: int = 1) -> None: pass\napp({args})")


def startup(runs: int = 9) -> dict[str, float]:
    """Median wall times of delphi's start-up and of its floors, each in a process of its own.

    ``import typer`` is the floor the issue names. A one-option typer app run once, and asked
    for ``--help``, are what typer itself costs before any command of ours runs; "libraries"
    imports what ``delphi status`` needs of its libraries (typer, pydantic with one model,
    PyYAML, rich's console and table) and runs no code of ours. The commands take turns, so
    a busy moment of the shared machine falls on all of them alike.

    Every process reads compiled bytecode, as an installed package does: the children get a
    bytecode cache of their own (``PYTHONPYCACHEPREFIX``), filled by a first run that is not
    counted. Without it an editable install under ``PYTHONDONTWRITEBYTECODE`` compiles
    delphi's sources on every run, while typer's come compiled by pip.
    """
    import os
    import tempfile

    commands = {
        "python alone": ["-c", "pass"],
        "import typer": ["-c", "import typer"],
        "typer app --help": ["-c", ONE_OPTION_APP.format(args='["--help"]')],
        "typer app --x 2": ["-c", ONE_OPTION_APP.format(args='["--x", "2"]')],
        "libraries": ["-c", LIBRARIES_SCRIPT],
        "delphi --help": ["-m", "delphi", "--help"],
        "delphi status": ["-m", "delphi", "status"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="delphi-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for turn in range(runs + 1):
            for name, args in commands.items():
                start = time.perf_counter()
                subprocess.run([sys.executable, *args], capture_output=True, check=True,
                               cwd=ROOT, env=env)
                if turn:  # the first turn fills the bytecode cache
                    times[name].append(time.perf_counter() - start)
        breakdown = status_breakdown(env)
    return {**{name: statistics.median(t) for name, t in times.items()}, **breakdown}


def status_breakdown(env: dict[str, str]) -> dict[str, float]:
    """Where ``delphi status`` spends its time: imports, from one run under ``python -X
    importtime``, and its work once everything is imported, from a second run in the same
    process (reading and checking the study, counting, typer's parsing, printing).

    Each module's own import time goes to the library (or delphi) that imported it first:
    the standard library's modules to the library that needed them, those imported before
    any of them to "python" (the interpreter's start). importtime makes imports slower.
    """
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "delphi", "status"],
                          capture_output=True, check=True, cwd=ROOT, env=env, text=True)
    work = subprocess.run([sys.executable, "-c", STATUS_TWICE], capture_output=True,
                          check=True, cwd=ROOT, env=env, text=True)
    owners = {"typer": "typer", "pydantic": "pydantic", "pydantic_core": "pydantic",
              "annotated_types": "pydantic", "typing_inspection": "pydantic", "yaml": "yaml",
              "_yaml": "yaml", "rich": "rich", "delphi": "delphi"}
    spent: dict[str, float] = {}
    pending: list[tuple[int, float, str | None]] = []  # (depth, seconds, owner) not yet placed
    for line in done.stderr.splitlines():  # a module comes after the modules it imported
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        owner = owners.get(name.strip().split(".")[0])
        carried = 0.0
        while pending and pending[-1][0] > depth:  # the modules this one imported
            _, seconds, child_owner = pending.pop()
            who = child_owner or owner
            if who:
                spent[who] = spent.get(who, 0.0) + seconds
            else:
                carried += seconds
        pending.append((depth, int(own) / 1e6 + carried, owner))
    for _, seconds, owner in pending:
        spent[owner or "python"] = spent.get(owner or "python", 0.0) + seconds
    return {**{f"status: {owner}": t for owner, t in spent.items()},
            "status: its work": float(work.stdout.split()[-1])}


def questionnaires() -> dict[str, float]:
    """The example's round 2: all 99 questionnaires as ``delphi new-round`` makes them, one
    panellist's copy, and one questionnaire laid out by weasyprint alone on the same HTML."""
    import tempfile

    import weasyprint

    from delphi import actions
    from delphi.render.pdf import Renderer, personalised, render_all
    from delphi.store.study import Study, write_bytes

    study = Study(ROOT)
    context, personals = actions.questionnaire_context(study, 2)
    renderer = Renderer(study.root)
    html = renderer.html(context, personals[0])
    raw = best(lambda: weasyprint.HTML(string=html).write_pdf(pdf_forms=True), 2)
    with tempfile.TemporaryDirectory() as out:
        def save(code: str, pdf: bytes) -> None:
            write_bytes(Path(out) / f"{code}.pdf", pdf)

        round_pdfs = best(lambda: render_all(study.root, context, personals, save), 2)
    layout = renderer.shared_layout(context, personals)
    copies = best(lambda: [personalised(renderer, layout, context, me) for me in personals])
    alone = best(lambda: renderer.pdf(context, personals[1]), 2)
    return {"raw": raw, "round": round_pdfs, "copy": copies / len(personals), "alone": alone,
            "panellists": len(personals)}


def large_study(folder: Path, people: int, items: int, seed: int = 2) -> None:
    """A study folder of ``people`` in 3 groups and ``items`` statements in 5 sections."""
    rng = random.Random(seed)
    groups = ("expert", "provider", "user")
    (folder / "questionnaires").mkdir(parents=True)
    (folder / "panels").mkdir()
    (folder / "study.yaml").write_text(
        "title: A large panel\nscale: {min: 1, max: 9}\n"
        "anchors: {1: disagree strongly, 5: neither agree nor disagree, 9: agree strongly}\n"
        "bands:\n  - {name: disagree, min: 1, max: 3}\n  - {name: neutral, min: 4, max: 6}\n"
        "  - {name: agree, min: 7, max: 9}\nconsensus: {rule: banded, threshold: 0.75}\n"
        "groups:\n" + "".join(f"  - {{id: {g}, label: {g.title()}}}\n" for g in groups),
        encoding="utf-8")
    words = ("services", "people", "care", "should", "be", "offered", "by", "staff", "trained",
             "in", "the", "community", "with", "support", "from", "families", "and", "peers")
    bank = ["sections:"]
    for s in range(5):
        bank += [f"  - id: s{s}", f"    title: Section {s + 1}", "    items:"]
        for k in range(items // 5):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 24)))
            bank += [f'      - id: "{s + 1}.{k + 1}"', f"        text: {text.capitalize()}"]
    (folder / "questionnaires/items.yaml").write_text("\n".join(bank) + "\n", encoding="utf-8")
    roster = ["panellists:"]
    for k in range(people):
        roster += [f"- code: P{k:05d}", f"  name: Panellist {k}",
                   f"  email: p{k}@example.org", f"  group: {groups[k % 3]}"]
    (folder / "panels/panel.yaml").write_text("\n".join(roster) + "\n", encoding="utf-8")


def large_round(people: int = 2000, items: int = 100, turns: int = 2,
                small: int = 200) -> dict[str, float]:
    """Round 2 of a large study, written by ``delphi new-round`` (the whole command, a fresh
    process), against one raw weasyprint layout of one of its questionnaires, taken in turns;
    the average PDF size, and the command's peak memory beside that of a round of ``small``
    panellists (flat when the two are close)."""
    import os
    import shutil
    import tempfile

    import weasyprint

    from delphi import actions
    from delphi.render.pdf import Renderer
    from delphi.store.study import Study

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    as_main = "import runpy, sys; sys.argv[0] = 'delphi'; runpy.run_module('delphi', " \
              "run_name='__main__')"  # what python -m delphi does
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (small, people):
            folder = Path(tmp) / f"study-{size}"
            large_study(folder, size, items)
            round_1 = time.perf_counter()
            actions.new_round(folder, round=1)
            found["round 1"] = time.perf_counter() - round_1
            ids = [m.id for m in Study(folder).manifest(1).items]
            rng = random.Random(3)
            rows = ["code," + ",".join(ids)]
            for k in range(size):
                rows.append(f"P{k:05d}," + ",".join(
                    str(rng.choice((1, 2, 3, 5, 7, 8, 8, 9, 9))) if rng.random() > 0.05 else ""
                    for _ in ids))
            returns = Path(tmp) / f"returns-{size}.csv"
            returns.write_text("\n".join(rows) + "\n", encoding="utf-8")
            actions.import_returns(folder, [returns], round=1)
            actions.analyse(folder, round=1)
            arguments = ["new-round", "--study", str(folder), "--round", "2", "--force"]
            found[f"peak {size}"] = peak_memory([sys.executable, "-c", as_main, *arguments], env)
        html = Renderer(folder).html(*_first(actions.questionnaire_context(Study(folder), 2)))

        def command() -> None:
            subprocess.run([sys.executable, "-m", "delphi", *arguments], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        found["round 2"], found["raw"] = in_turns(
            command, lambda: weasyprint.HTML(string=html).write_pdf(pdf_forms=True), turns)
        pdfs = list((folder / "rounds/round-2/questionnaires").glob("*.pdf"))
        found["size"] = statistics.mean(p.stat().st_size for p in pdfs)
        found["pdfs"] = len(pdfs)
        shutil.rmtree(Path(tmp))
    return found


def _first(made: tuple[Any, list[Any]]) -> tuple[Any, Any]:
    """A round's context and its first panellist."""
    context, personals = made
    return context, personals[0]


def report_startup() -> None:
    """Print the start-up figures and where ``delphi status`` spends its time."""
    times = startup()
    floor = times["import typer"]
    for name in ("python alone", "delphi --help", "delphi status", "typer app --help",
                 "typer app --x 2", "libraries"):
        print(f"{f'start-up: {name} vs import typer':44} {times[name]:8.3f}s {floor:8.3f}s "
              f"{times[name] / floor:6.1f}")
    for name, typer_floor in (("delphi --help", "typer app --help"),
                              ("delphi status", "typer app --x 2"),
                              ("delphi status", "libraries")):
        print(f"{f'start-up: {name} vs {typer_floor}':44} {times[name]:8.3f}s "
              f"{times[typer_floor]:8.3f}s {times[name] / times[typer_floor]:6.1f}")
    for owner in ("python", "typer", "pydantic", "yaml", "rich", "delphi"):
        print(f"{f'  status: importing {owner} (importtime)':44} "
              f"{times.get(f'status: {owner}', 0.0):8.3f}s")
    print(f"{'  status: its work, all imported':44} {times['status: its work']:8.3f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--analysis", action="store_true",
                        help="only the analysis figures (in-process and the whole command)")
    parser.add_argument("--large", action="store_true",
                        help="only round 2 of a study of 2,000 panellists and 100 statements")
    parser.add_argument("--startup", action="store_true", help="only the start-up figures")
    args = parser.parse_args()
    if args.startup:
        report_startup()
        return
    if args.large:
        big = large_round()
        print(f"{'large round 2, 2,000 x 100 vs one raw layout':44} {big['round 2']:8.3f}s "
              f"{big['raw']:8.3f}s {big['round 2'] / big['raw']:6.1f}")
        print(f"{'  its round 1 (no feedback), whole command':44} {big['round 1']:8.3f}s")
        print(f"{'  average PDF (KB), PDFs written':44} {big['size'] / 1024:8.1f} "
              f"{int(big['pdfs']):9d}")
        print(f"{'  peak memory of new-round (MiB), 200 / 2,000':44} {big['peak 200']:8.1f} "
              f"{big['peak 2000']:9.1f}")
        return
    sizes = [(100, 50), (1000, 100)] + ([] if args.quick else [(5000, 300)])
    print(f"{'figure':44} {'time':>9} {'floor':>9} {'ratio':>6}")
    for people, items in sizes:
        settings, manifest, roster, returns, matrix, groups = synthetic(people, items)
        ours, floor = in_turns(
            lambda: analyse_round(settings, manifest, roster, returns),  # noqa: B023
            lambda: numpy_floor(matrix, groups))  # noqa: B023
        print(f"{f'analysis in-process {people} x {items}':44} {ours:8.3f}s {floor:8.3f}s "
              f"{ours / floor:6.1f}")
    people, items = sizes[-1]
    whole = whole_command(people, items)
    print(f"{f'delphi analyse --json, {people} x {items}':44} {whole['command']:8.3f}s "
          f"{whole['floor']:8.3f}s {whole['command'] / whole['floor']:6.1f}")
    print(f"{'  median ratio of the turns':44} {'':9} {'':9} {whole['ratio']:6.1f}")
    print(f"{'peak memory of that command (MiB), floor':44} {whole['peak']:8.1f}  "
          f"{whole['floor peak']:8.1f}")
    if args.analysis:
        return
    report_startup()
    if not args.quick:
        q = questionnaires()
        n = int(q["panellists"])
        print(f"{f'all {n} round-2 PDFs vs one raw layout':44} {q['round']:8.3f}s "
              f"{q['raw']:8.3f}s {q['round'] / q['raw']:6.1f}")
        print(f"{'one panellist: a copy vs one raw layout':44} {q['copy']:8.3f}s "
              f"{q['raw']:8.3f}s {q['copy'] / q['raw']:6.3f}")
        print(f"{'one laid out alone vs one raw layout':44} {q['alone']:8.3f}s "
              f"{q['raw']:8.3f}s {q['alone'] / q['raw']:6.1f}")


if __name__ == "__main__":
    main()
