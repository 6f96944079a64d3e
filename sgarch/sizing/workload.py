"""The workload a Sourcegraph instance must serve: the estimator's only input."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, field_validator, model_validator

from sgarch.errors import ConfigError
from sgarch.validation import ArgsModel

__all__ = ["LIMITS", "Workload"]

# Inclusive ranges of Sourcegraph's resource estimator. Above them the estimator only says "contact
# support", so sgarch refuses rather than extrapolate.
LIMITS: dict[str, tuple[float, float]] = {
    "users": (1, 50_000),
    "repos": (1, 5_000_000),
    "total_repo_gb": (1, 50_000_000),
    "largest_repo_gb": (0, 50_000_000),
    "largest_index_gb": (0, 1_000),
}

_WHOLE = {"users", "repos"}

_HOW_TO_FIX = {
    "users": "count the people who will use Sourcegraph; above 50,000 ask Sourcegraph for a custom sizing",
    "repos": "count the repositories Sourcegraph will clone; above 5,000,000 ask Sourcegraph for a custom sizing",
    "total_repo_gb": "give the size of all repositories on disk in GB (git count-objects -vH, summed)",
    "largest_repo_gb": "give the size of the largest repository on disk in GB",
    "largest_index_gb": "give the size of the largest SCIP index in GB, or 0 to turn precise code intel off",
}


def _range_text(field: str) -> str:
    low, high = LIMITS[field]
    kind = "a whole number" if field in _WHOLE else "a number"
    return f"{kind} from {low:,.0f} to {high:,.0f}"


class Workload(ArgsModel):
    """What Sourcegraph has to serve. Every size in GB is the size on disk.

    Build one with keyword arguments, or with :meth:`parse` to get a :class:`~sgarch.errors.ConfigError`
    that names the field the way the caller spelled it (a CLI flag or a config key).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = 300
    """People who use Sourcegraph (1 to 50,000). Default: 300, the estimator's default."""
    repos: int = 3_000
    """Repositories Sourcegraph clones and indexes (1 to 5,000,000). Default: 3,000."""
    total_repo_gb: float = 100
    """Size of all repositories on disk, GB (1 to 50,000,000). Default: 100."""
    largest_repo_gb: float | None = None
    """Size of the largest repository, GB; at most ``total_repo_gb``. Default: 5 GB, or the total if smaller."""
    largest_index_gb: float = 1
    """Size of the largest precise code-intel (SCIP) index, GB (0 to 1,000). 0 turns precise code intel
    off. Default: 1."""
    code_insights: bool = True
    """Whether Code Insights runs (it needs its own database). Default: on."""
    syntactic_code_intel: bool = False
    """Whether syntactic code intel runs. Default: off, as in Sourcegraph's Helm chart; its reference points
    grow steeply with the largest repository (up to 150 cores per pod), so it is sized only when asked for."""

    @field_validator("users", "repos", "total_repo_gb", "largest_repo_gb", "largest_index_gb", mode="before")
    @classmethod
    def _number_in_range(cls, value: Any, info: Any) -> Any:
        field = info.field_name
        if value is None and field == "largest_repo_gb":
            return None
        number = _to_number(field, value)
        low, high = LIMITS[field]
        if not low <= number <= high:
            raise ConfigError(field, _range_text(field), value, _HOW_TO_FIX[field])
        return int(number) if field in _WHOLE else number

    @model_validator(mode="after")
    def _largest_within_total(self) -> Workload:
        if self.largest_repo_gb is None:
            object.__setattr__(self, "largest_repo_gb", min(5.0, self.total_repo_gb))
        elif self.largest_repo_gb > self.total_repo_gb:
            raise ConfigError(
                "largest_repo_gb",
                f"at most total_repo_gb ({self.total_repo_gb:g})",
                self.largest_repo_gb,
                "the largest repository is part of the total; raise total_repo_gb or lower largest_repo_gb",
            )
        return self

    @property
    def largest_repo(self) -> float:
        """``largest_repo_gb`` with its default applied (always a number)."""
        return self.largest_repo_gb if self.largest_repo_gb is not None else min(5.0, self.total_repo_gb)

    @classmethod
    def parse(cls, names: Mapping[str, str] | None = None, **raw: Any) -> Workload:
        """Validate ``raw`` values (strings are accepted) and build a Workload.

        ``names`` maps field names to what the user typed (``{"users": "--users"}``), so the one-line error
        speaks the caller's vocabulary. Raises ConfigError.
        """
        names = names or {}
        try:
            return cls(**{k: v for k, v in raw.items() if v is not None})
        except ConfigError as exc:
            raise exc.renamed(names) from None


def _to_number(field: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(field, _range_text(field), value, _HOW_TO_FIX[field])
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(field, _range_text(field), value, _HOW_TO_FIX[field]) from None
    if math.isnan(number) or math.isinf(number) or (field in _WHOLE and not number.is_integer()):
        raise ConfigError(field, _range_text(field), value, _HOW_TO_FIX[field])
    return number
