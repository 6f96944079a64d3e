"""Write the ``config:`` section of each stack's ``Pulumi.yaml`` from the stack's settings model.

The settings model is the one source of a config key's documentation: its field docstring becomes the key's
``description``, its default the key's ``default`` (or the "not set" value ``""``, ``0`` or ``[]`` that
:func:`~sgarch.refarch.config.read_settings` skips). A key's declared ``type``, ``items`` and ``secret`` are
kept from the file, and so is the keys' order: the type is the users' contract (``pulumi up`` checks stack
files against it, so changing one can reject a stack file that worked), and it is only checked here against
the field. A field without a declaration gets one derived from its annotation, placed after the field it
follows in the model.

Everything outside the ``config:`` section (name, runtime, description, options, comments) is kept byte for
byte. Maps and lists of maps (``tags``, ``egress_allowlist``) have no Pulumi config type and stay undeclared;
the files' header comments say how to set them.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sgarch.errors import ConfigError
from sgarch.refarch.config import WorkloadSettings
from sgarch.refarch.eks import EksSettings
from sgarch.refarch.poc import PocSettings
from sgarch.refarch.single_node import SingleNodeSettings

__all__ = [
    "STACK_SETTINGS",
    "config_description",
    "project_file_path",
    "project_files",
    "render_project_file",
]

STACK_SETTINGS: Mapping[str, type[WorkloadSettings] | type[PocSettings]] = {
    "single-node": SingleNodeSettings,
    "eks": EksSettings,
    "poc": PocSettings,
}
"""The settings model each ``stacks/<slug>/__main__.py`` reads with ``read_settings``."""

_CONFIG_LINE = re.compile(r"^config:[ \t]*(#.*)?$")
_LITERAL_MARKUP = re.compile(r"``([^`]+)``")


def project_file_path(slug: str) -> str:
    """Where a stack's project file lives, relative to the repository root."""
    return f"stacks/{slug}/Pulumi.yaml"


def config_description(info: FieldInfo) -> str:
    """A field's docstring as one line of plain text: the ``description`` ``pulumi config`` users read."""
    text = " ".join((info.description or "").split())
    return _LITERAL_MARKUP.sub(r"\1", text)


def render_project_file(text: str, model: type[BaseModel], where: str) -> str:
    """``text`` (a ``Pulumi.yaml``) with its ``config:`` section rewritten from ``model``.

    ``where`` names the file in errors. Raises ConfigError when a declared type cannot carry its field.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if _CONFIG_LINE.match(line.rstrip("\n"))), len(lines))
    end = start + 1
    # The section runs to the next top-level line; blank lines and indented lines belong to it.
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    head, tail = "".join(lines[:start]), "".join(lines[end:])
    old = (yaml.safe_load("".join(lines[start:end])) or {}).get("config") or {}
    fields = {name: info for name, info in model.model_fields.items() if _pulumi_type(info) is not None}
    declared = {name: _declaration(name, fields[name], old.get(name), where) for name in _order(fields, old)}
    section = _dump({"config": declared}).split("\n", 1)
    note = f"  # Written by `make docs` from {model.__module__}.{model.__qualname__}: edit its field docstrings.\n"
    return head + section[0] + "\n" + note + section[1] + tail


def _order(fields: Mapping[str, FieldInfo], old: Mapping[str, Any]) -> list[str]:
    """The file's order for the keys it declares (grouped by hand: the POC's required keys first), each new
    field right after the field it follows in the model."""
    order = [name for name in old if name in fields]
    previous: str | None = None
    for name in fields:
        if name not in order:
            order.insert(order.index(previous) + 1 if previous else 0, name)
        previous = name
    return order


def _declaration(name: str, info: FieldInfo, old: Any, where: str) -> dict[str, Any]:
    derived = _pulumi_type(info)
    assert derived is not None
    if isinstance(old, dict) and "type" in old:
        declared = {k: old[k] for k in ("type", "items", "secret") if k in old}
        _check_type(name, info, str(old["type"]), where)
    else:
        declared = {"type": derived}
        if derived == "array":
            declared["items"] = {"type": "string"}
    declared["description"] = config_description(info)
    if not info.is_required():
        declared["default"] = _default(name, info, str(declared["type"]), where)
    return declared


def _default(name: str, info: FieldInfo, type_: str, where: str) -> Any:
    value = info.get_default(call_default_factory=True)
    if value is None or (isinstance(value, (tuple, list, dict)) and not value):
        # The value read_settings treats as not set (a fresh list each time: the dump shares no objects).
        return [] if type_ == "array" else {"string": "", "integer": 0}[type_]
    if type_ == "string":
        # read_settings hands the program this text, which must parse back to the same value.
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    if type_ == "integer":
        if int(value) != value:
            raise ConfigError(
                f"{where}: config.{name}.type",
                "string for a default that is not a whole number",
                type_,
                "declare it as a string",
            )
        return int(value)
    if type_ == "array":
        return [str(item) for item in value]
    return bool(value)


def _check_type(name: str, info: FieldInfo, declared: str, where: str) -> None:
    kinds = _kinds(info)
    optional = type(None) in kinds
    kinds.discard(type(None))
    sequences = {tuple, list}
    fits = {
        "boolean": kinds == {bool} and not optional,
        "integer": kinds <= {int, float} and bool(kinds),
        "array": bool(kinds) and kinds <= sequences,
        "string": bool(kinds) and not kinds & sequences,
    }
    if not fits.get(declared, False):
        raise ConfigError(
            f"{where}: config.{name}.type",
            f"a Pulumi config type that carries {info.annotation}",
            declared,
            "fix the declaration, or delete it and run `make docs` to derive one",
        )


def _pulumi_type(info: FieldInfo) -> str | None:
    """The Pulumi config type a field gets when the file does not declare one; None for maps."""
    kinds = _kinds(info)
    optional = type(None) in kinds
    kinds.discard(type(None))
    if kinds & {dict} or _holds_maps(info.annotation):
        return None
    if kinds <= {tuple, list}:
        return "array"
    if kinds == {bool}:
        # An unset boolean is "", which only a string can be.
        return "string" if optional else "boolean"
    if kinds == {int}:
        return "integer"
    return "string"


def _kinds(info: FieldInfo) -> set[type]:
    """The runtime classes a field's annotation admits (``Literal`` counts as its values' classes)."""
    found: set[type] = set()
    for arg in _union_args(info.annotation):
        origin = typing.get_origin(arg)
        if origin is Literal:
            found |= {type(value) for value in typing.get_args(arg)}
        elif origin is not None:
            found.add(origin)
        elif isinstance(arg, type):
            found.add(arg)
    return found


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _holds_maps(annotation: Any) -> bool:
    for arg in _union_args(annotation):
        for item in typing.get_args(arg):
            if item is dict or typing.get_origin(item) is dict:
                return True
    return False


class _Dumper(yaml.SafeDumper):
    """Block mappings with flow lists (``[api, audit]``, ``[]``), the way the files were written by hand."""

    def ignore_aliases(self, data: Any) -> bool:
        # Every key reads on its own: no &id001 anchors, even when two values are equal objects.
        return True


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(list, _flow_list)


def _dump(data: dict[str, Any]) -> str:
    # One line per description, however long: a diff of a changed description is then one line.
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def project_files(root: Path) -> dict[str, str]:
    """Each existing stack's ``Pulumi.yaml`` as ``{path relative to root: text}``, config rewritten."""
    files = {}
    for slug, model in STACK_SETTINGS.items():
        relative = project_file_path(slug)
        path = root / relative
        if path.is_file():
            files[relative] = render_project_file(path.read_text(encoding="utf-8"), model, relative)
    return files
