"""Read a stack's Pulumi config into a validated settings model, with errors that name the config key."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel

from sgarch.errors import ConfigError
from sgarch.validation import build

__all__ = ["read_settings"]

S = TypeVar("S", bound=BaseModel)

_UNSET = frozenset({"", "[]", "{}", "null"})


def read_settings(model: type[S], config: pulumi.Config | None = None) -> S:
    """Build ``model`` from the project's config namespace: every field is a config key of the same name.

    Values arrive as strings; lists and maps as JSON (what ``pulumi config set --path`` or YAML lists give).
    Unset keys keep the model's defaults, and so do empty values: ``Pulumi.yaml`` makes every declared key
    without a default required, so optional keys are declared with ``""``, ``0`` or ``[]`` meaning "not set".
    Raises ConfigError naming the key.
    """
    config = config or pulumi.Config()
    raw: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        text = config.get(field)
        if text is None or text.strip() in _UNSET:
            continue
        # An optional whole number declared with default 0 (users, data_volume_gib): 0 means "not set".
        if text.strip() == "0" and info.default is None and "int" in str(info.annotation):
            continue
        annotation = str(info.annotation)
        if any(kind in annotation for kind in ("list", "tuple", "dict", "Mapping", "Sequence")):
            try:
                raw[field] = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(
                    field, "a JSON list or map", text, "write it as YAML in Pulumi.<stack>.yaml"
                ) from None
        else:
            raw[field] = text
    return build(model, None, **raw)
