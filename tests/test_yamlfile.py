"""YAML loading: documents built from the parser's events are exactly what the loader builds.

``_load`` takes plain documents (a roster, a manifest) straight from the parser's events and
leaves anything else to the safe loader ``_Loader``; both must give the same data, and the same
error for a bad document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from delphi.store import yamlfile
from delphi.store.yamlfile import _Loader, _plain_data, _Unusual

ROOT = Path(__file__).resolve().parent.parent

# Plain scalars whose type the resolver decides (YAML 1.1, as PyYAML reads it).
TOKENS = ["yes", "No", "on", "OFF", "true", "False", "y", "n", "~", "null", "Null", "",
          "1", "-7", "+3", "0o17", "017", "0x1F", "0b101", "1_000", "1:20", "190:20:30",
          "1.5", "-.5", "1e3", "1.0e+3", ".inf", "-.Inf", ".nan", "2024-01-31",
          "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "1.1", "1.10", "5.1",
          "EA01", "Dr Ada Example", "ada@example.org", "a: b", "<<", "=", "Nora", "Ångström",
          "Ελληνικά", "'quoted'", '"double"', "x # comment", "[1, 2]", "{a: 1}", "- a"]

PLAIN = [
    "",
    "# only a comment\n",
    "---\n",
    "--- 5\n...\n",
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: ~, e: }\n",
    "- a\n- - b\n  - c\n-\n- {}\n- []\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "? a\n: b\n",
    "{1: a, 2: b}\n",
    "%YAML 1.1\n---\na: b\n",
    "a: {b: [c, {d: [e]}]}\n",
    "1.10: x\n1.1: y\n",
    "a: !!str 5\n",
    "a: !!binary aGVsbG8=\n",
    "a: &x [1, 2]\nb: *x\n",
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
    "a: 1\na: 2\n",
    "a: 1\n'a': 2\n",
    "1: a\ntrue: b\n",
    "? [a]\n: b\n",
    "a: !!python/object:os.system x\n",
    "a: !custom x\n",
    "a: =\n",
    "--- a\n--- b\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "a: 1\n\tb: 2\n",
    "a: *nowhere\n",
    "a: " + "9" * 5000 + "\n",
    "- ! [a]\n- ! {a: b}\n- ! a\n",
    "a: !!int '7'\n",
    "a: &a [*a]\n",
    ".nan: 1\n.NaN: 2\n",
]


def outcome(load: Any, text: str) -> tuple[str, str]:
    """What loading gives: the data's repr (types included), or the error's type and text."""
    try:
        return "data", repr(load(text))
    except (yaml.YAMLError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def by_loader(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - the safe loader under test


@pytest.mark.parametrize("text", PLAIN)
def test_events_give_what_the_loader_gives(text: str) -> None:
    assert outcome(yamlfile._load, text) == outcome(by_loader, text)


@pytest.mark.parametrize("text", PLAIN[:11])
def test_plain_documents_take_the_event_path(text: str) -> None:
    assert repr(_plain_data(text)) == repr(by_loader(text))


def test_every_study_file_of_the_examples_is_plain() -> None:
    """The event path is the one taken for real study files (roster, bank, manifests)."""
    files = [path for pattern in ("*.yaml", "panels/*.yaml", "questionnaires/*.yaml",
                                  "rounds/round-*/questionnaire.yaml", "examples/*/**/*.yaml",
                                  "delphi/templates/init/*.yaml")
             for path in ROOT.glob(pattern)]
    assert len(files) >= 25
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert repr(_plain_data(text)) == repr(by_loader(text)), path


@pytest.mark.parametrize("text", ["a: &x 1\n", "a: *x\n", "a: 1\na: 2\n", "a: !!binary aGk=\n",
                                  "--- a\n--- b\n", "<<: {a: 1}\n", "? [a]\n: b\n"])
def test_unusual_documents_are_left_to_the_loader(text: str) -> None:
    with pytest.raises((_Unusual, yaml.YAMLError)):
        _plain_data(text)


def block(value: Any, indent: int = 0) -> str:
    """Block-style YAML with every token written as it is (plain), for the resolver to read."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = ""
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out += f"{pad}{key}:\n{block(item, indent + 2)}"
            else:
                out += f"{pad}{key}: {block(item).strip()}\n"
        return out
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        return "".join(f"{pad}-\n{block(item, indent + 2)}" if isinstance(item, dict | list)
                       and item else f"{pad}- {block(item).strip()}\n" for item in value)
    return pad + str(value) + "\n"


documents = st.recursive(
    st.sampled_from(TOKENS),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(TOKENS[:40]), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_generated_documents_load_alike(data: Any, flow: bool) -> None:
    text = yaml.dump(data, default_flow_style=None) if flow else block(data)
    assert outcome(yamlfile._load, text) == outcome(by_loader, text)


@pytest.mark.parametrize(("text", "deep"), [
    ("a:\n" + " " * 500 + "b\n", False),
    ("a:\n" + " " * 501 + "b\n", True),
    ("a:\r" + "- " * 251 + "b\n", True),
    ("a: " + " " * 600 + "b\n", False),  # not at the start of a line
    ("a:\u2028" + "?" * 501, True),
    ("[" * 501 + "]" * 501, True),
])
def test_deep_documents_go_to_the_python_parser(text: str, deep: bool) -> None:
    """libyaml recurses in C for each level: a document that might nest deeper than
    C_PARSER_DEPTH is parsed by the pure-Python parser, whose recursion ends in an error."""
    assert yamlfile._might_nest_deeper(text) is deep
