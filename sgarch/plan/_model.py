"""The result of an offline plan: every resource the program registered and every export.

A :class:`Plan` answers the same lookups as the mocks (``one``, ``by_type``, ``children``...) and serialises
to JSON for other tools. Other sgarch features (cost, policy) attach their results under ``sections`` so
the JSON grows without changing its existing keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sgarch.testing._records import (
    SECRET_PLACEHOLDER,
    InvokeRecord,
    ResourceQuery,
    ResourceRecord,
    is_secret_value,
    redact_secrets,
)

__all__ = ["Plan", "json_ready"]


@dataclass
class Plan(ResourceQuery):
    """Resources and exports of one stack, planned offline.

    ``exports`` holds plain values (secrets included, unwrapped); ``secret_exports`` names the secret ones,
    which :meth:`to_dict` shows as ``"[secret]"``. ``sections`` holds extra JSON sections by name.
    """

    project: str
    stack: str
    records: list[ResourceRecord]
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: frozenset[str] = frozenset()
    config: dict[str, str] = field(default_factory=dict)
    secret_config: frozenset[str] = frozenset()
    invokes: list[InvokeRecord] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    def _records(self) -> list[ResourceRecord]:
        return self.records

    @property
    def stack_urn(self) -> str:
        """The URN of the root stack resource, the parent of every top-level resource."""
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:pulumi:Stack::{self.project}-{self.stack}"

    def ordered(self) -> Iterator[tuple[int, ResourceRecord]]:
        """Every resource as ``(depth, record)``, depth first, siblings sorted by type then name.

        Sorting (not registration order, which depends on thread timing) keeps output stable across runs.
        """
        by_parent: dict[str | None, list[ResourceRecord]] = {}
        urns = {r.urn for r in self.resources}
        for record in self.resources:
            parent = record.parent if record.parent in urns else None
            by_parent.setdefault(parent, []).append(record)

        def walk(parent: str | None, depth: int) -> Iterator[tuple[int, ResourceRecord]]:
            for record in sorted(by_parent.get(parent, []), key=lambda r: (r.type, r.name)):
                yield depth, record
                yield from walk(record.urn, depth + 1)

        yield from walk(None, 0)

    def resource_dict(self, record: ResourceRecord) -> dict[str, Any]:
        """One resource as JSON-ready data: type, name, urn, parent, custom, inputs (secret values redacted),
        non-default options and ``depends_on`` (the URNs it waits for, explicit or through its inputs)."""
        data: dict[str, Any] = {
            "type": record.type,
            "name": record.name,
            "urn": record.urn,
            "parent": record.parent,
            "custom": record.custom,
            "inputs": json_ready(_redact_values(dict(record.raw_inputs))),
        }
        data.update(record.options.non_default())
        if record.options.depends_on:
            data["depends_on"] = sorted(record.options.depends_on)
        return data

    def to_dict(self) -> dict[str, Any]:
        """The whole plan as JSON-ready data; secrets appear as ``"[secret]"``."""
        exports = {
            key: SECRET_PLACEHOLDER if key in self.secret_exports else json_ready(redact_secrets(value))
            for key, value in sorted(self.exports.items())
        }
        config = {k: SECRET_PLACEHOLDER if k in self.secret_config else v for k, v in self.config.items()}
        data: dict[str, Any] = {
            "project": self.project,
            "stack": self.stack,
            "config": config,
            "resources": [self.resource_dict(r) for _, r in self.ordered()],
            "exports": exports,
        }
        for name, section in self.sections.items():
            data[name] = json_ready(section)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


def _redact_values(value: Any) -> Any:
    """Secrets replaced by ``"[secret]"``, except that a secret map keeps its keys: which keys a Kubernetes
    Secret holds is part of the plan, their values are not."""
    if is_secret_value(value):
        inner = value.get("value")
        if isinstance(inner, dict):
            return {str(k): SECRET_PLACEHOLDER for k in inner}
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _redact_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_values(v) for v in value]
    return value


def json_ready(value: Any) -> Any:
    """Make a recorded value JSON-friendly: whole floats become ints (the engine sends every number as a
    float), assets become their text or path, anything else unknown becomes its string form."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    for attr in ("text", "path", "uri"):
        inner = getattr(value, attr, None)
        if isinstance(inner, str):
            return {attr: inner}
    return str(value)
