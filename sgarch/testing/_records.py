"""What the mocks record: one :class:`ResourceRecord` per registered resource, one :class:`InvokeRecord` per
invoke, and :class:`ResourceQuery`, the lookup helpers shared by the mocks and by :class:`sgarch.plan.Plan`.

Inputs are kept as the engine would see them: camelCase property names (``cidrBlock``, ``instanceType``),
numbers as floats (``443.0``), and secrets wrapped by Pulumi's secret marker. ``inputs`` unwraps secrets so
tests can compare values; :meth:`ResourceRecord.redacted_inputs` replaces them with ``"[secret]"`` for output
meant for people and other tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SECRET_PLACEHOLDER",
    "InvokeRecord",
    "RecordedOptions",
    "ResourceQuery",
    "ResourceRecord",
    "is_secret_value",
    "redact_secrets",
    "unwrap_secrets",
]

SECRET_PLACEHOLDER = "[secret]"

# Pulumi marks a secret on the wire with this signature; pulumi.runtime.rpc keeps it after deserialising.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_secret_value(value: Any) -> bool:
    """Whether ``value`` is a deserialised Pulumi secret (a dict carrying the secret signature)."""
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def unwrap_secrets(value: Any) -> Any:
    """Return ``value`` with every secret replaced by its plain value, recursively."""
    if is_secret_value(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def redact_secrets(value: Any, placeholder: str = SECRET_PLACEHOLDER) -> Any:
    """Return ``value`` with every secret replaced by ``placeholder``, recursively."""
    if is_secret_value(value):
        return placeholder
    if isinstance(value, dict):
        return {k: redact_secrets(v, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v, placeholder) for v in value]
    return value


@dataclass(frozen=True)
class RecordedOptions:
    """The resource options the engine received for one resource (``pulumi.ResourceOptions``).

    Only options that matter when reviewing a plan are kept; ``depends_on`` and ``deleted_with`` are URNs.
    """

    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    deleted_with: str | None = None
    import_id: str | None = None
    provider: str | None = None

    def non_default(self) -> dict[str, Any]:
        """The options that differ from Pulumi's defaults, as a JSON-ready dict (empty for most resources)."""
        out: dict[str, Any] = {}
        for name, default in _OPTION_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


_OPTION_DEFAULTS: dict[str, Any] = {
    "protect": False,
    "retain_on_delete": False,
    "delete_before_replace": False,
    "ignore_changes": (),
    "replace_on_changes": (),
    "additional_secret_outputs": (),
    "deleted_with": None,
    "import_id": None,
}


@dataclass(frozen=True)
class ResourceRecord:
    """One resource the program registered, as the engine would have received it.

    ``type`` is the type token (``aws:ec2/vpc:Vpc``), ``name`` the logical name, ``urn`` the full URN and
    ``parent`` the parent's URN (the stack's URN for top-level resources, ``None`` for the stack itself).
    ``outputs`` is the state the mocks answered with: the inputs plus computed values such as ``id`` and
    ``arn``.
    """

    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    id: str
    raw_inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    options: RecordedOptions = field(default_factory=RecordedOptions)
    read: bool = False

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs with secrets unwrapped (camelCase keys, numbers as floats)."""
        result: dict[str, Any] = unwrap_secrets(dict(self.raw_inputs))
        return result

    @property
    def secret_inputs(self) -> frozenset[str]:
        """Names of top-level inputs that are secret or contain a secret."""
        return frozenset(k for k, v in self.raw_inputs.items() if _contains_secret(v))

    @property
    def protect(self) -> bool:
        """Whether the resource is protected from deletion (``ResourceOptions.protect``)."""
        return self.options.protect

    @property
    def parent_name(self) -> str | None:
        """The parent's logical name, read from its URN."""
        return None if self.parent is None else self.parent.rsplit("::", 1)[-1]

    @property
    def parent_type(self) -> str | None:
        """The parent's type token, read from its URN."""
        if self.parent is None:
            return None
        return self.parent.split("::")[2].split("$")[-1]

    def redacted_inputs(self) -> dict[str, Any]:
        """The inputs with every secret replaced by ``"[secret]"``."""
        result: dict[str, Any] = redact_secrets(dict(self.raw_inputs))
        return result

    def tags(self) -> dict[str, str]:
        """The resource's ``tags`` input (empty when it has none)."""
        tags = self.inputs.get("tags") or {}
        return {str(k): str(v) for k, v in tags.items()}


def _contains_secret(value: Any) -> bool:
    if is_secret_value(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


@dataclass(frozen=True)
class InvokeRecord:
    """One invoke (data source call such as ``aws.get_availability_zones``) and its answer."""

    token: str
    args: Mapping[str, Any]
    provider: str
    result: Mapping[str, Any]


class ResourceQuery:
    """Lookups over recorded resources, shared by :class:`~sgarch.testing.SgarchMocks` and the plan.

    Subclasses provide :meth:`_records`; everything else is derived from it.
    """

    def _records(self) -> list[ResourceRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def resources(self) -> list[ResourceRecord]:
        """Every recorded resource except the stack, in registration order."""
        return [r for r in self._records() if r.type != "pulumi:pulumi:Stack"]

    def by_type(self, type_: str) -> list[ResourceRecord]:
        """Every resource of type token ``type_`` (``"aws:ec2/subnet:Subnet"``), in registration order."""
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> list[ResourceRecord]:
        """Every resource with logical name ``name`` (names are unique per type, not overall)."""
        return [r for r in self.resources if r.name == name]

    def one(self, type_: str, name: str | None = None) -> ResourceRecord:
        """The single resource of ``type_`` (and ``name`` when given); AssertionError listing what exists."""
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            have = sorted(f"{r.type} {r.name}" for r in self.resources)
            want = type_ if name is None else f"{type_} {name}"
            raise AssertionError(f"expected exactly one {want}, found {len(found)}; recorded: {have}")
        return found[0]

    def get(self, type_: str, name: str) -> ResourceRecord | None:
        """The resource with this type token and logical name, or None."""
        for record in self.resources:
            if record.type == type_ and record.name == name:
                return record
        return None

    def names(self, type_: str) -> list[str]:
        """Sorted logical names of every resource of ``type_``."""
        return sorted(r.name for r in self.by_type(type_))

    def children(self, parent: ResourceRecord | str) -> list[ResourceRecord]:
        """Direct children of ``parent`` (a record or a URN)."""
        urn = parent if isinstance(parent, str) else parent.urn
        return [r for r in self.resources if r.parent == urn]

    def descendants(self, parent: ResourceRecord | str) -> Iterator[ResourceRecord]:
        """Every resource below ``parent``, depth first."""
        for child in self.children(parent):
            yield child
            yield from self.descendants(child)

    def type_counts(self) -> dict[str, int]:
        """How many resources of each type token, sorted by type."""
        counts: dict[str, int] = {}
        for record in self.resources:
            counts[record.type] = counts.get(record.type, 0) + 1
        return dict(sorted(counts.items()))


def records_by_urn(records: Iterable[ResourceRecord]) -> dict[str, ResourceRecord]:
    """Index records by URN."""
    return {r.urn: r for r in records}
