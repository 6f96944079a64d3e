"""Outbound rules of the single node's security group.

A security group filters by IP, not by name: it can admit a proxy's address or a code host's published
ranges, never "github.com". Filtering by name is the proxy's job. So:

- neither ``http_proxy`` nor ``egress_allowlist``: everything out (nothing can come back in);
- otherwise: HTTPS to every CIDR of the VPC (its interface endpoints) and to S3's managed prefix list (the
  gateway endpoint: ECR's image layers and the backups are S3 objects), the proxy's port to ``proxy_cidrs``,
  and each ``egress_allowlist`` rule; nothing else reaches the outside.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from sgarch.host import parse_proxy_url
from sgarch.naming import EC2_RULE_DESCRIPTION, aws_text
from sgarch.network.checks import live_cidr_blocks
from sgarch.single_node.args import SingleNodeArgs

__all__ = ["cidr_kwargs", "egress_rules", "vpc_cidrs_prefix_list"]

# A VPC holds 5 IPv4 CIDRs unless its quota was raised; a rule naming a prefix list counts max_entries rules
# against the security group's quota, so the list is no larger than that.
_VPC_CIDR_SLOTS = 5


def cidr_kwargs(cidr: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """The rule field for ``cidr``: IPv6 ranges go in ``cidr_ipv6``, everything else in ``cidr_ipv4``."""
    if isinstance(cidr, str) and ":" in cidr:
        return {"cidr_ipv6": cidr}
    return {"cidr_ipv4": cidr}


def vpc_cidrs_prefix_list(
    parent: pulumi.Resource, name: str, vpc_id: pulumi.Input[str], tags: dict[str, str]
) -> aws.ec2.ManagedPrefixList:
    """``<name>-vpc-cidrs``: a prefix list of every IPv4 block of the VPC, secondary ones included.

    A rule can name "the VPC" only this way while ``vpc_id`` is an output: how many blocks it has is known
    once the lookup answers, and the number of rules cannot wait for that. Prefix lists are free.
    """
    vpc = aws.ec2.get_vpc_output(id=vpc_id, opts=pulumi.InvokeOutputOptions(parent=parent))
    # Blocks being disassociated or failed carry no traffic of the VPC any more; only live ones are listed.
    cidrs = vpc.apply(lambda found: sorted(set(live_cidr_blocks(found))))
    return aws.ec2.ManagedPrefixList(
        f"{name}-vpc-cidrs",
        address_family="IPv4",
        max_entries=cidrs.apply(lambda found: max(_VPC_CIDR_SLOTS, len(found))),
        entries=cidrs.apply(
            lambda found: [aws.ec2.ManagedPrefixListEntryArgs(cidr=c, description="VPC CIDR") for c in found]
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def egress_rules(
    parent: pulumi.Resource,
    name: str,
    args: SingleNodeArgs,
    security_group: aws.ec2.SecurityGroup,
    region: pulumi.Output[str],
    tags: dict[str, str],
) -> aws.ec2.ManagedPrefixList | None:
    """Register the instance's outbound rules (children of ``parent``, named ``<name>-instance-egress-*``);
    return the VPC's prefix list (:func:`vpc_cidrs_prefix_list`) when they needed one."""
    child = pulumi.ResourceOptions(parent=parent)

    def rule(key: str, description: str, **destination: pulumi.Input[str] | int) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-instance-egress{key}",
            security_group_id=security_group.id,
            description=description,
            tags=tags,
            opts=child,
            **destination,  # type: ignore[arg-type]
        )

    if args.egress_allowlist is None and args.http_proxy is None:
        # Sourcegraph clones from code hosts and pulls images; egress is open, ingress is not.
        rule("", "Outbound to code hosts, registries and AWS APIs", ip_protocol="-1", cidr_ipv4="0.0.0.0/0")
        return None
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    https: dict[str, pulumi.Input[str] | int] = {"ip_protocol": "tcp", "from_port": 443, "to_port": 443}
    # Every CIDR of the VPC, secondary ones included: interface endpoints may sit in any of its subnets.
    vpc_cidrs = vpc_cidrs_prefix_list(parent, name, args.vpc_id, tags)
    rule(
        "-vpc",
        "HTTPS to the VPC: its interface endpoints (SSM, ECR, logs, STS)",
        prefix_list_id=vpc_cidrs.id,
        **https,
    )
    s3 = aws.ec2.get_managed_prefix_list_output(
        name=pulumi.Output.concat("com.amazonaws.", region, ".s3"), opts=invoke
    )
    rule("-s3", "HTTPS to S3 through its gateway endpoint", prefix_list_id=s3.id, **https)
    if args.http_proxy is not None:
        target = parse_proxy_url("http_proxy", args.http_proxy)
        described = aws_text(f"To the HTTP proxy {target.host}:{target.port}", EC2_RULE_DESCRIPTION)
        for index, cidr in enumerate(args.proxy_cidrs or target.default_cidrs()):
            port: dict[str, pulumi.Input[str] | int] = {"from_port": target.port, "to_port": target.port}
            rule(f"-proxy-{index}", described, ip_protocol="tcp", **port, **cidr_kwargs(cidr))
    for index, allowed in enumerate(args.egress_allowlist or ()):
        last = allowed.to_port if allowed.to_port is not None else allowed.from_port
        ports: dict[str, pulumi.Input[str] | int] = {"from_port": allowed.from_port, "to_port": last}
        rule(f"-{index}", allowed.description, ip_protocol="tcp", **ports, **cidr_kwargs(allowed.cidr))
    return vpc_cidrs
