"""Read a stack's Pulumi config into a validated settings model, with errors that name the config key."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ConfigDict, model_validator

from sgarch.errors import ConfigError
from sgarch.network.zones import check_eks_zone_ids
from sgarch.sizing import Workload
from sgarch.validation import build

__all__ = ["WorkloadSettings", "check_brought_vpc", "check_zone_ids", "read_settings"]

# Keys of the project's namespace that the program does not read: `sgarch plan` reads them.
_READ_ELSEWHERE = frozenset({"policy_suppressions"})

S = TypeVar("S", bound=BaseModel)

_UNSET = frozenset({"", "[]", "{}", "null"})


def check_brought_vpc(vpc_id: str | None, subnet_ids: tuple[str, ...], min_subnets: int, why: str) -> None:
    """The bring-your-own-VPC rule every stack shares: ``vpc_id`` and ``subnet_ids`` come together, with at
    least ``min_subnets`` subnets (``why`` says what needs them). Raises :class:`ConfigError` naming the key."""
    if subnet_ids and not vpc_id:
        raise ConfigError("vpc_id", "set when subnet_ids is set", None, "give the VPC the subnets belong to")
    if vpc_id and len(subnet_ids) < min_subnets:
        expected = (
            "set when vpc_id is set"
            if min_subnets == 1
            else f"{min_subnets} or more private subnets with vpc_id"
        )
        raise ConfigError("subnet_ids", expected, list(subnet_ids) or None, why)


# An availability zone id: the region's short code, then -az and a number (use1-az1, apne1-az4, usgw1-az2).
_ZONE_ID = re.compile(r"^[a-z]{2,5}[0-9]-az[0-9]+$")


def check_zone_ids(
    zone_ids: tuple[str, ...], vpc_id: str | None, count: int, count_key: str | None, *, eks: bool = False
) -> None:
    """The ``availability_zone_ids`` rule every stack shares: pinned zones of a new VPC only, written as ids,
    ``count`` of them (``count_key`` names the setting that sets the count, if any), and with ``eks`` none
    where EKS cannot place the cluster. Raises :class:`ConfigError` naming the key."""
    if not zone_ids:
        return
    if vpc_id:
        raise ConfigError(
            "availability_zone_ids",
            "unset with vpc_id",
            list(zone_ids),
            "a brought VPC's zones are its subnets'",
        )
    for zone_id in zone_ids:
        if not _ZONE_ID.match(zone_id):
            raise ConfigError(
                "availability_zone_ids",
                "zone ids like use1-az1",
                zone_id,
                "zone ids name the same zone in every account, names do not: "
                "aws ec2 describe-availability-zones lists each zone's ZoneId",
            )
    if eks:
        check_eks_zone_ids("availability_zone_ids", zone_ids)
    if len(zone_ids) == count:
        return
    if count_key is not None:
        raise ConfigError(
            count_key,
            f"{len(zone_ids)}, the number of availability_zone_ids",
            count,
            f"set {count_key} to {len(zone_ids)}, or list {count} zone ids",
        )
    raise ConfigError(
        "availability_zone_ids",
        f"{count} zone ids, one for each zone of the new VPC",
        list(zone_ids),
        f"list {count} distinct zone ids",
    )


def read_settings(model: type[S], config: pulumi.Config | None = None) -> S:
    """Build ``model`` from the project's config namespace: every field is a config key of the same name.

    Values arrive as strings; lists and maps as JSON (what ``pulumi config set --path`` or YAML lists give).
    Unset keys keep the model's defaults, and so do empty values: ``Pulumi.yaml`` makes every declared key
    without a default required, so optional keys are declared with ``""``, ``0`` or ``[]`` meaning "not set".
    Raises ConfigError naming the key.
    """
    config = config or pulumi.Config()
    _refuse_unknown_keys(model, config.name)
    _check_region()
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


class WorkloadSettings(BaseModel):
    """Config keys that size a stack from its workload; the architectures' settings models extend it.

    Without ``users`` and ``repos`` there is no workload and the stack sizes by ``tier`` alone.
    """

    # The field docstrings are the config keys' descriptions: `make docs` writes them into the stacks'
    # Pulumi.yaml, and a test fails when an optional key does not say its default.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    users: int | None = None
    """Workload: people who use Sourcegraph. Set with ``repos`` to size the stack from the workload.
    Default: none (0 means not set); the stack sizes by ``tier``."""
    repos: int | None = None
    """Workload: repositories Sourcegraph clones and indexes. Default: none (0 means not set); set with
    ``users``."""
    total_repo_gb: float | None = None
    """Workload: size of all repositories on disk, GB. Default: 100."""
    largest_repo_gb: float | None = None
    """Workload: size of the largest repository, GB. Default: 5, or ``total_repo_gb`` if smaller."""
    largest_index_gb: float | None = None
    """Workload: largest precise code-intel index, GB; 0 turns precise code intel off. Default: 1."""

    @model_validator(mode="after")
    def _users_with_repos(self) -> WorkloadSettings:
        if (self.users is None) != (self.repos is None):
            missing = "repos" if self.repos is None else "users"
            raise ConfigError(
                missing, "set together with users and repos", None, "give both, or neither to size by tier"
            )
        return self

    def workload(self) -> Workload | None:
        """The workload, when users and repos are configured (validated; ConfigError names the key)."""
        if self.users is None or self.repos is None:
            return None
        return Workload.parse(
            users=self.users,
            repos=self.repos,
            total_repo_gb=self.total_repo_gb,
            largest_repo_gb=self.largest_repo_gb,
            largest_index_gb=self.largest_index_gb,
        )


def _refuse_unknown_keys(model: type[BaseModel], namespace: str) -> None:
    # Pulumi passes every key of the stack file to the program without checking it against Pulumi.yaml, so a
    # misspelt key (instance_typ) would silently leave the setting at its default.
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    known = set(model.model_fields) | _READ_ELSEWHERE
    for key in sorted(present):
        prefix, _, name = key.partition(":")
        if prefix != namespace or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        raise ConfigError(
            name,
            f"a setting of {namespace}",
            "[secret]" if runtime_config.is_config_secret(key) else runtime_config.get_config(key),
            f"did you mean {close[0]}? If not, remove it; Pulumi.yaml lists every setting"
            if close
            else "remove it; Pulumi.yaml lists every setting",
        )


def _check_region() -> None:
    # An unknown region fails only when the provider first calls AWS; the provider's own list says it now.
    from pulumi_aws._enums import Region  # the generated enum only, not the whole SDK

    region = runtime_config.get_config("aws:region")
    if region is None or region in {r.value for r in Region}:
        return
    regions = sorted(r.value for r in Region)
    close = difflib.get_close_matches(str(region), regions, n=3)
    raise ConfigError(
        "aws:region",
        "an AWS region like us-east-1",
        region,
        f"the closest are {', '.join(close)}" if close else "check the region name in the AWS console",
    )
