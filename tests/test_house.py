"""The architecture stays as the README describes it; test helpers do not hide real faults."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from tests.conftest import ROOT, weasyprint_warnings

PACKAGE = ROOT / "delphi"
# Adapters: each talks to one outside thing (files, HTML/PDF, SMTP) and may use the core, but
# not another adapter; the actions combine them, the front ends (cli, web) call the actions.
ADAPTERS = {"store", "render", "mail"}
FRONT_ENDS = {"cli", "web"}
BASE = {"core", "errors"}  # what every layer may use
# The panel's language (message catalogs, Babel formatting): used by the adapters that make
# what panellists and readers receive; it uses only the base, and the core does not use it.
LANGUAGE = "i18n"


def _imports(path: Path) -> set[str]:
    """Every ``delphi`` module a file imports, at the top, inside functions or for typing."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("delphi"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "delphi":
                found.update(f"delphi.{a.name}" for a in node.names)
            elif node.module.startswith("delphi."):
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; write delphi.... in full")
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def import_graph() -> dict[str, set[str]]:
    """``{package of the importing file: packages it imports}`` over ``delphi/``, per file."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        graph[module] = {_layer(m) for m in _imports(path)} - {_layer(module)}
    return graph


def test_adapters_depend_only_on_the_core() -> None:
    wrong = [f"{module} imports delphi.{target}"
             for module, targets in import_graph().items()
             if _layer(module) in ADAPTERS for target in targets
             if target not in BASE | {LANGUAGE}]
    wrong += [f"{module} imports delphi.{target}"
              for module, targets in import_graph().items()
              if _layer(module) == LANGUAGE for target in targets if target not in BASE]
    assert wrong == []


def test_the_core_imports_no_adapter_action_or_front_end() -> None:
    wrong = [f"{module} imports delphi.{target}"
             for module, targets in import_graph().items()
             if _layer(module) in BASE for target in targets if target not in BASE]
    assert wrong == []


def test_actions_use_no_front_end_and_front_ends_go_through_actions() -> None:
    graph = import_graph()
    wrong = [f"{module} imports delphi.{target}" for module, targets in graph.items()
             if _layer(module) == "actions" for target in targets & FRONT_ENDS]
    wrong += [f"{module} imports delphi.{target}" for module, targets in graph.items()
              if _layer(module) in FRONT_ENDS for target in targets & ADAPTERS]
    assert wrong == []


def test_the_import_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from delphi.store.study import Study\n"
                      "import delphi.render.pdf\nfrom delphi import actions\n")
    assert _imports(source) == {"delphi.store.study", "delphi.render.pdf", "delphi.actions"}


def test_only_the_harfbuzz_subset_notice_is_tolerated() -> None:
    def record(message: str, name: str = "weasyprint") -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)

    notice = record('Using fontTools instead of HarfBuzz-Subset for font "DejaVu Sans". This '
                    "will be unsupported in future versions of WeasyPrint.")
    glyph = record("No glyph for character U+0627 in font DejaVu Sans")
    fetch = record('Failed to load image at "https://example.org/x.png": refused')
    other = record("unrelated", name="delphi")
    assert weasyprint_warnings([notice, glyph, fetch, other]) == [glyph.getMessage(),
                                                                  fetch.getMessage()]


def test_every_exit_status_is_named() -> None:
    """``typer.Exit``, ``SystemExit`` and ``sys.exit`` in delphi/ take an ``ExitStatus``."""
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            if name not in {"typer.Exit", "SystemExit", "sys.exit", "Exit", "exit"}:
                continue
            args = node.args or [k.value for k in node.keywords]
            if not (args and ast.unparse(args[0]).startswith("ExitStatus.")):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert bare == []


def test_exit_statuses_are_those_the_readme_promises() -> None:
    from delphi.errors import ExitStatus

    assert [(s.name, int(s)) for s in ExitStatus] == [("OK", 0), ("ERROR", 2),
                                                      ("INTERRUPTED", 130)]
