"""Speed figures, each against its floor measured side by side in the same run.

    python benchmarks/run.py            # analysis, start-up and one questionnaire
    python benchmarks/run.py --quick    # the two smaller analysis sizes only

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


def synthetic(people: int, items: int, seed: int = 1) -> tuple[Settings, Manifest, Roster,
                                                                list[PanelReturn], np.ndarray,
                                                                np.ndarray]:
    """A study of ``people`` x ``items`` in 3 groups with 5 % of answers missing."""
    rng = random.Random(seed)
    settings = Settings(title="Bench", bands=[Band(name=n, min=a, max=b) for n, (a, b) in
                                              zip(("low", "mid", "high"), BANDS, strict=True)],
                        groups=[Group(id=g, label=g) for g in "abc"])
    roster = Roster(panellists=[Panellist(code=f"P{k}", name="X", email="x@example.org",
                                          group="abc"[k % 3]) for k in range(people)])
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


def startup() -> tuple[float, float]:
    """Median wall time of ``delphi --help`` and of ``python -c 'import typer'``."""
    def run(args: list[str]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(args, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    return (run([sys.executable, "-m", "delphi", "--help"]),
            run([sys.executable, "-c", "import typer"]))


def questionnaire() -> tuple[float, float]:
    """One example round-2 questionnaire: delphi's whole render, and weasyprint alone."""
    import weasyprint

    from delphi import actions
    from delphi.render.pdf import Renderer
    from delphi.store.study import Study

    study = Study(ROOT)
    earlier = actions._earlier_results(study, 2)
    context, personals = actions._context(study, study.manifest(2), earlier, [])
    renderer = Renderer(study.root)
    html = renderer.html(context, personals[0])
    ours = best(lambda: renderer.pdf(context, personals[1]), 2)
    raw = best(lambda: weasyprint.HTML(string=html).write_pdf(pdf_forms=True), 2)
    return ours, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [(100, 50), (1000, 100)] + ([] if args.quick else [(5000, 300)])
    print(f"{'figure':44} {'time':>9} {'floor':>9} {'ratio':>6}")
    for people, items in sizes:
        settings, manifest, roster, returns, matrix, groups = synthetic(people, items)
        ours = best(lambda: analyse_round(settings, manifest, roster, returns))  # noqa: B023
        floor = best(lambda: numpy_floor(matrix, groups))  # noqa: B023
        print(f"{f'analysis in-process {people} x {items}':44} {ours:8.3f}s {floor:8.3f}s "
              f"{ours / floor:6.1f}")
    delphi_help, typer_import = startup()
    print(f"{'start-up: delphi --help vs import typer':44} {delphi_help:8.3f}s "
          f"{typer_import:8.3f}s {delphi_help / typer_import:6.1f}")
    if not args.quick:
        ours, raw = questionnaire()
        print(f"{'one 44-item questionnaire vs raw weasyprint':44} {ours:8.3f}s {raw:8.3f}s "
              f"{ours / raw:6.1f}")


if __name__ == "__main__":
    main()
