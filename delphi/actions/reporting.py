"""report: the study's results in every format."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from delphi.actions.analysis import compute_round
from delphi.core.analysis import RoundResult
from delphi.core.models import Manifest, PanelReturn
from delphi.core.report import ReportData, build_report
from delphi.core.rules import RULES
from delphi.errors import DelphiError, RoundStateError
from delphi.store.study import (
    Study,
    atomic_write,
    write_bytes,
)

REPORT_FORMATS = ("pdf", "html", "md", "xlsx", "csv", "json", "sav")
DEFAULT_REPORT_FORMATS = ("pdf", "html", "md", "xlsx", "csv", "json")


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`report`: its data and the files written."""

    data: ReportData
    written: list[Path]


def report(study: Path | str = ".", formats: Sequence[str] = DEFAULT_REPORT_FORMATS,
           output: Path | None = None, by: Sequence[str] = (),
           min_subgroup: int = 5) -> Report:
    """The study's report over all rounds, in the formats asked for."""
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise DelphiError(f"--format {unknown[0]}: choose from {', '.join(REPORT_FORMATS)}")
    folder = Study(study).validated()
    _check_options(folder, by)
    rounds = folder.rounds()
    manifests = {r: folder.manifest(r) for r in rounds}
    returns = {r: folder.returns(r) for r in rounds}
    results = {r: compute_round(folder, r, RULES) for r in rounds}
    data = build_report(folder.settings, folder.roster, manifests, returns, results,
                        attributes=by, min_subgroup=min_subgroup)
    out = output or folder.report_dir
    out.mkdir(parents=True, exist_ok=True)
    return Report(data, _write(folder, formats, out, data, manifests, returns, results))


def _check_options(folder: Study, by: Sequence[str]) -> None:
    """Refuse a study without rounds, or a ``--by`` attribute no panellist has."""
    if not folder.rounds():
        raise RoundStateError("no round has a questionnaire yet: there is nothing to report")
    known = {k for p in folder.roster.panellists for k in p.attributes}
    missing = [a for a in by if a not in known]
    if missing:
        raise DelphiError(f"--by {missing[0]}: no panellist has this attribute; the roster "
                          f"has {', '.join(sorted(known)) or 'none'}")


def _write(folder: Study, formats: Sequence[str], out: Path, data: ReportData,
           manifests: Mapping[int, Manifest], returns: Mapping[int, Sequence[PanelReturn]],
           results: dict[int, RoundResult]) -> list[Path]:
    """Render the report in each format asked for and write it in ``out``; the files."""
    from delphi.render import report as render_report
    from delphi.render.exports import ratings_csv, report_json, spss, workbook

    texts: dict[Path, str] = {}
    language = folder.language
    html_text = render_report.html(folder.root, data, results, language)
    if "pdf" in formats:  # before anything is written
        from delphi.render.fonts import check_printable

        check_printable(html_text, "the report")
    method = render_report.method(data, language)
    if "md" in formats:
        texts[out / "report.md"] = render_report.markdown(data, language)
    if "html" in formats:
        texts[out / "report.html"] = html_text
    if "csv" in formats:
        texts[out / "ratings.csv"] = ratings_csv(folder.settings, manifests, returns,
                                                  folder.roster)
    if "json" in formats:
        texts[out / "report.json"] = report_json(data, method,
                                                 render_report.checklist(data, language))
    atomic_write(texts)
    binaries: dict[Path, Callable[[], bytes]] = {
        out / "report.xlsx": lambda: workbook(data, results, returns, folder.roster, language),
        out / "report.sav": lambda: spss(folder.settings, manifests, returns, folder.roster),
        out / "report.pdf": lambda: render_report.pdf(folder.root, html_text, language)}
    written = list(texts)
    for path, make in binaries.items():
        if path.suffix.lstrip(".") in formats:
            write_bytes(path, make())
            written.append(path)
    return written
