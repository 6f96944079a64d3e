"""Build validated argument models with one-line errors in the caller's vocabulary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sgarch.errors import ConfigError, config_error_from_pydantic
from sgarch.naming import validate_tags

__all__ = [
    "ARCHITECTURE_NAME",
    "CLOUDWATCH_LOG_RETENTION_DAYS",
    "WORLD_CIDRS",
    "ArgsModel",
    "ComponentArgs",
    "StrInput",
    "StrListInput",
    "build",
    "unwrap_validation_error",
    "validate_log_retention_days",
]

if TYPE_CHECKING:
    import pulumi

    StrInput = pulumi.Input[str]
    StrListInput = pulumi.Input[list[str]]
else:
    # Pydantic cannot resolve pulumi.Input's forward references; wiring values (ids, ARNs, Outputs) are
    # passed through unvalidated, which is what args models want for them anyway.
    StrInput = Any
    StrListInput = Any

M = TypeVar("M", bound=BaseModel)

CLOUDWATCH_LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
"""The only retention periods CloudWatch Logs accepts (``PutRetentionPolicy``), in days."""

WORLD_CIDRS: frozenset[str] = frozenset({"0.0.0.0/0", "::/0"})
"""The ranges meaning "anyone on the internet", IPv4 and IPv6: an internal load balancer refuses them, a public
one opens only HTTPS to them, and the policy rules and ``sgarch doctor`` flag them."""
ARCHITECTURE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
"""What an ``sgarch:architecture`` value looks like (``single-node``, ``eks``, ``poc``)."""


def validate_log_retention_days(value: int, field: str = "log_retention_days") -> int:
    """``value`` if CloudWatch Logs accepts it as a retention period, else a ConfigError naming ``field``.

    CloudWatch rejects anything outside its fixed list (45 days, for one) only when the log group is created,
    long after a plan looked fine; every setting that ends up as a log group's retention goes through here.
    """
    if value in CLOUDWATCH_LOG_RETENTION_DAYS:
        return value
    allowed = ", ".join(str(d) for d in CLOUDWATCH_LOG_RETENTION_DAYS)
    nearest = min(CLOUDWATCH_LOG_RETENTION_DAYS, key=lambda d: (abs(d - value), d))
    raise ConfigError(
        field,
        f"a retention CloudWatch Logs accepts ({allowed} days)",
        value,
        f"use {nearest}, the nearest allowed value",
    )


def unwrap_validation_error(exc: ValidationError, names: Mapping[str, str] | None = None) -> ConfigError:
    """The first error of ``exc`` as a ConfigError: ours when a validator raised one, else pydantic's, reworded."""
    names = names or {}
    for error in exc.errors():
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, ConfigError):
            return inner.renamed(names)
    return config_error_from_pydantic(exc, names)


def build(model: type[M], names: Mapping[str, str] | None = None, /, **raw: Any) -> M:
    """``model(**raw)``, raising :class:`ConfigError` (renamed through ``names``) instead of ValidationError."""
    try:
        return model(**raw)
    except ValidationError as exc:
        raise unwrap_validation_error(exc, names) from None
    except ConfigError as exc:
        raise exc.renamed(names or {}) from None


class ArgsModel(BaseModel):
    """Base of the components' ``*Args``: frozen, no unknown fields, and every invalid argument a ConfigError.

    Pydantic would raise its multi-line ``ValidationError``; a user constructing ``SingleNodeArgs(...)`` in
    their own program gets the one-line :class:`~sgarch.errors.ConfigError` the README promises instead
    (a ``ValueError`` too). Nested models validated from dicts are checked by the outer model's call.
    """

    # Field docstrings become the fields' descriptions: the one source of argument docs (tests check each
    # optional field states its default, and `make docs` writes the stacks' Pulumi.yaml descriptions from them).
    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, use_attribute_docstrings=True
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise unwrap_validation_error(exc) from None


class ComponentArgs(ArgsModel):
    """Base of the ``*Args`` of a component that creates AWS resources: its tags and its architecture.

    Every such resource carries ``sgarch:architecture``, ``sgarch:stack`` and ``ManagedBy`` (see
    :mod:`sgarch.naming`), then the user's ``tags`` on top. The ``sgarch:`` keys are refused here, so a user
    tag can never hide which deployment a resource belongs to; cost reports and ``sgarch doctor`` rely on them.
    """

    tags: dict[str, str] = Field(default_factory=dict)
    """Tags on every AWS resource the component creates, on top of sgarch's own (``sgarch:architecture``,
    ``sgarch:stack`` and ``ManagedBy=sgarch``; a tag here may replace ``ManagedBy`` but no ``sgarch:`` key).
    Default: none."""
    architecture: str | None = None
    """The ``sgarch:architecture`` tag's value. Default: the component's own (``single-node`` for SingleNode,
    ``eks`` for EksCluster, SourcegraphRelease and DataMigration, ``network`` for Network); the reference
    architectures set theirs (``single-node``, ``eks``, ``poc``) on every component they create."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return validate_tags(value)

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: str | None) -> str | None:
        if value is not None and not ARCHITECTURE_NAME.fullmatch(value):
            raise ConfigError(
                "architecture",
                "lowercase letters, digits and '-', starting with a letter, at most 63 characters",
                value,
                "name the architecture like 'single-node'",
            )
        return value
