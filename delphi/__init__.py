"""delphi: run Delphi consensus studies from a study folder.

The package's public names are imported on first use, so that the command line starts
quickly.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("delphi")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

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
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'delphi' has no attribute {name!r}")
