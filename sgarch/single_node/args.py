"""Arguments of the :class:`~sgarch.single_node.SingleNode` component: validated before any resource exists."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import field_validator, model_validator

from sgarch.errors import ConfigError
from sgarch.host import DEFAULT_SOURCEGRAPH_VERSION, check_no_proxy, deploy_commits, parse_proxy_url
from sgarch.naming import EC2_RULE_DESCRIPTION, check_aws_text
from sgarch.single_node.ec2_types import check_instance_type
from sgarch.sizing import Workload, estimate
from sgarch.tiers import Tier, get_tier
from sgarch.validation import WORLD_CIDRS, ArgsModel, ComponentArgs, StrInput, StrListInput

__all__ = [
    "AMI_NAME_PREFIX",
    "DEFAULT_SOURCEGRAPH_VERSION",
    "EgressRule",
    "LoadBalancerArgs",
    "SingleNodeArgs",
]

AMI_NAME_PREFIX = "sourcegraph-single-node"
"""Name prefix of the sgarch single-node AMI (``amis/single-node/ami.yaml``): ``<prefix>-<version>-<build>``."""

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# Set by sgarch from http_proxy and no_proxy; extra_env must not fight over them.
_PROXY_ENV = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"})


class LoadBalancerArgs(ArgsModel):
    """An Application Load Balancer in front of the instance. TLS ends at the ALB with an ACM certificate.

    The ALB forwards plain HTTP to port 80 of the instance inside the VPC, as Sourcegraph's own AWS ALB
    example does; the instance accepts that port from the ALB's security group only.
    """

    certificate_arn: StrInput
    """ACM certificate for the HTTPS listener. Required."""
    subnet_ids: StrListInput
    """Subnets of the ALB, in at least two availability zones: private ones for an internal ALB."""
    internet_facing: bool = False
    """Default: internal. An internet-facing ALB is an explicit choice, and still needs ``allowed_cidrs``."""
    allowed_cidrs: tuple[str, ...] = ()
    """Who may reach the ALB on 443 (and 80, which only redirects). Default: every IPv4 block of the VPC for
    an internal ALB (the ``<name>-vpc-cidrs`` prefix list); an internet-facing ALB must name its CIDRs
    (``0.0.0.0/0`` is allowed only there)."""
    zone_id: StrInput | None = None
    """Route53 hosted zone for an alias record. Default: no record."""
    record_name: str | None = None
    """Record name in ``zone_id`` (``sourcegraph.example.com``). Required with ``zone_id``. Default: no
    record."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS policy of the HTTPS listener. Default: TLS 1.3 and 1.2 only."""
    access_logs: bool = True
    """Write the ALB's access logs to S3. Default: on, into ``access_logs_bucket`` if set, else into a bucket
    the component creates (``<name>-alb-logs``: SSE-S3, public access blocked, TLS only, logs deleted after
    90 days, kept when the stack is destroyed). Off is policy finding SGA-023 unless suppressed."""
    access_logs_bucket: str | None = None
    """Name of an existing bucket for the access logs; its policy must let Elastic Load Balancing log
    delivery write under ``AWSLogs/<account id>/``, and it must use SSE-S3. Default: a bucket created for
    them."""
    deletion_protection: bool = True
    """Refuse deleting the ALB through the AWS API, ``pulumi destroy`` included, until this is turned off.
    Default: on. Off is policy finding SGA-023 unless suppressed."""

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            _check_cidr("load_balancer.allowed_cidrs", cidr)
        return value

    @model_validator(mode="after")
    def _world_only_when_public(self) -> LoadBalancerArgs:
        if not self.internet_facing and any(c in WORLD_CIDRS for c in self.allowed_cidrs):
            raise ConfigError(
                "load_balancer.allowed_cidrs",
                "private ranges for an internal load balancer",
                ",".join(self.allowed_cidrs),
                "name your networks' CIDRs, or set load_balancer.internet_facing to true on purpose",
            )
        if self.internet_facing and not self.allowed_cidrs:
            raise ConfigError(
                "load_balancer.allowed_cidrs",
                "set when the load balancer is internet-facing",
                None,
                "list who may connect (0.0.0.0/0 for everyone)",
            )
        if (self.zone_id is None) != (self.record_name is None):
            raise ConfigError(
                "load_balancer.record_name",
                "given together with zone_id",
                self.record_name,
                "set both or neither",
            )
        return self


class EgressRule(ArgsModel):
    """One outbound destination the instance may reach: a CIDR and a TCP port range."""

    cidr: str
    """Destination, such as a code host's range (``140.82.112.0/20`` for github.com)."""
    from_port: int = 443
    """First TCP port. Default: 443."""
    to_port: int | None = None
    """Last TCP port. Default: ``from_port``."""
    description: str = "Code host"
    """Shown on the rule in the console. EC2 accepts letters, digits, spaces and ``._-:/()#,@[]+=;{}!$*``.
    Default: ``Code host``."""

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        _check_cidr("egress_allowlist.cidr", value)
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return check_aws_text(value, EC2_RULE_DESCRIPTION, "egress_allowlist.description")

    @model_validator(mode="after")
    def _ports(self) -> EgressRule:
        last = self.to_port if self.to_port is not None else self.from_port
        if not 1 <= self.from_port <= last <= 65535:
            raise ConfigError(
                "egress_allowlist.from_port",
                "a port range within 1-65535",
                f"{self.from_port}-{last}",
                "give from_port <= to_port",
            )
        return self


class SingleNodeArgs(ComponentArgs):
    """Inputs of :class:`~sgarch.single_node.SingleNode`. Only the network is required."""

    vpc_id: StrInput
    """VPC of the instance."""
    subnet_id: StrInput
    """Private subnet of the instance. Its availability zone is also the data volume's, for good."""
    tier: Tier = Tier.XS
    """Size tier, XS to XL. Default: the tier ``workload`` needs, or XS without one; with a workload, a tier
    at or above what it needs is used as given and a smaller one is a ConfigError naming both. Sets the
    instance type, the data volume's IOPS and throughput and the Compose resource caps."""
    workload: Workload | None = None
    """The workload to size for. Default: none; caps come from the tier and the data volume gets its floor size."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release (``X.Y.Z``). Default: the version sgarch was tested with. Changing it replaces the
    instance, never the data volume."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """``sgarch``: our AMI, with Docker and the images baked in. ``stock``: the newest Amazon Linux 2023; the
    same install script then runs at first boot. Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI. Default: looked up by name, version and owner."""
    ami_owner: str = "self"
    """Owner of the sgarch AMI (an account id, or ``self``). Default: self."""
    instance_type: str | None = None
    """Default: the tier's recommended type (m6a.2xlarge for XS)."""
    data_volume_gib: int | None = None
    """Default: computed at creation from the workload's storage with 25% headroom, at least 500 GiB, never
    from the tier; later workload changes leave it alone (EBS volumes cannot shrink). Set it to grow the volume."""
    data_volume_iops: int | None = None
    """Default: the tier's (3,000 up to M, 16,000 for L and XL)."""
    data_volume_throughput_mibps: int | None = None
    """Default: the tier's (125 MiB/s up to M, 1,000 for L and XL)."""
    data_volume_kms_key_id: StrInput | None = None
    """Customer KMS key for the data volume. Default: the account's EBS key. Encryption is always on."""
    data_volume_snapshot_id: str | None = None
    """Create the data volume from this snapshot (promotion from a POC, or a restore). Default: empty volume."""
    root_volume_gib: int = 50
    """Size of the encrypted gp3 root volume. Default: 50."""
    load_balancer: LoadBalancerArgs | None = None
    """Default: none; reach Sourcegraph through SSM port forwarding, with no inbound rule at all."""
    containers_use_instance_role: bool = False
    """Let containers read the instance role from IMDS (hop limit 2), needed for RDS IAM auth or S3 through the
    instance role. Default: off, so containers cannot take the instance's credentials (hop limit 1)."""
    snapshot_retention_days: int = 7
    """Daily snapshots of the data volume kept by Data Lifecycle Manager. Default: 7 days."""
    snapshot_time_utc: str = "03:00"
    """When the daily snapshot starts, HH:MM UTC. Default: 03:00."""
    alarm_topic_arn: StrInput | None = None
    """SNS topic for the CPU and disk alarms. Default: alarms without notifications."""
    egress_allowlist: tuple[EgressRule, ...] | None = None
    """Outbound destinations the instance may reach directly (code hosts). A security group filters by IP,
    not by name: list CIDRs. HTTPS to every CIDR of the VPC (its interface endpoints) and to S3's prefix list
    (its gateway endpoint) is always allowed. Default: None, any outbound traffic (it cannot come back in),
    unless ``http_proxy`` is set. Without ``http_proxy`` or ``aws_endpoints_in_vpc`` it must allow 443 to
    0.0.0.0/0, or the SSM and CloudWatch agents could reach no AWS endpoint."""
    http_proxy: str | None = None
    """HTTP proxy (``http://host:port``, no user or password: user-data is readable from the instance) that
    every client on the host uses: dnf, curl and git (install.sh), dockerd (image pulls), the SSM agent, the
    CloudWatch agent and Sourcegraph's containers. The security group then allows the proxy's port to
    ``proxy_cidrs`` and nothing else outside the VPC (plus ``egress_allowlist``, if set). Default: none,
    direct connections."""
    no_proxy: tuple[str, ...] = ()
    """Extra NO_PROXY entries with ``http_proxy`` (hosts, ``.corp.example.com``, IPs, CIDRs): reached directly,
    so they also need an ``egress_allowlist`` rule unless they are in the VPC. sgarch always adds localhost,
    127.0.0.1, the metadata service (169.254.169.254), for the containers Sourcegraph's Compose service names,
    and with ``aws_endpoints_in_vpc`` the region's AWS names. Default: none."""
    proxy_cidrs: tuple[str, ...] = ()
    """Where the proxy's port is open in the security group, as CIDRs. Default: the proxy's address when
    ``http_proxy`` names an IP; required when it names a host, since a security group filters by IP, not
    by name."""
    aws_endpoints_in_vpc: bool = False
    """The VPC has interface endpoints with private DNS for the AWS services the host calls (ssm,
    ssmmessages, ec2messages, monitoring) and an S3 gateway endpoint. With ``http_proxy``, AWS API calls then
    bypass the proxy (NO_PROXY ``.<region>.amazonaws.com``). Default: false, AWS calls go through the proxy
    (or, without one, through whatever route the subnet has)."""
    extra_env: dict[str, str] = {}  # noqa: RUF012 - a pydantic field: each model gets its own copy
    """Extra environment for Sourcegraph's containers (HTTP_PROXY, NO_PROXY...). Default: none."""

    @field_validator("tier", mode="before")
    @classmethod
    def _machine_tier(cls, value: object) -> Tier:
        spec = get_tier(str(value.value if isinstance(value, Tier) else value))
        if spec.kubernetes_only:
            raise ConfigError(
                "tier",
                "a single-node tier (XS, S, M, L or XL)",
                spec.tier.value,
                "use the EKS architecture for 2XL and 3XL",
            )
        return spec.tier

    @field_validator("sourcegraph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip().removeprefix("v")
        if not _VERSION.match(value):
            raise ConfigError(
                "sourcegraph_version",
                "a release like 7.5.4453",
                value,
                "use a version from Sourcegraph's releases",
            )
        return value

    @field_validator("data_volume_gib")
    @classmethod
    def _volume(cls, value: int | None) -> int | None:
        if value is not None and not 100 <= value <= 65536:
            raise ConfigError("data_volume_gib", "from 100 to 65,536", value, "give the size in GiB")
        return value

    @field_validator("data_volume_iops")
    @classmethod
    def _iops(cls, value: int | None) -> int | None:
        if value is not None and not 3000 <= value <= 80000:
            raise ConfigError(
                "data_volume_iops", "from 3,000 to 80,000 (gp3)", value, "or leave it to the tier"
            )
        return value

    @field_validator("data_volume_throughput_mibps")
    @classmethod
    def _throughput(cls, value: int | None) -> int | None:
        if value is not None and not 125 <= value <= 2000:
            raise ConfigError(
                "data_volume_throughput_mibps", "from 125 to 2,000 (gp3)", value, "or leave it to the tier"
            )
        return value

    @field_validator("snapshot_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ConfigError(
                "snapshot_retention_days", "from 1 to 1,000", value, "keep at least one snapshot"
            )
        return value

    @field_validator("snapshot_time_utc")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ConfigError("snapshot_time_utc", "HH:MM in UTC", value, "for example 03:00")
        return value

    @field_validator("data_volume_snapshot_id")
    @classmethod
    def _snapshot(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"snap-[0-9a-f]{8,17}", value):
            raise ConfigError(
                "data_volume_snapshot_id",
                "a snapshot id like snap-0123456789abcdef0",
                value,
                "copy it from the EC2 console or `sgarch upgrade snapshot`",
            )
        return value

    @field_validator("root_volume_gib")
    @classmethod
    def _root(cls, value: int) -> int:
        if not 30 <= value <= 1024:
            raise ConfigError("root_volume_gib", "from 30 to 1,024", value, "the AMI needs at least 30 GiB")
        return value

    @field_validator("http_proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_proxy_url("http_proxy", value)
        return value

    @field_validator("no_proxy")
    @classmethod
    def _no_proxy(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_no_proxy("no_proxy", value)

    @field_validator("proxy_cidrs")
    @classmethod
    def _proxy_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            _check_cidr("proxy_cidrs", cidr)
        return value

    @model_validator(mode="after")
    def _proxy_settings(self) -> SingleNodeArgs:
        if self.http_proxy is None:
            for key in ("no_proxy", "proxy_cidrs"):
                if getattr(self, key):
                    raise ConfigError(
                        key,
                        "unset without http_proxy",
                        list(getattr(self, key)),
                        "set http_proxy, or drop it",
                    )
            return self
        target = parse_proxy_url("http_proxy", self.http_proxy)
        if not self.proxy_cidrs and target.address is None:
            raise ConfigError(
                "proxy_cidrs",
                "set when http_proxy names a host rather than an IP address",
                None,
                f"list the addresses of {target.host} as CIDRs; a security group filters by IP, not by name",
            )
        for key in self.extra_env:
            if key.upper() in _PROXY_ENV:
                raise ConfigError(
                    f"extra_env.{key}",
                    "unset when http_proxy is set",
                    self.extra_env[key],
                    "sgarch sets it for the host and the containers from http_proxy and no_proxy",
                )
        return self

    @model_validator(mode="after")
    def _aws_reachable(self) -> SingleNodeArgs:
        # The SSM agent (the only way in) and the CloudWatch agent (the disk alarm's data) call AWS's public
        # endpoints, whose addresses no allowlist can name. They need the VPC's endpoints, the proxy, or 443
        # open to everywhere.
        rules = self.egress_allowlist
        if rules is None or self.http_proxy is not None or self.aws_endpoints_in_vpc:
            return self
        if any(r.cidr == "0.0.0.0/0" and r.from_port <= 443 <= (r.to_port or r.from_port) for r in rules):
            return self
        raise ConfigError(
            "egress_allowlist",
            "paired with http_proxy or aws_endpoints_in_vpc, or allowing 443 to 0.0.0.0/0",
            ",".join(r.cidr for r in rules),
            "the SSM and CloudWatch agents must reach AWS: create the VPC's interface endpoints (ssm, "
            "ssmmessages, ec2messages, monitoring) and set aws_endpoints_in_vpc, or set http_proxy",
        )

    @model_validator(mode="after")
    def _tier_for_workload(self) -> SingleNodeArgs:
        if self.workload is None:
            return self
        # The one tier rule (sgarch.sizing.planned_tier): unset means the workload's tier, an explicit tier
        # below it is an error, one at or above it wins.
        planned = estimate(self.workload, tier=self.tier if "tier" in self.model_fields_set else None).tier
        if planned.kubernetes_only:
            raise ConfigError(
                "tier",
                "a single-node tier (XS, S, M, L or XL)",
                planned.value,
                f"the workload needs {planned}; use the EKS architecture for 2XL and 3XL",
            )
        object.__setattr__(self, "tier", planned)
        return self

    @model_validator(mode="after")
    def _instance_fits(self) -> SingleNodeArgs:
        if self.instance_type is not None:
            check_instance_type(self.instance_type, get_tier(self.tier))
        return self

    @model_validator(mode="after")
    def _release_is_pinned(self) -> SingleNodeArgs:
        # A stock instance fetches the release at first boot, and install.sh refuses a tag it has no pinned
        # commit for; say so now rather than after the network and the instance exist. The sgarch image
        # carries its release, which its build already checked against the same table.
        known = deploy_commits()
        if self.image == "stock" and self.sourcegraph_version not in known:
            raise ConfigError(
                "sourcegraph_version",
                "a release sgarch has a pinned deploy-sourcegraph-docker commit for",
                self.sourcegraph_version,
                f"pick one of them (newest {max(known, key=_release_key)}); a newer release needs a newer sgarch, "
                "whose table lists it",
            )
        return self


def _release_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _check_cidr(field: str, cidr: str) -> None:
    try:
        ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ConfigError(
            field, "a CIDR like 10.0.0.0/16", cidr, "use the network address and prefix length"
        ) from None
