"""Safe YAML loading with errors a person can act on (``file:line: field: message``).

Documents are loaded with the C safe loader when libyaml is present. Duplicate keys in a
mapping are an error (plain YAML keeps the last one silently). When a pydantic model rejects
the data, each error's location is mapped back to the line it came from by composing the
document once more, which costs nothing on the happy path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from delphi.errors import MissingFile, Problem, StudyInvalid, dotted

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, display: str) -> Any:
    """Parse a YAML file safely; errors name ``display`` and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingFile(display) from None
    except UnicodeDecodeError as exc:
        raise StudyInvalid(Problem(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8",
                                   file=display)) from None
    except IsADirectoryError:
        raise StudyInvalid(Problem("is a folder, not a YAML file", file=display)) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - safe: _Loader is a safe loader
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
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Base)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
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
            break
        node = child
    return line


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
        line = line_of(path, loc)
        problems.append(Problem(message, file=display, line=line, field=dotted(loc) or None,
                                loc=loc))
    return problems


def dump_yaml(data: Any, flow_leaves: bool = False) -> str:
    """YAML text of plain data, keys in their given order, long lines unwrapped.

    With ``flow_leaves``, collections of scalars are written inline (``[a, b]``).
    """
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096,
                     default_flow_style=None if flow_leaves else False)
