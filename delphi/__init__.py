"""delphi: run Delphi consensus studies from a study folder.

The package's public names are imported on first use, so that the command line starts
quickly.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DelphiError": "delphi.errors",
    "ItemBank": "delphi.core.models",
    "Manifest": "delphi.core.models",
    "PanelReturn": "delphi.core.models",
    "Roster": "delphi.core.models",
    "Settings": "delphi.core.models",
    "analyse_round": "delphi.core.analysis",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata alone costs a command 40 ms at start-up
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("delphi")
        except PackageNotFoundError:  # a source tree that was not installed
            return "0.0.0"
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'delphi' has no attribute {name!r}")
