"""The POC reference architecture: a private, time-boxed Sourcegraph inside the customer's own VPC.

Generalised from enterprise proofs of concept: nothing is reachable from the internet, admins come in through
SSM Session Manager, users through an internal ALB with HTTPS and a private DNS name, the instance is stopped
(never deleted) after an expiry date, a budget e-mails at 80% and 100% of a monthly limit, and the data
volume can be promoted to production by snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sgarch.errors import ConfigError
from sgarch.network import INTERFACE_ENDPOINT_SERVICES, NatStrategy, Network, NetworkArgs
from sgarch.single_node.args import DEFAULT_SOURCEGRAPH_VERSION, EgressRule, LoadBalancerArgs, SingleNodeArgs
from sgarch.single_node.component import SingleNode
from sgarch.sizing import Workload
from sgarch.sizing.compose import COMPOSE_SERVICES
from sgarch.sizing.storage import poc_data_volume_gib
from sgarch.tiers import Tier
from sgarch.validation import build

__all__ = ["EXPIRY_TAG", "PocEnvironment", "PocSettings", "deploy", "stop_schedule_expression"]

EXPIRY_TAG = "expires-on"
POC_TAG = "poc"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# EC2 stopInstances through EventBridge Scheduler's universal target.
_STOP_TARGET = "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"


class PocSettings(BaseModel):
    """Config keys of ``stacks/poc`` (``pulumi config set <key> <value>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expires_on: str
    """Required. The last day of the POC (YYYY-MM-DD, UTC). From the next day the instance is stopped every
    hour; it is never deleted."""
    budget_emails: tuple[str, ...]
    """Required. Who gets the budget alerts at 80% and 100% of ``monthly_budget_usd``."""
    monthly_budget_usd: float = 1000
    """The monthly cost limit the alerts measure against. Default: $1,000."""
    tier: str = "XS"
    """XS unless sized otherwise. Default: XS."""
    users: int | None = None
    """Workload for sizing (with ``repos``). Default: a small POC: 50 users, 500 repos, 50 GB."""
    repos: int | None = None
    """Workload: repositories in the POC."""
    total_repo_gb: float | None = None
    """Workload: size of those repositories on disk, GB."""
    sourcegraph_version: str = DEFAULT_SOURCEGRAPH_VERSION
    """Sourcegraph release. Default: the one sgarch was tested with."""
    image: Literal["sgarch", "stock"] = "sgarch"
    """sgarch (images baked in, so no internet is needed to start) or stock. Default: sgarch."""
    ami_id: str | None = None
    """An explicit AMI id. Default: the sgarch AMI for the version."""
    ami_owner: str = "self"
    """Owner of the sgarch AMI. Default: this account."""
    vpc_id: str | None = None
    """The customer's VPC (the usual case), with ``subnet_ids``. Default: a new private-only VPC."""
    subnet_ids: tuple[str, ...] = ()
    """Private subnets in at least two AZs; the first holds the instance."""
    subnets_have_nat: bool = False
    """Whether the given subnets route to a NAT gateway. Default: no, so interface endpoints are created."""
    vpc_cidr: str = "10.50.0.0/16"
    """CIDR of a new private-only VPC. Default: 10.50.0.0/16."""
    interface_endpoints: bool | None = None
    """VPC interface endpoints (SSM, ECR, logs, STS). Default: on when there is no NAT."""
    certificate_arn: str | None = None
    """ACM certificate for the ALB. Default: issue one for ``record_name``, validated in ``public_zone_id``."""
    public_zone_id: str | None = None
    """Public Route53 zone used only to validate an issued certificate (DNS validation)."""
    record_name: str
    """Required. The private DNS name users open, such as sourcegraph.poc.example.com."""
    private_zone_id: str | None = None
    """Private hosted zone for ``record_name``. Default: a new private zone for its parent domain."""
    allowed_cidrs: tuple[str, ...] = ()
    """Networks that may reach the ALB. Default: the VPC's CIDR."""
    egress_allowlist: tuple[dict[str, Any], ...] = ()
    """Code hosts the instance may reach: ``[{cidr, from_port, to_port, description}]``. Default: any."""
    http_proxy: str | None = None
    """HTTP(S) proxy for reaching code hosts, passed to Sourcegraph (HTTP_PROXY and HTTPS_PROXY)."""
    no_proxy: tuple[str, ...] = ()
    """Extra NO_PROXY entries; sgarch already adds the host, the metadata service and Sourcegraph's services."""
    tags: dict[str, str] = {}
    """Extra tags on every resource."""

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

    @model_validator(mode="after")
    def _combinations(self) -> PocSettings:
        if self.vpc_id and len(self.subnet_ids) < 2:
            raise ConfigError(
                "subnet_ids",
                "at least two private subnets with vpc_id",
                list(self.subnet_ids),
                "the internal ALB needs two AZs",
            )
        if self.subnet_ids and not self.vpc_id:
            raise ConfigError(
                "vpc_id", "set when subnet_ids is set", None, "give the VPC the subnets belong to"
            )
        if not self.certificate_arn and not self.public_zone_id:
            raise ConfigError(
                "certificate_arn",
                "set, or public_zone_id set to issue one",
                None,
                "give an ACM certificate ARN, or a public Route53 zone to validate a new certificate in",
            )
        if self.image == "stock" and not (self.subnets_have_nat or self.http_proxy):
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

    def workload(self) -> Workload:
        """The POC workload: the configured one, or 50 users, 500 repos and 50 GB."""
        if self.users is not None and self.repos is not None:
            return Workload.parse(users=self.users, repos=self.repos, total_repo_gb=self.total_repo_gb)
        return Workload(users=50, repos=500, total_repo_gb=self.total_repo_gb or 50)


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


def stop_schedule_expression() -> str:
    """Every hour, so an instance someone starts again after the expiry is stopped again."""
    return "cron(0 * * * ? *)"


def _no_proxy(extra: tuple[str, ...]) -> str:
    base = ["localhost", "127.0.0.1", "169.254.169.254", ".internal", *sorted(COMPOSE_SERVICES)]
    return ",".join(dict.fromkeys([*base, *extra]))


class PocEnvironment(pulumi.ComponentResource):
    """A private, time-boxed Sourcegraph POC. Outputs: url, instance_id, data_volume_id, expires_on."""

    url: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    data_volume_id: pulumi.Output[str]
    expires_on: str

    def __init__(
        self,
        name: str,
        settings: PocSettings,
        today: dt.date | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        expiry = settings.expiry(today)
        super().__init__("sgarch:refarch:PocEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {POC_TAG: name, EXPIRY_TAG: expiry.isoformat(), "ManagedBy": "sgarch"} | dict(settings.tags)
        workload = settings.workload()

        has_nat = settings.subnets_have_nat if settings.vpc_id else False
        endpoints = settings.interface_endpoints if settings.interface_endpoints is not None else not has_nat
        if settings.vpc_id:
            network_args = build(
                NetworkArgs,
                None,
                vpc_id=settings.vpc_id,
                private_subnet_ids=list(settings.subnet_ids),
                interface_endpoints=INTERFACE_ENDPOINT_SERVICES if endpoints else (),
                tags=tags,
            )
        else:
            network_args = build(
                NetworkArgs,
                None,
                vpc_cidr=settings.vpc_cidr,
                az_count=2,
                private_only=True,
                nat_strategy=NatStrategy.NONE,
                interface_endpoints=INTERFACE_ENDPOINT_SERVICES if endpoints else (),
                tags=tags,
            )
        network = Network(f"{name}-network", network_args, opts=child)

        zone_id = self._private_zone(name, settings, network.vpc_id, tags)
        certificate_arn = settings.certificate_arn or self._certificate(name, settings, tags)
        egress = None
        if settings.egress_allowlist:
            egress = tuple(build(EgressRule, None, **rule) for rule in settings.egress_allowlist)
        env: dict[str, str] = {}
        if settings.http_proxy:
            env = {
                "HTTP_PROXY": settings.http_proxy,
                "HTTPS_PROXY": settings.http_proxy,
                "NO_PROXY": _no_proxy(settings.no_proxy),
            }
        instance_subnet: pulumi.Input[str] = (
            settings.subnet_ids[0]
            if settings.vpc_id
            else network.private_subnet_ids.apply(lambda ids: ids[0])
        )
        node = SingleNode(
            name,
            build(
                SingleNodeArgs,
                None,
                vpc_id=network.vpc_id,
                subnet_id=instance_subnet,
                tier=settings.tier or Tier.XS,
                workload=workload,
                sourcegraph_version=settings.sourcegraph_version,
                image=settings.image,
                ami_id=settings.ami_id,
                ami_owner=settings.ami_owner,
                data_volume_gib=poc_data_volume_gib(workload),
                load_balancer=build(
                    LoadBalancerArgs,
                    None,
                    certificate_arn=certificate_arn,
                    subnet_ids=network.private_subnet_ids,
                    internet_facing=False,
                    allowed_cidrs=settings.allowed_cidrs,
                    zone_id=zone_id,
                    record_name=settings.record_name,
                ),
                egress_allowlist=egress,
                extra_env=env,
                tags=tags,
            ),
            opts=child,
        )
        self._stop_after_expiry(name, node, expiry, tags)
        self._budget(name, settings, tags)

        self.url = node.url
        self.instance_id = node.instance_id
        self.data_volume_id = node.data_volume_id
        self.expires_on = expiry.isoformat()
        self.register_outputs(
            {
                "url": self.url,
                "instance_id": self.instance_id,
                "data_volume_id": self.data_volume_id,
                "expires_on": self.expires_on,
            }
        )

    def _private_zone(
        self, name: str, settings: PocSettings, vpc_id: pulumi.Input[str], tags: dict[str, str]
    ) -> pulumi.Input[str]:
        if settings.private_zone_id:
            return settings.private_zone_id
        parent_domain = settings.record_name.split(".", 1)[-1]
        zone = aws.route53.Zone(
            f"{name}-private-zone",
            name=parent_domain,
            comment=f"sgarch POC {name}: private names for Sourcegraph",
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=vpc_id)],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return zone.zone_id

    def _certificate(self, name: str, settings: PocSettings, tags: dict[str, str]) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=settings.record_name,
            validation_method="DNS",
            tags=tags,
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation",
            zone_id=settings.public_zone_id or "",
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=60,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn

    def _stop_after_expiry(self, name: str, node: SingleNode, expiry: dt.date, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        role = aws.iam.Role(
            f"{name}-stop",
            assume_role_policy=trust,
            description="sgarch POC: lets EventBridge Scheduler stop the POC instance after its expiry",
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-stop",
            role=role.name,
            policy=node.instance.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": arn}],
                    }
                )
            ),
            opts=child,
        )
        group = aws.scheduler.ScheduleGroup(f"{name}-expiry", tags=tags, opts=child)
        start = dt.datetime.combine(expiry + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.timezone.utc)
        aws.scheduler.Schedule(
            f"{name}-stop-after-expiry",
            group_name=group.name,
            description=f"Stop the POC instance every hour from {start.date().isoformat()}; it is never deleted",
            schedule_expression=stop_schedule_expression(),
            schedule_expression_timezone="UTC",
            start_date=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=_STOP_TARGET,
                role_arn=role.arn,
                input=node.instance_id.apply(lambda instance: json.dumps({"InstanceIds": [instance]})),
            ),
            opts=child,
        )

    def _budget(self, name: str, settings: PocSettings, tags: dict[str, str]) -> None:
        aws.budgets.Budget(
            f"{name}-budget",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{settings.monthly_budget_usd:.2f}",
            limit_unit="USD",
            # Counts what carries the POC tag; activate `poc` as a cost allocation tag (see README).
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{POC_TAG}${name}"])
            ],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    notification_type="ACTUAL",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    subscriber_email_addresses=list(settings.budget_emails),
                )
                for threshold in (80, 100)
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def deploy(name: str, settings: PocSettings, today: dt.date | None = None) -> dict[str, Any]:
    """Create the POC and return the stack outputs."""
    poc = PocEnvironment(name, settings, today)
    return {
        "url": poc.url,
        "instance_id": poc.instance_id,
        "data_volume_id": poc.data_volume_id,
        "expires_on": poc.expires_on,
    }
