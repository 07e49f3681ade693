"""The documentation in docs/ says what the code does: the command reference is the commands'
own --help, and every command's help shows an example that the command accepts."""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Callable
from types import ModuleType

import pytest

from tests.conftest import ROOT, Result

Run = Callable[..., Result]


def _gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_docs = _gen_docs()
CONTEXTS = dict(gen_docs.commands(gen_docs.top_context().command, gen_docs.top_context()))
COMMANDS = list(CONTEXTS)


def test_the_command_reference_is_what_help_says() -> None:
    written = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert written == gen_docs.reference(), ("docs/commands.md is out of date: run "
                                             "python scripts/gen_docs.py")


def test_commands_are_found_in_the_app_itself() -> None:
    assert {"delphi analyse", "delphi new-round", "delphi import", "delphi report",
            "delphi validate"} <= set(COMMANDS)
    for path in COMMANDS:
        assert f"## {path}\n" in gen_docs.reference()


@pytest.mark.parametrize("path", COMMANDS)
def test_every_command_has_help_with_an_example_it_accepts(path: str, cli: Run) -> None:
    words = path.split()[1:]
    result = cli(*words, "--help")
    assert result.exit_code == 0, result.stderr
    examples = [line.strip()[len("Example: "):] for line in result.stdout.splitlines()
                if line.strip().startswith("Example: ")]
    assert examples, f"{path} --help shows no 'Example: {path} ...' line"
    ctx = CONTEXTS[path]
    for example in examples:
        argv = shlex.split(example)
        assert argv[:len(words) + 1] == ["delphi", *words], example
        if not hasattr(ctx.command, "list_commands"):
            # The example's options and arguments parse as the command's own (nothing runs).
            ctx.command.make_context(ctx.info_name, argv[len(words) + 1:], parent=ctx.parent)
