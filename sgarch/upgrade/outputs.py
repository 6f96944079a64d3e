"""Stack outputs (``pulumi stack output --json``) and the region, as ``upgrade snapshot`` and ``doctor`` read them.

Only ``instance_id`` and ``data_volume_id`` are required (and only by the commands that need them); every
other key is optional, and commands say "not in outputs" when one is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgarch.errors import ConfigError

__all__ = ["DEFAULT_REGION", "StackOutputs", "load_stack_outputs", "resolve_region"]

#: The region when neither --region nor AWS_REGION / AWS_DEFAULT_REGION says otherwise.
DEFAULT_REGION = "us-east-1"

_FIX_OUTPUTS = "write it with `pulumi stack output --json > outputs.json` in the stack's folder"


@dataclass(frozen=True)
class StackOutputs:
    """The keys sgarch reads from a stack's outputs; ``raw`` keeps everything (for the support bundle)."""

    instance_id: str | None = None
    data_volume_id: str | None = None
    url: str | None = None
    tier: str | None = None
    sourcegraph_version: str | None = None
    load_balancer_arn: str | None = None
    target_group_arn: str | None = None
    rds_instance_ids: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)


def resolve_region(region: str | None) -> str:
    """``--region``, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else us-east-1."""
    for candidate in (region, os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")):
        if candidate:
            return candidate
    return DEFAULT_REGION


def load_stack_outputs(
    path: str | Path,
    *,
    require: Sequence[str] = ("instance_id", "data_volume_id"),
    flag: str = "--stack-outputs",
) -> StackOutputs:
    """Read and check the outputs file; :class:`ConfigError` (exit 2) when it cannot be used."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(flag, f"a readable JSON file ({reason})", str(path), _FIX_OUTPUTS) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(flag, f"JSON (line {exc.lineno}: {exc.msg})", str(path), _FIX_OUTPUTS) from None
    if not isinstance(data, dict):
        raise ConfigError(flag, "a JSON object of stack outputs", str(path), _FIX_OUTPUTS)

    def text_value(key: str) -> str | None:
        value = data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{flag} {key}", "a string", value, "check the stack's exports")
        return str(value)

    for key in require:
        if text_value(key) is None:
            raise ConfigError(
                f"{flag} {key}",
                "present",
                None,
                "the file must come from an sgarch single-node stack; refresh it with "
                "`pulumi stack output --json`",
            )
    return StackOutputs(
        instance_id=text_value("instance_id"),
        data_volume_id=text_value("data_volume_id"),
        url=text_value("url"),
        tier=text_value("tier"),
        sourcegraph_version=text_value("sourcegraph_version"),
        load_balancer_arn=text_value("load_balancer_arn"),
        target_group_arn=text_value("target_group_arn"),
        rds_instance_ids=_id_list(data.get("rds_instance_ids"), f"{flag} rds_instance_ids"),
        raw=data,
    )


def _id_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(name, "a list of RDS instance identifiers", value, "check the stack's exports")
