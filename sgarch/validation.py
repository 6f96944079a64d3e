"""Build validated argument models with one-line errors in the caller's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from sgarch.errors import ConfigError, config_error_from_pydantic

__all__ = ["StrInput", "StrListInput", "build", "unwrap_validation_error"]

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
