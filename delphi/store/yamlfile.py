"""Safe YAML loading with errors a person can act on (``file:line: field: message``).

Documents are loaded with the C safe loader when libyaml is present. Duplicate keys in a
mapping are an error (plain YAML keeps the last one silently). When a pydantic model rejects
the data, each error's location is mapped back to the line it came from by composing the
document once more, which costs nothing on the happy path.

A plain document of mappings, lists and scalars (a roster of thousands, a round's manifest)
is built straight from the parser's events, without the node graph, the size count and the
Python constructors in between (about four times faster: a roster of 5,000 read in 0.13 s,
was 0.5 s); anything else (anchors, aliases, other tags, merge keys, a duplicate key, an
error) goes to the loader above, which decides what the data or the message is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from delphi.errors import Problem, StudyInvalid, dotted
from delphi.store.limits import STUDY_FILE_BYTES, YAML_NODES, read_text_bounded

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# libyaml composes nested collections by C recursion, which a document nested some ten
# thousand levels deep overflows (a crash, not an exception). A document that might nest
# deeper than this goes to the pure-Python parser, whose recursion ends in RecursionError.
C_PARSER_DEPTH = 500
_BRACKETS = re.compile(r"[\[\]{}]")


def _might_nest_deeper(text: str, depth: int = C_PARSER_DEPTH) -> bool:
    """A cheap upper bound of a document's nesting: indentation, dashes and open brackets."""
    level = 0
    for bracket in _BRACKETS.findall(text):  # quoted brackets count too: an upper bound
        level = level + 1 if bracket in "[{" else max(level - 1, 0)
        if level > depth:
            return True
    return any(len(line) - len(line.lstrip(" -?:")) > depth for line in text.splitlines())


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_document(self, node: yaml.Node) -> Any:
        """The document's data, once its size with aliases expanded is known to be bounded."""
        _check_expanded_size(node)
        return super().construct_document(node)


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document whose ``*aliases`` multiply it beyond :data:`YAML_NODES` values.

    A few lines of anchors and aliases can stand for a billion values ("billion laughs");
    counted here without expanding anything (each node's size once, iteratively).
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                raise yaml.constructor.ConstructorError(
                    None, None, "an alias refers to a collection that contains it",
                    node.start_mark)
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in children)
        if sizes[key] > YAML_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"the document stands for more than {YAML_NODES:,} values once its "
                "*aliases are expanded; write the values out", node.start_mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


class _PyLoader(yaml.SafeLoader):
    """The same checks on the pure-Python parser, for documents that may nest very deep."""

    construct_mapping = _Loader.construct_mapping
    construct_document = _Loader.construct_document


_PyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                          _PyLoader.construct_mapping)


def _loader(text: str) -> Any:
    return _PyLoader if _might_nest_deeper(text) else _Loader


class _Unusual(Exception):
    """Something the event path leaves to the loader (see :func:`_plain_data`)."""


_TAG = "tag:yaml.org,2002:"
_STR, _NULL = _TAG + "str", _TAG + "null"
_SCALARS = {_TAG + t for t in ("bool", "int", "float", "timestamp")}
_EXPECTING_KEY = object()


def _load(text: str) -> Any:
    """The data of a YAML document, as the safe loader (:class:`_Loader`) builds it."""
    loader = _loader(text)
    if loader is _Loader:
        try:
            return _plain_data(text)
        except Exception:  # noqa: BLE001 - the loader below gives the data or the message
            pass
    return yaml.load(text, Loader=loader)  # noqa: S506 - both are safe loaders


def _plain_data(text: str) -> Any:
    """A plain document's data, built from the parser's events as :class:`_Loader` would.

    Plain: one document of mappings with scalar keys, sequences and scalars, with no anchor,
    alias or tag other than the standard scalar ones (``!!str``, ``!!int`` ...), no merge key
    (``<<``), no duplicate key and at most :data:`YAML_NODES` values. Scalars are resolved
    (``yes``, ``1.5``, ``2024-01-31``, ``~``) and constructed by the loader's own resolver
    and constructors. Anything else raises :class:`_Unusual`, as does any error, so that the
    loader itself decides.
    """
    loader = _Loader(text)
    try:
        return _build(loader)
    finally:
        loader.dispose()


def _build(loader: _Loader) -> Any:
    first_chars = loader.yaml_implicit_resolvers
    if loader.yaml_path_resolvers or None in first_chars:
        raise _Unusual("path or wildcard resolvers")
    get = loader.get_event
    get()  # StreamStart
    if isinstance(get(), yaml.StreamEndEvent):
        return None  # no document at all
    containers: list[dict[Any, Any] | list[Any]] = []
    keys: list[Any] = []  # per open collection: the pending key, or _EXPECTING_KEY
    root: Any = None
    count = 0
    while True:
        event = get()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            data = _scalar(loader, event, first_chars)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise _Unusual("anchor or tag")
            if containers and isinstance(containers[-1], dict) and keys[-1] is _EXPECTING_KEY:
                raise _Unusual("a collection as a key")
            containers.append({} if kind is yaml.MappingStartEvent else [])
            keys.append(_EXPECTING_KEY)
            count += 1
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            data = containers.pop()
            keys.pop()
        elif kind is yaml.DocumentEndEvent:
            if not isinstance(get(), yaml.StreamEndEvent):
                raise _Unusual("more than one document")
            return root
        else:
            raise _Unusual("alias")
        count += 1
        if count > YAML_NODES:
            raise _Unusual("too many values")
        if not containers:
            root = data
            continue
        top = containers[-1]
        if isinstance(top, list):
            top.append(data)
        elif keys[-1] is _EXPECTING_KEY:
            if data in top:
                raise _Unusual("duplicate key")
            keys[-1] = data
        else:
            top[keys[-1]] = data
            keys[-1] = _EXPECTING_KEY


def _scalar(loader: _Loader, event: yaml.ScalarEvent, first_chars: dict[Any, Any]) -> Any:
    """A scalar's value: its tag resolved as the composer does, constructed as the loader."""
    if event.anchor is not None:
        raise _Unusual("anchor")
    tag, value = event.tag, event.value
    if tag is None or tag == "!":
        implicit = event.implicit
        if not implicit[0] or (value and value[0] not in first_chars):
            tag = _STR  # what the resolver gives, without its call
        else:
            tag = loader.resolve(yaml.ScalarNode, value, implicit)
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag in _SCALARS:
        node = yaml.ScalarNode(tag, value, style=event.style)  # constructors read the value
        return loader.yaml_constructors[tag](loader, node)
    raise _Unusual("tag")


M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, display: str) -> Any:
    """Parse a YAML file safely; errors name ``display`` and the line."""
    if path.is_dir():
        raise StudyInvalid(Problem("is a folder, not a YAML file", file=display))
    text = read_text_bounded(path, display, STUDY_FILE_BYTES, "save the file as UTF-8")
    try:
        return _load(text)
    except RecursionError:
        raise StudyInvalid(Problem("malformed YAML: nested too deep", file=display)) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise StudyInvalid(Problem(f"malformed YAML: {str(exc)[:160]}", file=display)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or str(exc)
        if exc.context and exc.problem:
            what = f"{exc.context}, {exc.problem}"
        raise StudyInvalid(Problem(f"malformed YAML: {what}", file=display, line=line)) from None
    except yaml.YAMLError as exc:
        raise StudyInvalid(Problem(f"malformed YAML: {exc}", file=display)) from None


def load_model(path: Path, display: str, model: type[M]) -> tuple[M, Any]:
    """Read ``path`` and validate it as ``model``; returns the model and the raw data."""
    data = read_yaml(path, display)
    if data is None:
        raise StudyInvalid(Problem("the file is empty", file=display, line=1))
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        raise StudyInvalid(validation_problems(exc, path, display, data)) from None


def line_of(path: Path, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest node along ``loc`` in the YAML file at ``path``."""
    return _place(path, loc)[0]


def _place(path: Path, loc: tuple[str | int, ...]) -> tuple[int | None, yaml.Node | None]:
    """The line of the deepest node along ``loc``, and that node if ``loc`` leads to it."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader if _might_nest_deeper(text) else _Base)
    except (OSError, yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
        return None, None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
        if child is None:
            return line, None
        node = child
    return line, node


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], Any, bool]:
    """Follow ``loc`` through ``data``, skipping the type tags pydantic adds to it.

    Returns the part of ``loc`` found in ``data``, the value there, and whether all was found.
    """
    path: list[str | int] = []
    value = data
    for part in loc:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            if isinstance(value, dict) and isinstance(part, str) and not any(
                    c in part for c in "[]()-, "):
                path.append(part)  # a missing or unknown key: still the place to point at
                return tuple(path), None, False
            continue
        path.append(part)
    return tuple(path), value, True



def validation_problems(exc: ValidationError, path: Path, display: str,
                        data: Any) -> list[Problem]:
    """One problem per distinct place, with file, line, field and the offending value."""
    problems: list[Problem] = []
    seen: set[tuple[str | int, ...]] = set()
    for err in exc.errors(include_url=False):
        loc, value, found = _data_path(data, tuple(err["loc"]))
        if loc in seen:
            continue
        seen.add(loc)
        kind = err["type"]
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if kind == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}; check its spelling"
            loc = loc[:-1] + (loc[-1],)
        elif kind == "missing":
            message = "required key is missing"
        elif found and not isinstance(value, dict | list) and kind != "value_error":
            message = f"{message} (got {value!r})"
        line, node = _place(path, loc)
        if (found and isinstance(node, yaml.ScalarNode) and not node.style
                and not isinstance(value, str) and node.value != str(value)):
            # Advice to quote a value quotes what the file says (1.10), not what YAML made of
            # it (1.1).
            message = message.replace(f'"{value}"', f'"{node.value}"')
        problems.append(Problem(message, file=display, line=line, field=dotted(loc) or None,
                                loc=loc))
    return problems


def dump_yaml(data: Any, flow_leaves: bool = False) -> str:
    """YAML text of plain data, keys in their given order, long lines unwrapped.

    With ``flow_leaves``, collections of scalars are written inline (``[a, b]``).
    """
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096,
                     default_flow_style=None if flow_leaves else False)
