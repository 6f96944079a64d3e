"""Names and tags every sgarch resource shares. Pure: no Pulumi import.

Every taggable resource carries three tags so a bill or a console search finds it:
``sgarch:architecture`` (single-node, poc, eks), ``sgarch:stack`` (the Pulumi stack) and
``ManagedBy=sgarch``. User tags are merged on top; the ``sgarch:`` keys are reserved because cost reports
and ``sgarch`` itself rely on them.

Child resources are named ``<component name>-<part>-<part>``; those names are a public contract, since
renaming one replaces real infrastructure.

AWS refuses some values long after a plan looked fine: a DLM policy description with a colon, a security group
rule description with an apostrophe, an autonamed target group whose name leaves no room for Pulumi's random
suffix. :func:`aws_text` and :func:`check_aws_text` make or check text for such fields, and
:func:`check_autonamed` refuses a component name that would make the name of a child the provider autonames
too long or otherwise unacceptable.
``tests/stacks/test_aws_values.py`` checks every value a stack plans against botocore's models and AWS's docs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sgarch.errors import ConfigError

__all__ = [
    "ARCHITECTURE_TAG",
    "AUTONAME_SUFFIX_LENGTH",
    "DLM_DESCRIPTION",
    "EC2_GROUP_DESCRIPTION",
    "EC2_RULE_DESCRIPTION",
    "EKS_NODE_GROUP_NAME",
    "EKS_NODE_GROUP_PART",
    "IAM_ROLE_NAME",
    "LOAD_BALANCER_NAME",
    "MANAGED_BY_TAG",
    "MANAGED_BY_VALUE",
    "S3_BUCKET_NAME",
    "SCHEDULE_NAME",
    "SECURITY_GROUP_NAME",
    "STACK_TAG",
    "TARGET_GROUP_NAME",
    "AwsText",
    "aws_text",
    "check_autonamed",
    "check_aws_text",
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
# Tag keys and values: Unicode letters, numbers and spaces, and these (the rule IAM, ELB, ACM and others
# enforce; EC2 allows more, but sgarch puts the same tags on every service's resources).
_TAG_PUNCTUATION = frozenset("_.:/=+-@")

AUTONAME_SUFFIX_LENGTH = 8
"""pulumi-aws names a resource created without a name ``<logical name>-<7 random hex>``. It refuses a logical
name that leaves no room for that suffix within AWS's limit; it does not truncate."""


@dataclass(frozen=True)
class AwsText:
    """The characters and the length one AWS text field accepts."""

    name: str
    """What the field is, for messages (``a DLM policy description``)."""
    allowed: str
    """The accepted characters, as the body of a regular-expression character class."""
    max_length: int
    refused_prefix: str = ""
    """A prefix AWS refuses (``sg-`` for security group names)."""


DLM_DESCRIPTION = AwsText("a DLM policy description", r"0-9A-Za-z _\-", 500)
"""DLM ``PolicyDescription`` (botocore's dlm model): letters, digits, spaces, ``_`` and ``-``; no colon."""
EC2_GROUP_DESCRIPTION = AwsText("a security group description", r"a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*", 255)
"""EC2 ``GroupDescription`` (EC2 API reference, CreateSecurityGroup); no apostrophe."""
EC2_RULE_DESCRIPTION = AwsText("a security group rule description", r"a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*", 255)
"""EC2 rule ``Description`` (EC2 API reference, IpRange and UserIdGroupPair): as a group's, without ``&``."""

# Names the provider generates as `<logical name>-<7 random hex>`, for check_autonamed. S3 bucket autonames are
# lowercased by the provider, so capitals pass; the other characters are AWS's.
LOAD_BALANCER_NAME = AwsText("a load balancer name", "A-Za-z0-9-", 32)
"""ELB ``CreateLoadBalancer`` Name: letters, digits and hyphens, at most 32."""
TARGET_GROUP_NAME = AwsText("a target group name", "A-Za-z0-9-", 32)
"""ELB ``CreateTargetGroup`` Name: letters, digits and hyphens, at most 32."""
SCHEDULE_NAME = AwsText("an EventBridge schedule name", "0-9A-Za-z_.-", 64)
"""EventBridge Scheduler ``CreateSchedule`` Name (botocore's scheduler model)."""
EKS_NODE_GROUP_NAME = AwsText("an EKS node group name", "0-9A-Za-z_-", 63)
"""EKS managed node group name (EKS user guide): letters, digits, ``-`` and ``_``, at most 63."""
IAM_ROLE_NAME = AwsText("an IAM role name", r"\w+=,.@-", 64)
"""IAM ``CreateRole`` RoleName (botocore's iam model)."""
S3_BUCKET_NAME = AwsText("an S3 bucket name", "A-Za-z0-9.-", 63)
"""S3 bucket name (S3 user guide): lowercase letters, digits, ``.`` and ``-``, at most 63."""
SECURITY_GROUP_NAME = AwsText(
    "a security group name", EC2_GROUP_DESCRIPTION.allowed, 255, refused_prefix="sg-"
)
"""EC2 ``CreateSecurityGroup`` GroupName (EC2 API reference): as a description, and not starting with ``sg-``."""
EKS_NODE_GROUP_PART = "nodes-0-01234567"
"""The part of an EKS node group's logical name after ``<name>-`` (``nodes-<i>-<generation>``), as long as the
real one, for :func:`check_autonamed`."""


def aws_text(text: str, kind: AwsText) -> str:
    """``text`` as ``kind`` accepts it: every refused character becomes ``-``, then it is cut to length.

    For text built from a name the user chose (the stack name, which may hold ``.``); sgarch's own wording
    already fits. Text the user writes whole is checked with :func:`check_aws_text` instead.
    """
    return re.sub(f"[^{kind.allowed}]", "-", text)[: kind.max_length]


def check_aws_text(text: str, kind: AwsText, field: str) -> str:
    """``text`` unchanged when ``kind`` accepts it, else a ConfigError naming ``field`` (a config key)."""
    refused = "".join(sorted(set(re.sub(f"[{kind.allowed}]", "", text))))
    if refused:
        raise ConfigError(
            field, f"free of {refused!r}", text, f"AWS refuses those characters in {kind.name}; reword it"
        )
    if len(text) > kind.max_length:
        raise ConfigError(
            field, f"at most {kind.max_length} characters", text, f"that is AWS's limit for {kind.name}"
        )
    return text


def check_autonamed(name: str, children: Iterable[tuple[str, AwsText]], field: str = "name") -> None:
    """Refuse a component ``name`` that would make a name AWS refuses for a child the provider autonames.

    ``children`` holds ``(part, kind)`` for each child with the logical name ``<name>-<part>`` and no explicit
    physical name: the provider calls it ``<name>-<part>-<7 random hex>``, which must fit ``kind``. Raises
    ConfigError naming ``field`` (``stack name`` for the stacks): for the characters, then a refused prefix,
    then the tightest length.
    """
    children = list(children)
    refused = {part: set(re.sub(f"[{kind.allowed}]", "", name)) for part, kind in children}
    if any(refused.values()):
        part, kind = next((p, k) for p, k in children if refused[p])
        every = "".join(sorted(set().union(*refused.values())))
        raise ConfigError(
            field,
            f"free of {every!r}",
            name,
            f"AWS refuses {''.join(sorted(refused[part]))!r} in {kind.name}, and Pulumi makes one of "
            f"'<{field}>-{part}-' plus 7 random characters; choose another {field}",
        )
    for part, kind in children:
        if kind.refused_prefix and name.startswith(kind.refused_prefix):
            raise ConfigError(
                field,
                f"a name that does not start with {kind.refused_prefix!r}",
                name,
                f"AWS refuses {kind.name} that does, and Pulumi makes one of '<{field}>-{part}-' plus 7 "
                f"random characters; choose another {field}",
            )
    limits = sorted(
        (kind.max_length - len(part) - 1 - AUTONAME_SUFFIX_LENGTH, part, kind.name, kind.max_length)
        for part, kind in children
    )
    if not limits or len(name) <= limits[0][0]:
        return
    longest, part, what, max_length = limits[0]
    raise ConfigError(
        field,
        f"at most {longest} characters",
        name,
        f"Pulumi makes {what} of '<{field}>-{part}-' plus 7 random characters, and AWS allows {max_length}; "
        f"choose a shorter {field}",
    )


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
        for text, where in ((key, field), (value, f"{field}.{key}")):
            refused = sorted({c for c in text if not _tag_character(c)})
            if refused:
                raise ConfigError(
                    where,
                    "letters, digits, spaces and _ . : / = + - @ only",
                    text,
                    f"remove {''.join(refused)!r}; IAM, ELB and other services refuse it in tags",
                )
        result[key] = value
    return result


def _tag_character(char: str) -> bool:
    return char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LNZ"


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
