"""Changes to YAML files a coordinator may have written by hand, keeping what they wrote.

``delphi panel import``, ``panel withdraw`` and ``items import`` change the roster and the
item bank, which are the coordinator's own files. They are edited with ruamel.yaml's
round-trip mode: the file is read into a tree that remembers its comments, key order, flow or
block style, quoting and indentation, the change is made in the tree, and the tree is written
back, so everything the change does not touch stays as it was. (Two things ruamel.yaml does
not keep: extra spaces used to align flow mappings, and a blank line right after a flow
collection.)

A comment or blank line that follows the last entry of a list or mapping belongs, in the
tree, to that entry; when an entry is added after it, the comment is moved to the new last
entry, so that a comment introducing what comes next in the file stays where it was.

Reading is for editing only: every file is validated first with the safe loader
(:mod:`delphi.store.yamlfile`), and the edited text is validated again before it is written.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from delphi.errors import Problem, StudyInvalid

Node = CommentedMap | CommentedSeq


class Document:
    """A YAML file read for a change: its tree, and how to write it back in its own style."""

    def __init__(self, path: Path, display: str) -> None:
        self.path, self.display = path, display
        try:
            text = path.read_text(encoding="utf-8")
            _, indent, dash = load_yaml_guess_indent(text)
            if indent is None:  # nothing indented yet: the study format's own style
                indent, dash = 4, 2
            dash = dash or 0
            self._yaml = YAML()  # round-trip; resolves only safe tags
            self._yaml.width = 4096  # never fold a long line that was not folded
            self._yaml.preserve_quotes = True
            self._yaml.indent(mapping=indent - dash if indent > dash else indent,
                              sequence=indent, offset=dash)
            self.data: Any = self._yaml.load(text)  # round-trip loader: safe tags only
        except (OSError, UnicodeDecodeError, YAMLError) as exc:
            raise StudyInvalid(Problem(f"cannot be read for editing ({exc})",
                                       file=display)) from None

    def text(self) -> str:
        """The document as YAML text."""
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()

    def stage(self) -> Path:
        """The changed text in a temporary file beside the original, with its permissions."""
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                    dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(self.text())
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(self.path, name)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)


def save(changes: list[tuple[Document, Callable[[Path], None]]]) -> None:
    """Write changed documents in place of their files, all or none, and only if they pass.

    Each document is first written to a temporary file beside its original, and its
    ``verify`` reads that back (raising if it is not what was meant); only when every one has
    passed are they moved over the originals, so a failure leaves every file as it was.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for document, verify in changes:
            staged.append((document.stage(), document.path))
            verify(staged[-1][0])
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def flow(value: dict[str, Any] | list[Any]) -> Node:
    """A mapping or list written on one line: ``{date: 2026-11-23, round: 2}``, ``[a, b]``."""
    node: Node = CommentedMap(value) if isinstance(value, dict) else CommentedSeq(value)
    node.fa.set_flow_style()
    return node


def block(value: dict[str, Any]) -> CommentedMap:
    """A mapping written one key a line."""
    node = CommentedMap(value)
    node.fa.set_block_style()
    return node


def set_key(mapping: CommentedMap, key: str, value: Any) -> None:
    """Set ``key``; a new key goes last, taking over the comment that followed the mapping."""
    if key in mapping:
        mapping[key] = value
        return
    tail = _take_tail(mapping)
    mapping[key] = value
    if tail:
        _put_tail(mapping, tail)


def append(seq: CommentedSeq, value: Any) -> None:
    """Append an entry, after the list's trailing comment lines; ``[]`` becomes a block list."""
    if not seq:
        seq.fa.set_block_style()
    tail = _take_tail(seq)
    seq.append(value)
    if tail:
        _put_tail(seq, tail)


def _last_slot(node: Node) -> tuple[Node, Any, int] | None:
    """Where the comment after ``node``'s last entry is kept: (container, key, slot)."""
    if not node:
        return None
    key: Any = list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1
    value = node[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        return _last_slot(value)
    return node, key, 2 if isinstance(node, CommentedMap) else 0


def _take_tail(node: Node) -> str | None:
    """Detach the full lines of comment (and blank lines) after ``node``'s last entry.

    An end-of-line comment on the last entry stays with it.
    """
    slot = _last_slot(node)
    if slot is None:
        return None
    container, key, index = slot
    entry = container.ca.items.get(key)
    if not entry or entry[index] is None:
        return None
    token = entry[index]
    first, _, rest = token.value.partition("\n")
    if not rest:
        return None
    if first:
        token.value = first + "\n"
    else:
        entry[index] = None
    return str(rest)


def _put_tail(node: Node, tail: str) -> None:
    """Attach comment lines after ``node``'s last entry."""
    slot = _last_slot(node)
    assert slot is not None
    container, key, index = slot
    size = 4 if isinstance(container, CommentedMap) else 2
    entry = container.ca.items.setdefault(key, [None] * size)
    if entry[index] is not None:
        entry[index].value += tail
    else:
        entry[index] = CommentToken("\n" + tail, CommentMark(0))
