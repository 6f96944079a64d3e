"""Names and tags every sgarch resource shares. Pure: no Pulumi import.

Every taggable resource carries three tags so a bill or a console search finds it:
``sgarch:architecture`` (single-node, poc, eks), ``sgarch:stack`` (the Pulumi stack) and
``ManagedBy=sgarch``. User tags are merged on top; the ``sgarch:`` keys are reserved because cost reports
and ``sgarch`` itself rely on them.

Child resources are named ``<component name>-<part>-<part>``; those names are a public contract, since
renaming one replaces real infrastructure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sgarch.errors import ConfigError

__all__ = [
    "ARCHITECTURE_TAG",
    "MANAGED_BY_TAG",
    "MANAGED_BY_VALUE",
    "STACK_TAG",
    "child_name",
    "default_tags",
    "merge_tags",
    "validate_tags",
]

ARCHITECTURE_TAG = "sgarch:architecture"
STACK_TAG = "sgarch:stack"
MANAGED_BY_TAG = "ManagedBy"
MANAGED_BY_VALUE = "sgarch"

_RESERVED_PREFIX = "sgarch:"
# AWS limits (EC2 and most services): keys up to 128 characters, values up to 256, "aws:" reserved.
_MAX_KEY = 128
_MAX_VALUE = 256
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def validate_tags(tags: Mapping[str, str], field: str = "tags") -> dict[str, str]:
    """Check user tags against AWS's rules and sgarch's reserved keys; return them as a plain dict.

    ``field`` names the setting in error messages (``sgarch:tags``, ``--tag``).
    """
    result: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > _MAX_KEY:
            raise ConfigError(
                field, f"keys of 1 to {_MAX_KEY} characters", key, "shorten or rename the tag key"
            )
        if key.lower().startswith("aws:"):
            raise ConfigError(
                field, "free of keys starting with 'aws:'", key, "AWS reserves that prefix; rename it"
            )
        if key.startswith(_RESERVED_PREFIX):
            raise ConfigError(
                field,
                f"free of keys starting with {_RESERVED_PREFIX!r}",
                key,
                "sgarch sets those tags itself",
            )
        if not isinstance(value, str) or len(value) > _MAX_VALUE:
            raise ConfigError(
                f"{field}.{key}", f"a string of at most {_MAX_VALUE} characters", value, "quote or shorten it"
            )
        result[key] = value
    return result


def default_tags(architecture: str, stack: str, user_tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags for every resource of one deployment: sgarch's three, then the user's on top.

    A user tag may replace ``ManagedBy`` (some organisations mandate their own value) but not the
    ``sgarch:`` keys.
    """
    tags = {ARCHITECTURE_TAG: architecture, STACK_TAG: stack, MANAGED_BY_TAG: MANAGED_BY_VALUE}
    tags.update(validate_tags(user_tags or {}))
    return tags


def merge_tags(*layers: Mapping[str, str] | None) -> dict[str, str]:
    """Merge tag layers left to right; a later layer wins for the same key. ``None`` layers are skipped."""
    merged: dict[str, str] = {}
    for layer in layers:
        if layer:
            merged.update(layer)
    return merged


def child_name(parent: str, *parts: str | int) -> str:
    """The logical name of a child resource: ``child_name("sg", "private", 0) == "sg-private-0"``.

    Parts must be non-empty and made of letters, digits, ``.``, ``_`` and ``-``, so names stay readable in
    URNs and AWS consoles.
    """
    if not parent:
        raise ConfigError("name", "a non-empty string", parent, "give the component a name")
    pieces = [parent]
    for part in parts:
        text = str(part)
        if not _NAME_PART.match(text):
            raise ConfigError("name", "letters, digits, '.', '_' and '-' only", text, "rename the part")
        pieces.append(text)
    return "-".join(pieces)
