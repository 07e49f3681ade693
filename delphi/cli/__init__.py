"""The command line: ``delphi``. Parses options, calls :mod:`delphi.actions`, prints."""

from delphi.cli.app import app, main

__all__ = ["app", "main"]
