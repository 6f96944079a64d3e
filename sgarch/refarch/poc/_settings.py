"""The config keys of ``stacks/poc`` and the decisions that follow from their combination.

Every combination that cannot work on a real account (a new VPC nobody can reach, a stock image that cannot
download, agents cut off from AWS) is refused here, with one line, before any resource exists.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sgarch.errors import ConfigError
from sgarch.host import parse_proxy_url
from sgarch.network import INTERFACE_ENDPOINT_SERVICES, SSM_ENDPOINT_SERVICES
from sgarch.refarch.config import check_brought_vpc, check_zone_ids
from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION
from sgarch.sizing import Workload, estimate
from sgarch.sizing.estimator import planned_tier
from sgarch.tiers import Tier

__all__ = ["AGENT_ENDPOINT_SERVICES", "NEW_VPC_ZONES", "PocSettings"]

NEW_VPC_ZONES = 2
"""Zones of a new POC VPC: the fewest an ALB (and an EKS cluster) accepts."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TGW = re.compile(r"^tgw-[0-9a-f]{8,17}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ANYWHERE = "0.0.0.0/0"

AGENT_ENDPOINT_SERVICES = (*SSM_ENDPOINT_SERVICES, "logs", "monitoring")
"""What Session Manager and the CloudWatch agent need when NAT is there but the egress allowlist keeps them
from AWS's public endpoints: the SSM trio, CloudWatch Logs and CloudWatch metrics (the disk alarm's data)."""

# Keys that shape only a VPC the stack creates; with vpc_id they would silently do nothing.
_NEW_VPC_ONLY = ("nat", "transit_gateway_id", "peer_vpc_id", "peer_owner_id", "peer_region", "routed_cidrs")


class PocSettings(BaseModel):
    """Config keys of ``stacks/poc`` (``pulumi config set <key> <value>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    expires_on: str
    """Required. The last day of the POC (YYYY-MM-DD, UTC). From the next day the instance is stopped every
    hour (with runtime eks, the node groups are scaled to zero); nothing is deleted. Only the schedule and the
    budget carry it (tag ``expires-on``), so extending the POC changes nothing else."""
    budget_emails: tuple[str, ...]
    """Required. Who gets the budget alerts at 80% and 100% of ``monthly_budget_usd``."""
    monthly_budget_usd: float = 1000
    """Monthly cost limit the budget alerts measure against, USD. The budget counts costs tagged
    ``poc=<stack>`` in this region, once ``poc`` is an active cost allocation tag. Default: 1000."""
    activate_cost_allocation_tag: bool = False
    """Activate the ``poc`` cost allocation tag from this stack. Only the payer (management) account of an
    organization may; from a member account AWS refuses it and ``pulumi up`` fails. Default: off, and the
    ``cost_allocation_tag`` output says what the payer account must do; until the tag is active the budget
    reads $0."""
    tier: str | None = None
    """Size tier XS to 3XL (XL at most on the single node). Default: the tier the workload needs, XS for the
    default POC workload; a tier below what a configured workload needs is an error, a larger one wins."""
    runtime: Literal["single-node", "eks"] = "single-node"
    """Where Sourcegraph runs: ``single-node`` (one instance, Docker Compose) or ``eks`` (an EKS cluster with
    a private API endpoint and the official Helm chart, databases in the cluster). Default: single-node."""
    users: int | None = None
    """Workload for sizing, with ``repos``. Default: the default POC workload, 50 users and 500 repositories
    (0 means not set)."""
    repos: int | None = None
    """Workload: repositories in the POC, with ``users``. Default: 500, from the default POC workload (0 means
    not set)."""
    total_repo_gb: float | None = None
    """Workload: size of the repositories on disk, GB. Default: 50 with the default POC workload, 100 with a
    configured one."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release X.Y.Z. Default: the release sgarch was tested with."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """``sgarch`` (the sgarch AMI, images baked in, so no internet is needed to start) or ``stock`` (Amazon
    Linux 2023; needs NAT or a proxy to download at first boot). Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI id. Default: the newest sgarch AMI of ``ami_owner`` for ``sourcegraph_version``, or the
    newest Amazon Linux 2023 AMI with ``image: stock``."""
    ami_owner: str = "self"
    """Account that owns the sgarch AMI (an account id, or ``self``). Default: self, this account."""
    vpc_id: str | None = None
    """The customer's VPC (the usual case), with ``subnet_ids``. Default: a new VPC, which needs a way in and
    out: ``transit_gateway_id``, ``peer_vpc_id`` or ``nat``."""
    subnet_ids: tuple[str, ...] = ()
    """With ``vpc_id``: private subnets in at least two AZs; the first holds the instance. Default: none (a
    new VPC's own)."""
    subnets_have_nat: bool = False
    """With ``vpc_id``: whether the given subnets route to a NAT gateway (if not, interface endpoints are
    created). Default: no."""
    vpc_cidr: str = "10.50.0.0/16"
    """CIDR of a new VPC. Default: 10.50.0.0/16; pick one your network team has not used when the VPC is
    attached to your network."""
    availability_zone_ids: tuple[str, ...] = ()
    """New VPC only: the ids of its two zones (``use1-az1``), which never change once its subnets exist.
    Default: the first two zones of the region that offer the instance type (with runtime eks, the node
    type, and only zones where EKS can place the cluster: not use1-az3, usw1-az2 or cac1-az3) and the
    interface endpoints; pin the ``availability_zone_ids`` output here."""
    nat: bool = False
    """New VPC only: public subnets and one NAT gateway for egress. Needs ``egress_allowlist`` or
    ``http_proxy`` (what may leave is written down); people come in through SSM port forwarding unless
    ``transit_gateway_id`` or ``peer_vpc_id`` also connects their networks. Default: off."""
    transit_gateway_id: str | None = None
    """New VPC only: attach its private subnets to this transit gateway (yours, or shared with this account
    through RAM) and route ``routed_cidrs`` through it. Default: none."""
    peer_vpc_id: str | None = None
    """New VPC only: request a peering connection to this VPC of yours and route ``routed_cidrs`` through it.
    Peering is not transitive: only what is inside that VPC is reached. Default: none."""
    peer_owner_id: str | None = None
    """Account of ``peer_vpc_id``. Default: this account (then, in the same region, the peering is accepted
    by the stack; otherwise the peer account must accept it)."""
    peer_region: str | None = None
    """Region of ``peer_vpc_id``. Default: this region."""
    routed_cidrs: tuple[str, ...] = ()
    """With ``transit_gateway_id`` or ``peer_vpc_id``: IPv4 networks the new VPC routes through it (``0.0.0.0/0``
    for a central egress VPC). Default: ``allowed_cidrs``, ``api_access_cidrs`` and the egress allowlist's."""
    interface_endpoints: bool | None = None
    """VPC interface endpoints (with runtime eks also EC2, Elastic Load Balancing and EKS Auth): ``true`` or
    ``false``; ``false`` in your VPC means it already has them. Default: all of them without NAT; with NAT and
    ``egress_allowlist`` but no proxy, the five that Session Manager and the CloudWatch agent need; none with
    NAT and a proxy (the agents use the proxy) or open egress."""
    certificate_arn: str | None = None
    """ACM certificate for the ALB. Default: issue one for ``record_name``, validated in ``public_zone_id``."""
    public_zone_id: str | None = None
    """Public Route53 zone used only to validate an issued certificate (DNS validation); required without
    ``certificate_arn``. Default: none."""
    record_name: str
    """Required. The private DNS name users open, such as sourcegraph.poc.example.com."""
    private_zone_id: str | None = None
    """Your private hosted zone for ``record_name``. Default: a new private zone named ``record_name`` itself
    (never its parent, which would hide every other name of your domain inside the VPC)."""
    allowed_cidrs: tuple[str, ...] = ()
    """Networks that may reach the ALB. Default: every CIDR of the VPC (SSM port forwarding comes from inside
    it). Required with ``transit_gateway_id`` or ``peer_vpc_id``."""
    alb_access_logs: bool = True
    """ALB access logs in S3. Default: on (finding SGA-023 when off, unless suppressed)."""
    alb_access_logs_bucket: str | None = None
    """Existing bucket for the ALB's access logs (SSE-S3, its policy letting ELB log delivery write).
    Default: a bucket the stack creates (private, TLS only, logs deleted after 90 days, kept on destroy)."""
    alb_deletion_protection: bool = True
    """ALB deletion protection. Default: on; at the end of the POC turn it off (and pulumi up) before pulumi destroy."""
    egress_allowlist: tuple[dict[str, Any], ...] = ()
    """Code hosts the instance may reach: ``[{cidr, from_port, to_port, description}]``. A security group
    filters by IP address, never by name. Default: any (or only the proxy with ``http_proxy``)."""
    http_proxy: str | None = None
    """HTTP proxy (``http://host:port``) for every client on the host (dnf, curl, git, Docker, the SSM and
    CloudWatch agents) and Sourcegraph's containers. The instance may then reach the proxy's port and nothing
    else outside the VPC (plus ``egress_allowlist``). Default: none."""
    no_proxy: tuple[str, ...] = ()
    """Extra NO_PROXY entries; sgarch already adds the host, the metadata service and Sourcegraph's services
    (and the region's AWS names when the VPC has the interface endpoints). Default: none."""
    proxy_cidrs: tuple[str, ...] = ()
    """Where the proxy runs, as CIDRs: its port is opened to them, and a new VPC routes them. Default: the
    proxy's address when ``http_proxy`` names an IP; required when it names a host (a security group filters
    by IP, not by name)."""
    tags: dict[str, str] = {}
    """Extra tags on every resource (a map, set with ``pulumi config set --path``). Default: none."""
    image_registry: str | None = None
    """runtime eks: registry prefix of Sourcegraph's images inside your network, such as an ECR pull-through
    cache of Docker Hub (``<account>.dkr.ecr.<region>.amazonaws.com/docker-hub/sourcegraph``). Required when
    the subnets have no NAT. Default: Docker Hub. Single-node ignores it (its AMI has the images)."""
    load_balancer_controller_image: str | None = None
    """runtime eks: repository of the AWS Load Balancer Controller image inside your network, such as an ECR
    pull-through cache of public.ecr.aws (``.../ecr-public/eks/aws-load-balancer-controller``). Required
    when the subnets have no NAT. Default: public.ecr.aws. Single-node ignores it."""
    admin_principal_arns: tuple[str, ...] = ()
    """runtime eks: IAM roles or users given cluster-admin. Default: only the identity that runs Pulumi."""
    api_access_cidrs: tuple[str, ...] = ()
    """runtime eks: networks that may reach the private Kubernetes API on 443 (where Pulumi and kubectl run).
    Default: the ALB's networks (``allowed_cidrs``, or the new VPC's CIDR)."""

    @field_validator("budget_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ConfigError(
                "budget_emails", "at least one e-mail address", list(value), "list who gets the budget alerts"
            )
        for address in value:
            if not _EMAIL.match(address):
                raise ConfigError("budget_emails", "e-mail addresses", address, "fix the address")
        return value

    @field_validator("monthly_budget_usd")
    @classmethod
    def _budget(cls, value: float) -> float:
        if value <= 0:
            raise ConfigError(
                "monthly_budget_usd", "a positive amount in USD", value, "set the monthly limit"
            )
        return value

    @field_validator("routed_cidrs")
    @classmethod
    def _routed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                network = None
            if network is None or network.version != 4:
                raise ConfigError(
                    "routed_cidrs",
                    "IPv4 CIDRs like 10.0.0.0/8",
                    cidr,
                    "a new POC VPC is IPv4 only; give the network address and prefix length",
                )
        return value

    @model_validator(mode="after")
    def _combinations(self) -> PocSettings:
        check_brought_vpc(self.vpc_id, self.subnet_ids, 2, "the internal ALB needs two AZs")
        if not self.certificate_arn and not self.public_zone_id:
            raise ConfigError(
                "certificate_arn",
                "set, or public_zone_id set to issue one",
                None,
                "give an ACM certificate ARN, or a public Route53 zone to validate a new certificate in",
            )
        if self.vpc_id:
            self._brought_vpc()
        else:
            self._new_vpc()
        if self.runtime == "eks":
            self._eks_combinations()
        elif self.image == "stock" and not (self.has_nat or self.http_proxy or _ANYWHERE in self.routes()):
            raise ConfigError(
                "image",
                "sgarch when the subnets have neither NAT nor a proxy",
                self.image,
                "a stock AMI downloads Docker and Sourcegraph at first boot; use the sgarch AMI, or set http_proxy",
            )
        if (self.users is None) != (self.repos is None):
            raise ConfigError(
                "repos" if self.repos is None else "users",
                "set together with users and repos",
                None,
                "give both",
            )
        return self

    def _brought_vpc(self) -> None:
        check_zone_ids(self.availability_zone_ids, self.vpc_id, NEW_VPC_ZONES, None)
        for key in _NEW_VPC_ONLY:
            value = getattr(self, key)
            if value:
                raise ConfigError(
                    key,
                    "unset with vpc_id",
                    list(value) if isinstance(value, tuple) else value,
                    "it shapes only a VPC the stack creates; your VPC's own routes decide who reaches it",
                )

    def _new_vpc(self) -> None:
        check_zone_ids(self.availability_zone_ids, None, NEW_VPC_ZONES, None, eks=self.runtime == "eks")
        if self.subnets_have_nat:
            raise ConfigError(
                "subnets_have_nat",
                "unset without vpc_id",
                True,
                "it describes subnets you bring; for a new VPC set nat",
            )
        if self.runtime == "eks" and not (self.transit_gateway_id or self.peer_vpc_id):
            raise ConfigError(
                "transit_gateway_id",
                "set, or peer_vpc_id, with runtime eks and a new VPC",
                None,
                "Pulumi and kubectl reach the private Kubernetes API from your network, which nat alone does not "
                "connect; or give vpc_id and subnet_ids of a VPC in your network",
            )
        if not (self.transit_gateway_id or self.peer_vpc_id or self.nat):
            raise ConfigError(
                "transit_gateway_id",
                "set, or peer_vpc_id, or nat, when the stack creates the VPC",
                None,
                "a new VPC is otherwise reachable by nobody and reaches nothing: attach it to your transit "
                "gateway, peer it with a VPC of yours, or set nat (with egress_allowlist or http_proxy) and "
                "come in through SSM port forwarding; or give vpc_id and subnet_ids of a VPC in your network",
            )
        if self.transit_gateway_id and self.peer_vpc_id:
            raise ConfigError(
                "peer_vpc_id",
                "unset with transit_gateway_id",
                self.peer_vpc_id,
                "choose one way into the new VPC; the transit gateway reaches everything the peer VPC does",
            )
        if self.transit_gateway_id and not _TGW.match(self.transit_gateway_id):
            raise ConfigError(
                "transit_gateway_id", "an id like tgw-0123456789abcdef0", self.transit_gateway_id, "copy it"
            )
        if self.peer_vpc_id and not _VPC.match(self.peer_vpc_id):
            raise ConfigError("peer_vpc_id", "an id like vpc-0123456789abcdef0", self.peer_vpc_id, "copy it")
        if self.peer_owner_id and not _ACCOUNT.match(self.peer_owner_id):
            raise ConfigError("peer_owner_id", "a 12-digit account id", self.peer_owner_id, "copy it")
        if (self.peer_owner_id or self.peer_region) and not self.peer_vpc_id:
            key = "peer_owner_id" if self.peer_owner_id else "peer_region"
            raise ConfigError(key, "set only with peer_vpc_id", getattr(self, key), "set peer_vpc_id too")
        connected = self.transit_gateway_id or self.peer_vpc_id
        if self.routed_cidrs and not connected:
            raise ConfigError(
                "routed_cidrs",
                "set only with transit_gateway_id or peer_vpc_id",
                list(self.routed_cidrs),
                "routes need a transit gateway or a peering connection to go through",
            )
        if connected and not self.allowed_cidrs:
            raise ConfigError(
                "allowed_cidrs",
                "set with transit_gateway_id or peer_vpc_id",
                [],
                "list your users' networks: they reach the internal ALB through that connection, and the ALB "
                "otherwise admits only the new VPC",
            )
        # EKS has no egress allowlist: its pods leave through the NAT gateway like any workload of the subnets.
        if self.nat and self.runtime == "single-node" and not (self.egress_allowlist or self.http_proxy):
            raise ConfigError(
                "egress_allowlist",
                "set (or http_proxy) with nat",
                [],
                "write down what the POC may reach, such as your code host's CIDRs on 443; "
                "[{cidr: 0.0.0.0/0}] allows everything on purpose",
            )
        if self.nat and _ANYWHERE in self.routes():
            raise ConfigError(
                "routed_cidrs",
                "free of 0.0.0.0/0 with nat",
                list(self.routed_cidrs),
                "the NAT gateway already takes the default route; list your networks instead",
            )
        if self.interface_endpoints is False and not self._reaches_aws_without_endpoints():
            raise ConfigError(
                "interface_endpoints",
                "true or unset when the new VPC has no other way to AWS",
                False,
                "Session Manager (the only admin access) and the CloudWatch agent need them; or set http_proxy, "
                "nat without egress_allowlist, or route 0.0.0.0/0 to your network",
            )

    def _reaches_aws_without_endpoints(self) -> bool:
        if self.runtime == "single-node" and self.http_proxy:
            return True
        return (self.nat and not self.egress_allowlist) or _ANYWHERE in self.routes()

    def _eks_combinations(self) -> None:
        unused = {
            "egress_allowlist": self.egress_allowlist,
            "http_proxy": self.http_proxy,
            "proxy_cidrs": self.proxy_cidrs,
            "ami_id": self.ami_id,
        }
        for key, value in unused.items():
            if value:
                raise ConfigError(
                    key,
                    "unset with runtime eks",
                    list(value) if isinstance(value, tuple) else value,
                    "it applies to the single node only; with eks, pods reach code hosts through the "
                    "subnets' own routes (NAT, transit gateway, VPN)",
                )
        if not self.has_nat:
            for key in ("image_registry", "load_balancer_controller_image"):
                if not getattr(self, key):
                    raise ConfigError(
                        key,
                        "set with runtime eks when the subnets have no NAT",
                        None,
                        "nodes pull container images at run time: mirror them into ECR (a pull-through "
                        "cache) and give its repository, or use subnets with NAT",
                    )
        if self.vpc_id and not self.allowed_cidrs:
            raise ConfigError(
                "allowed_cidrs",
                "set with runtime eks and vpc_id",
                [],
                "list your VPC's CIDR or your users' networks; the load balancer controller would otherwise "
                "open the internal ALB to 0.0.0.0/0",
            )

    # -- decisions ------------------------------------------------------------------------------------------

    @property
    def has_nat(self) -> bool:
        """Whether the instance's subnets reach the internet through NAT (yours, or the one ``nat`` creates)."""
        return self.subnets_have_nat if self.vpc_id else self.nat

    def alb_cidrs(self) -> tuple[str, ...]:
        """Who reaches the ALB: ``allowed_cidrs``, else the new VPC's CIDR (a brought VPC's is looked up)."""
        return self.allowed_cidrs or (() if self.vpc_id else (self.vpc_cidr,))

    def routes(self) -> tuple[str, ...]:
        """What the new VPC routes through its transit gateway or peering connection (none otherwise)."""
        if self.vpc_id or not (self.transit_gateway_id or self.peer_vpc_id):
            return ()
        if self.routed_cidrs:
            return self.routed_cidrs
        cidrs = [*self.allowed_cidrs, *self.api_access_cidrs]
        cidrs += [str(rule.get("cidr")) for rule in self.egress_allowlist if ":" not in str(rule.get("cidr"))]
        cidrs += [c for c in self._proxy_cidrs() if ":" not in c]
        vpc = ipaddress.ip_network(self.vpc_cidr, strict=False)
        # The VPC's own range is its local route already; AWS refuses a second route for it.
        return tuple(c for c in dict.fromkeys(cidrs) if not _inside(c, vpc))

    def _proxy_cidrs(self) -> tuple[str, ...]:
        if self.proxy_cidrs or not self.http_proxy:
            return self.proxy_cidrs
        return parse_proxy_url("http_proxy", self.http_proxy).default_cidrs()

    def aws_endpoints_in_vpc(self) -> bool:
        """Whether the host's AWS calls (SSM and CloudWatch agents) go to interface endpoints in the VPC:
        the stack's own, or, without NAT, those a brought VPC must already have when ``interface_endpoints``
        is false. Otherwise they go through the proxy, or out through NAT."""
        if self.endpoint_services():
            return True
        return bool(self.vpc_id) and self.interface_endpoints is False and not self.has_nat

    def endpoint_services(self) -> tuple[str, ...]:
        """The interface endpoints the Network creates for the instance's agents (see ``interface_endpoints``)."""
        if self.interface_endpoints is not None:
            return INTERFACE_ENDPOINT_SERVICES if self.interface_endpoints else ()
        if not self.has_nat:
            return INTERFACE_ENDPOINT_SERVICES
        if self.runtime == "single-node" and self.egress_allowlist and not self.http_proxy:
            return AGENT_ENDPOINT_SERVICES
        return ()

    def expiry(self, today: dt.date | None = None) -> dt.date:
        """``expires_on`` as a date, checked to be in the future and at most a year away.

        ``today`` defaults to the ``SGARCH_TODAY`` environment variable (YYYY-MM-DD), which makes generated
        docs and tests reproducible, or else the current UTC date.
        """
        today = today or _today()
        try:
            day = dt.date.fromisoformat(self.expires_on)
        except ValueError:
            raise ConfigError(
                "expires_on", "a date like 2026-12-31", self.expires_on, "write it as YYYY-MM-DD"
            ) from None
        if day < today:
            raise ConfigError(
                "expires_on",
                f"today ({today.isoformat()}) or later",
                self.expires_on,
                "a POC needs an end date in the future",
            )
        if day > today + dt.timedelta(days=366):
            raise ConfigError(
                "expires_on",
                "at most a year away",
                self.expires_on,
                "a POC is time-boxed; promote it to production instead",
            )
        return day

    def planned_tier(self) -> Tier:
        """The tier to plan: ``tier`` if set and at least what :meth:`workload` needs, else what it needs.
        Raises ConfigError for a ``tier`` below the workload's."""
        if self.users is None:
            # The default POC workload is not configured: an explicit tier always wins over it.
            return planned_tier(self.tier, None) if self.tier else estimate(self.workload()).tier
        return estimate(self.workload(), tier=self.tier).tier

    def workload(self) -> Workload:
        """The POC workload: the configured one, or 50 users, 500 repos and 50 GB."""
        if self.users is not None and self.repos is not None:
            return Workload.parse(users=self.users, repos=self.repos, total_repo_gb=self.total_repo_gb)
        return Workload(users=50, repos=500, total_repo_gb=self.total_repo_gb or 50)


def _inside(cidr: str, vpc: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return network.version == vpc.version and network.subnet_of(vpc)  # type: ignore[arg-type]


def _today() -> dt.date:
    pinned = os.environ.get("SGARCH_TODAY")
    if pinned:
        try:
            return dt.date.fromisoformat(pinned)
        except ValueError:
            raise ConfigError(
                "SGARCH_TODAY", "a date like 2026-11-23", pinned, "unset it or fix the date"
            ) from None
    return dt.datetime.now(dt.timezone.utc).date()
