"""delphi: run Delphi consensus studies from a study folder."""

from importlib.metadata import PackageNotFoundError, version

from delphi.core.analysis import analyse_round
from delphi.core.models import ItemBank, Manifest, PanelReturn, Roster, Settings
from delphi.errors import DelphiError

try:
    __version__ = version("delphi")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "DelphiError",
    "ItemBank",
    "Manifest",
    "PanelReturn",
    "Roster",
    "Settings",
    "__version__",
    "analyse_round",
]
