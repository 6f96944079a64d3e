"""SGA-011: compute and databases live in private subnets without public addresses."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

_INSTANCE = "aws:ec2/instance:Instance"
_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
_ASG = "aws:autoscaling/group:Group"
_RDS = "aws:rds/instance:Instance"
_TYPES = (_INSTANCE, _TEMPLATE, _NODE_GROUP, _ASG, _RDS)


def check(resources: Resources) -> Iterator[Violation]:
    """No public IP on instances or templates, no public subnets for compute, no public databases."""
    public = resources.public_subnet_ids()
    for record in resources.of_type(_INSTANCE):
        if as_bool(record.inputs.get("associatePublicIpAddress")):
            yield Violation(record, "the instance gets a public IP address")
        if str(record.inputs.get("subnetId")) in public:
            yield Violation(record, "the instance is in a public subnet")
    for record in resources.of_type(_TEMPLATE):
        for interface in record.inputs.get("networkInterfaces") or []:
            if as_bool(interface.get("associatePublicIpAddress")):
                yield Violation(record, "the launch template gives instances a public IP address")
    for record, field in ((r, "subnetIds") for r in resources.of_type(_NODE_GROUP)):
        if {str(s) for s in record.inputs.get(field) or []} & public:
            yield Violation(record, "nodes are placed in a public subnet")
    for record in resources.of_type(_ASG):
        if {str(s) for s in record.inputs.get("vpcZoneIdentifiers") or []} & public:
            yield Violation(record, "instances are placed in a public subnet")
    for record in resources.of_type(_RDS):
        if as_bool(record.inputs.get("publiclyAccessible")):
            yield Violation(record, "the database is publicly accessible")


RULE = Rule(
    id="SGA-011",
    title="Compute in private subnets",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause=(
        "An instance, node group, auto-scaling group or launch template uses a public subnet or a public IP, "
        "or an RDS instance is publicly accessible."
    ),
    explanation=(
        "A public address makes the host one security-group mistake away from the internet. Sourcegraph needs "
        "only outbound access (through NAT or VPC endpoints) and inbound traffic from its load balancer."
    ),
    fix="Use private subnets, associate_public_ip_address=False and publicly_accessible=False.",
    check=check,
)
