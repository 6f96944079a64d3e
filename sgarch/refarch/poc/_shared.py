"""What both runtimes of the POC share: the private zone, the certificate, the budget and the expiry's
scheduler role, and :class:`PocParts`, what the environment hands each runtime. Each function registers its
resources under the PocEnvironment."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from sgarch.refarch.poc._settings import PocSettings

if TYPE_CHECKING:
    from sgarch.network import Network

__all__ = [
    "ARCHITECTURE",
    "EXPIRY_TAG",
    "POC_TAG",
    "PocParts",
    "allow",
    "budget",
    "certificate",
    "cost_allocation_note",
    "first_stop",
    "private_zone",
    "scheduler_role",
    "stop_schedule_expression",
]

ARCHITECTURE = "poc"
"""The ``sgarch:architecture`` tag on every resource of the POC, its components' included."""
EXPIRY_TAG = "expires-on"
"""The tag that carries ``expires_on``: on the schedules' group and the budget only, so extending a POC
changes those and nothing else (on a launch template it would roll every EKS node)."""
POC_TAG = "poc"
"""The cost allocation tag the budget counts (``poc=<stack>``), on every resource."""


@dataclass(frozen=True)
class PocParts:
    """What the PocEnvironment built before its runtime, and hands to it whole: the same for the single node
    and for EKS."""

    parent: pulumi.Resource
    """The PocEnvironment: every resource of the runtime is its child."""
    name: str
    """The POC's name (the stack's): the prefix of every logical name."""
    settings: PocSettings
    net: Network
    zone_id: pulumi.Input[str]
    """The private zone answering ``record_name`` inside the VPC."""
    certificate_arn: pulumi.Input[str]
    expiry: dt.date
    tags: dict[str, str]
    """The tags of the POC's own resources: sgarch's, ``poc=<name>`` and the user's."""
    expiry_tags: dict[str, str]
    """:attr:`tags` and the expiry: only where the expiry acts or is reported (the schedules, the budget)."""

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        """Options for a resource of the POC: the environment as parent, and ``options``."""
        return pulumi.ResourceOptions(parent=self.parent, **options)


def stop_schedule_expression() -> str:
    """Every hour, so an instance someone starts again after the expiry is stopped again."""
    return "cron(0 * * * ? *)"


def first_stop(expiry: dt.date) -> str:
    """The first run of the stop schedule: midnight UTC after the last day."""
    start = dt.datetime.combine(expiry + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.timezone.utc)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def allow(action: str, resource: str | list[str]) -> str:
    """An IAM policy document allowing one action on ``resource``."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


def private_zone(
    parent: pulumi.Resource,
    name: str,
    settings: PocSettings,
    vpc_id: pulumi.Input[str],
    tags: dict[str, str],
) -> pulumi.Input[str]:
    """The private zone that answers ``record_name`` inside the VPC; its id.

    A zone named for the record itself, with the record at its apex, answers that one name and nothing else:
    a zone for the parent domain would answer NXDOMAIN inside the VPC for every other name of the customer's
    domain (their code host, their proxy), because Route 53 does not fall through from a matching private
    zone to public DNS. A customer's own zone is used as given; when the stack creates the VPC, that zone is
    associated with it so the instance (and SSM port forwarding through it) resolves the name too.
    """
    child = pulumi.ResourceOptions(parent=parent)
    if settings.private_zone_id:
        if not settings.vpc_id:
            aws.route53.ZoneAssociation(
                f"{name}-private-zone", zone_id=settings.private_zone_id, vpc_id=vpc_id, opts=child
            )
        return settings.private_zone_id
    zone = aws.route53.Zone(
        f"{name}-private-zone",
        name=settings.record_name,
        comment=f"sgarch POC {name}: the private name of Sourcegraph, and nothing else",
        vpcs=[aws.route53.ZoneVpcArgs(vpc_id=vpc_id)],
        tags=tags,
        opts=child,
    )
    return zone.zone_id


def certificate(
    parent: pulumi.Resource, name: str, settings: PocSettings, tags: dict[str, str]
) -> pulumi.Output[str]:
    """An ACM certificate for ``record_name``, DNS-validated in ``public_zone_id``; its ARN once issued."""
    child = pulumi.ResourceOptions(parent=parent)
    cert = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=settings.record_name,
        validation_method="DNS",
        tags=tags,
        opts=child,
    )
    option = cert.domain_validation_options[0]
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
        certificate_arn=cert.arn,
        validation_record_fqdns=[record.fqdn],
        opts=child,
    )
    return validation.certificate_arn


def scheduler_role(
    parts: PocParts, description: str, policy: pulumi.Output[str]
) -> tuple[aws.iam.Role, aws.scheduler.ScheduleGroup]:
    """The role EventBridge Scheduler assumes to act after the expiry, and the group of its schedules."""
    name, child = parts.name, parts.child()
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
        f"{name}-stop", assume_role_policy=trust, description=description, tags=parts.tags, opts=child
    )
    aws.iam.RolePolicy(f"{name}-stop", role=role.name, policy=policy, opts=child)
    group = aws.scheduler.ScheduleGroup(f"{name}-expiry", tags=parts.expiry_tags, opts=child)
    return role, group


def budget(parts: PocParts) -> None:
    """A monthly budget over what carries ``poc=<name>`` in this region, mailing at 80% and 100%.

    The region filter keeps POCs of the same stack name in other regions out of each other's budgets. The
    tag filter counts only once ``poc`` is an active cost allocation tag (see :func:`cost_allocation_note`).
    """
    parent, name, settings = parts.parent, parts.name, parts.settings
    child = parts.child()
    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent)).region
    depends: list[pulumi.Resource] = []
    if settings.activate_cost_allocation_tag:
        # Every POC stack of the account shares the tag key: destroying one stack must not deactivate it
        # for the others, so the stack leaves the tag active when it goes.
        depends.append(
            aws.costexplorer.CostAllocationTag(
                f"{name}-cost-allocation-tag",
                tag_key=POC_TAG,
                status="Active",
                opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True),
            )
        )
    aws.budgets.Budget(
        f"{name}-budget",
        budget_type="COST",
        time_unit="MONTHLY",
        limit_amount=f"{settings.monthly_budget_usd:.2f}",
        limit_unit="USD",
        cost_filters=[
            aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{POC_TAG}${name}"]),
            aws.budgets.BudgetCostFilterArgs(name="Region", values=[region]),
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
        tags=parts.expiry_tags,
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=depends)),
    )


def cost_allocation_note(settings: PocSettings) -> str:
    """What the ``cost_allocation_tag`` output tells the owner about the budget's tag."""
    if settings.activate_cost_allocation_tag:
        return (
            f"this stack activates the '{POC_TAG}' cost allocation tag; AWS lists a tag key only after it has "
            "seen it on a resource (up to 24 hours after the first pulumi up), and refuses the activation from "
            "a member account of an organization"
        )
    return (
        f"the budget reads $0 until '{POC_TAG}' is an active cost allocation tag: in the payer (management) "
        "account, Billing and Cost Management > Cost allocation tags > activate it (AWS lists it up to 24 hours "
        "after the first pulumi up); if this account is the payer, set activate_cost_allocation_tag instead"
    )
