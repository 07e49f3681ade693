"""What each command does, as plain functions: load from the study folder, call the core, save.

The CLI is a thin layer over these; they are also the library's entry points for scripts. One
module per command family (named unlike any function, which a submodule would shadow); a name
is imported from its module on first use, so a command loads only what it needs (``delphi
status`` does not import rendering, mail or the report).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names, for type checkers and editors
    from delphi.actions.analysis import Analysis, analyse, compute_round, validate
    from delphi.actions.intake import EntryForm, enter_return, entry_form, import_returns
    from delphi.actions.mail import MailOutcome, MailRun, plan_mail, run_mail
    from delphi.actions.panel import (
        Created,
        ItemsImported,
        PanelImported,
        Withdrawn,
        import_items,
        import_panel,
        init_study,
        withdraw,
    )
    from delphi.actions.reporting import DEFAULT_REPORT_FORMATS, REPORT_FORMATS, Report, report
    from delphi.actions.rounds import (
        NewRound,
        Preview,
        Suggestions,
        _earlier_results,
        choose_new_round,
        missing_pdfs,
        new_round,
        preview,
        questionnaire_context,
        suggestions,
    )
    from delphi.actions.tracking import status
    from delphi.actions.web import Links, WebRound, issue_link, links

_MODULES = {
    "analysis": ("Analysis", "compute_round", "analyse", "validate"),
    "rounds": ("NewRound", "choose_new_round", "missing_pdfs", "new_round", "Preview", "preview",
               "Suggestions", "suggestions", "questionnaire_context", "_earlier_results"),
    "intake": ("import_returns", "EntryForm", "entry_form", "enter_return"),
    "tracking": ("status",),
    "web": ("Links", "links", "issue_link", "WebRound"),
    "mail": ("MailRun", "MailOutcome", "plan_mail", "run_mail"),
    "reporting": ("REPORT_FORMATS", "DEFAULT_REPORT_FORMATS", "Report", "report"),
    "panel": ("Created", "init_study", "PanelImported", "import_panel", "Withdrawn", "withdraw",
              "ItemsImported", "import_items"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [  # noqa: RUF022 - grouped by module, as _MODULES
    "Analysis",
    "analyse",
    "compute_round",
    "validate",
    "EntryForm",
    "entry_form",
    "enter_return",
    "import_returns",
    "MailOutcome",
    "MailRun",
    "plan_mail",
    "run_mail",
    "DEFAULT_REPORT_FORMATS",
    "REPORT_FORMATS",
    "Report",
    "report",
    "Created",
    "init_study",
    "PanelImported",
    "import_panel",
    "Withdrawn",
    "withdraw",
    "ItemsImported",
    "import_items",
    "NewRound",
    "Preview",
    "Suggestions",
    "choose_new_round",
    "missing_pdfs",
    "new_round",
    "preview",
    "suggestions",
    "questionnaire_context",
    "status",
    "Links",
    "links",
    "issue_link",
    "WebRound",
    "_earlier_results",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"delphi.actions.{_HOME[name]}"), name)
    raise AttributeError(f"module 'delphi.actions' has no attribute {name!r}")
