"""Read a Pulumi project folder the way the Pulumi CLI does: ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml``.

Config keys are namespaced like the CLI: a key ``tier`` of project ``single-node`` is
``single-node:tier``; keys that already carry a namespace (``aws:region``) stay as they are. Values reach the
program as strings, as ``pulumi config`` stores them: booleans ``true``/``false``, objects and lists as JSON.
``Pulumi.yaml`` may declare a key's ``type`` (string, integer, boolean, array, object), ``default``,
``description`` and ``secret``; declared keys without a default must be set, as ``pulumi up`` insists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sgarch.errors import ConfigError

__all__ = ["ConfigKey", "Project", "ResolvedConfig", "full_key", "load_project", "resolve_config"]

SECRET_PLACEHOLDER_VALUE = "secret-placeholder"
"""What a ``secure:`` value reads as offline: it cannot be decrypted without the Pulumi CLI."""

_TYPES = ("string", "integer", "boolean", "array", "object")


@dataclass(frozen=True)
class ConfigKey:
    """One config key declared in ``Pulumi.yaml``."""

    key: str
    type: str | None = None
    default: Any = None
    has_default: bool = False
    description: str | None = None
    secret: bool = False


@dataclass(frozen=True)
class Project:
    """A Pulumi project folder: its name, program and declared config."""

    name: str
    directory: Path
    program: Path
    stack_config_dir: Path
    declared: Mapping[str, ConfigKey] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None

    def stack_file(self, stack: str) -> Path:
        """Where ``Pulumi.<stack>.yaml`` lives."""
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stack_names(self) -> list[str]:
        """Stacks that have a config file, sorted."""
        names = []
        for path in self.stack_config_dir.glob("Pulumi.*.yaml"):
            names.append(path.name[len("Pulumi.") : -len(".yaml")])
        return sorted(names)


@dataclass(frozen=True)
class ResolvedConfig:
    """Config ready for ``pulumi.runtime.set_all_config``: full keys, string values, secret keys."""

    values: dict[str, str]
    secret_keys: tuple[str, ...]

    @property
    def region(self) -> str | None:
        """The ``aws:region`` value, if any."""
        return self.values.get("aws:region")


def full_key(project: str, key: str) -> str:
    """``tier`` -> ``<project>:tier``; ``aws:region`` stays as it is."""
    return key if ":" in key else f"{project}:{key}"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(str(path), "valid YAML", f"a syntax error at{where}", "fix the file") from None


def load_project(directory: str | Path) -> Project:
    """Read ``Pulumi.yaml`` in ``directory``; ConfigError when it is missing or not a Python project."""
    root = Path(directory).resolve()
    path = next((root / n for n in ("Pulumi.yaml", "Pulumi.yml") if (root / n).is_file()), None)
    if path is None:
        raise ConfigError(
            "STACK_DIR", "a folder with a Pulumi.yaml", str(directory), "point at a stack folder"
        )
    data = _read_yaml(path) or {}
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigError(f"{path}: name", "the project name", None, "add 'name: <project>' to Pulumi.yaml")
    name = data["name"]
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ConfigError(f"{path}: runtime", "python", runtime_name, "sgarch plan runs Python programs only")
    main = root / str(data.get("main") or ".")
    program = main / "__main__.py" if main.is_dir() else main
    if not program.is_file():
        raise ConfigError(
            f"{path}: main", "a Python program", str(program), "add __main__.py to the stack folder"
        )
    options = data.get("options") if isinstance(data.get("options"), dict) else {}
    config_dir = root / str(data.get("stackConfigDir") or (options or {}).get("stackConfigDir") or ".")

    declared: dict[str, ConfigKey] = {}
    values: dict[str, Any] = {}
    for raw_key, spec in (data.get("config") or {}).items():
        key = full_key(name, str(raw_key))
        if isinstance(spec, dict) and "value" in spec:
            values[key] = spec["value"]
        elif isinstance(spec, dict):
            type_ = spec.get("type")
            if type_ is not None and type_ not in _TYPES:
                raise ConfigError(
                    f"{path}: config.{raw_key}.type",
                    "one of " + ", ".join(_TYPES),
                    type_,
                    "fix the declaration",
                )
            declared[key] = ConfigKey(
                key=key,
                type=type_,
                default=spec.get("default"),
                has_default="default" in spec,
                description=spec.get("description"),
                secret=bool(spec.get("secret")),
            )
        else:
            # The short form `key: value` sets a project-wide value.
            values[key] = spec
    return Project(
        name=name,
        directory=root,
        program=program,
        stack_config_dir=config_dir,
        declared=declared,
        values=values,
        description=data.get("description"),
    )


def choose_stack(project: Project, stack: str | None) -> str:
    """The stack to plan: ``stack`` if given (its config file must exist), else the only one, else ``dev``."""
    names = project.stack_names()
    if stack is not None:
        if stack not in names:
            have = ", ".join(names) or "none"
            raise ConfigError(
                "--stack", f"a stack with a Pulumi.{stack}.yaml file", stack, f"stacks here: {have}"
            )
        return stack
    if len(names) == 1:
        return names[0]
    if not names or "dev" in names:
        return "dev"
    raise ConfigError("--stack", "given when several stacks exist", None, "choose one of " + ", ".join(names))


def _to_string(key: str, value: Any, type_: str | None, source: str) -> str:
    """Check ``value`` against the declared type and render it as the config string Pulumi stores."""
    fix = f"fix {source}" if source.startswith("the ") else f"fix it in {source}"
    if type_ == "integer":
        if isinstance(value, bool):
            raise ConfigError(key, "an integer", value, fix)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            try:
                return str(int(value.strip()))
            except ValueError:
                pass
        raise ConfigError(key, "an integer", value, fix)
    if type_ == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower()
        raise ConfigError(key, "true or false", value, fix)
    if type_ in ("array", "object"):
        expected = list if type_ == "array" else dict
        parsed = value
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
        if not isinstance(parsed, expected):
            raise ConfigError(key, f"a JSON {'list' if type_ == 'array' else 'object'}", value, fix)
        return json.dumps(parsed)
    if type_ == "string":
        if isinstance(value, (dict, list)):
            raise ConfigError(key, "a string", value, fix)
        return "true" if value is True else "false" if value is False else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def parse_overrides(items: Sequence[str], project: str) -> dict[str, str]:
    """``["tier=M", "aws:region=eu-west-1"]`` -> full keys and string values; ConfigError on bad syntax."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--config", "key=value", item, "write it as --config tier=M")
        result[full_key(project, key.strip())] = value
    return result


def resolve_config(
    project: Project, stack: str, overrides: Mapping[str, str] | None = None
) -> ResolvedConfig:
    """Merge Pulumi.yaml defaults and values, ``Pulumi.<stack>.yaml`` and ``overrides`` (full keys), in
    that order, check declared types, and render every value as a string."""
    raw: dict[str, tuple[Any, str]] = {}
    secret_keys: set[str] = set()
    for key, spec in project.declared.items():
        if spec.has_default:
            raw[key] = (spec.default, "Pulumi.yaml")
        if spec.secret:
            secret_keys.add(key)
    for key, value in project.values.items():
        raw[key] = (value, "Pulumi.yaml")

    stack_file = project.stack_file(stack)
    source = stack_file.name
    if stack_file.is_file():
        data = _read_yaml(stack_file) or {}
        for raw_key, value in ((data.get("config") if isinstance(data, dict) else None) or {}).items():
            key = full_key(project.name, str(raw_key))
            if isinstance(value, dict) and set(value) == {"secure"}:
                raw[key] = (SECRET_PLACEHOLDER_VALUE, source)
                secret_keys.add(key)
            else:
                raw[key] = (value, source)
    for key, value in (overrides or {}).items():
        raw[key] = (value, "the --config value")

    values: dict[str, str] = {}
    for key, (value, where) in raw.items():
        declared = project.declared.get(key)
        values[key] = _to_string(key, value, declared.type if declared else None, where)
    for key in project.declared:
        if key not in values:
            short = key.split(":", 1)[1] if key.startswith(project.name + ":") else key
            raise ConfigError(
                key, "set", None, f"add it to Pulumi.{stack}.yaml or pass --config {short}=<value>"
            )
    return ResolvedConfig(values=dict(sorted(values.items())), secret_keys=tuple(sorted(secret_keys)))
