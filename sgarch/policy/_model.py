"""Rules, severities and findings: the vocabulary of ``sgarch.policy``."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sgarch.policy._index import Resources
    from sgarch.testing import ResourceRecord

__all__ = ["Finding", "Rule", "Severity", "Violation"]


class Severity(str, enum.Enum):
    """How bad a finding is. Members compare by rank: ``Severity.CRITICAL > Severity.HIGH``."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return list(Severity).index(self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Violation:
    """What a rule's check reports: the offending resource and what is wrong with it."""

    record: ResourceRecord
    message: str


@dataclass(frozen=True)
class Rule:
    """One policy rule (cdk-nag style): an id, a severity, what triggers it and why it matters.

    ``check`` is a pure function over the recorded resources that yields one :class:`Violation` per
    offending resource.
    """

    id: str
    title: str
    severity: Severity
    applies_to: tuple[str, ...]
    cause: str
    explanation: str
    fix: str
    check: Callable[[Resources], Iterable[Violation]]


@dataclass(frozen=True)
class Finding:
    """One violation of one rule by one resource; kept (with its reason) when suppressed."""

    rule_id: str
    title: str
    severity: Severity
    resource_type: str
    resource: str
    urn: str
    message: str
    fix: str
    suppressed: bool = False
    suppression_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``sgarch plan --json``."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity.value,
            "resource_type": self.resource_type,
            "resource": self.resource,
            "urn": self.urn,
            "message": self.message,
            "fix": self.fix,
            "suppressed": self.suppressed,
            "suppression_reason": self.suppression_reason,
        }
