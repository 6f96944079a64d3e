"""A mermaid flowchart derived from a recorded plan.

Which resources appear is decided by type; where they sit (public or private subnets, regional services)
by the subnets they reference; which are linked by the references between resources in the plan (an input
holding another resource's id, ARN or name, or a ``depends_on``), followed through the resources that are
not drawn (security groups, rules, listeners, target groups, roles). Nothing is laid out by hand, so the
diagram changes when the code does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sgarch.plan import Plan
from sgarch.policy import Resources
from sgarch.testing import ResourceRecord

__all__ = ["render_mermaid"]

_SUBNET = "aws:ec2/subnet:Subnet"
_VPC = "aws:ec2/vpc:Vpc"
# Resources that many others reference; following them would link everything to everything.
_HUBS = frozenset(
    {
        _VPC,
        _SUBNET,
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
    }
)
# Left-to-right order of the flow: traffic comes in, reaches compute, which uses data and services.
_RANK = {
    "lb": 0,
    "nat": 1,
    "eks": 1,
    "compute": 2,
    "helm": 2,
    "endpoints": 3,
    "data": 3,
    "backup": 4,
    "kms": 5,
}


@dataclass
class _Node:
    key: str
    label: str
    rank: int
    place: str  # "private", "public", "vpc" or "regional"
    records: list[ResourceRecord]


def _fmt(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:,.0f}"


def _describe(record: ResourceRecord) -> tuple[str, str, int] | None:
    """(node key, label, rank) of a drawn resource; None for resources the diagram leaves out."""
    i = record.inputs
    t = record.type
    if t == "aws:ec2/instance:Instance":
        return f"i_{record.name}", f"EC2 instance<br/>{i.get('instanceType')}", _RANK["compute"]
    if t == "aws:ebs/volume:Volume":
        parts = [f"EBS {i.get('type', 'gp2')} {_fmt(i.get('size'))} GiB"]
        if i.get("iops"):
            parts.append(f"{_fmt(i.get('iops'))} IOPS")
        return f"v_{record.name}", "<br/>".join(parts), _RANK["data"]
    if t in ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"):
        scheme = "internal" if i.get("internal") else "internet-facing"
        return f"lb_{record.name}", f"ALB ({scheme})<br/>HTTPS 443", _RANK["lb"]
    if t == "aws:ec2/natGateway:NatGateway":
        return "nat", "NAT gateway", _RANK["nat"]
    # The ways into a VPC from the customer's networks: users come in through them.
    if t == "aws:ec2transitgateway/vpcAttachment:VpcAttachment":
        return "way_in", "Transit gateway attachment", _RANK["lb"]
    if t == "aws:ec2/vpcPeeringConnection:VpcPeeringConnection":
        return "way_in", "VPC peering connection", _RANK["lb"]
    if t == "aws:ec2/vpcEndpoint:VpcEndpoint":
        service = str(i.get("serviceName", "")).split(".", 3)[-1]
        if i.get("vpcEndpointType") == "Interface":
            return "endpoints", "Interface endpoints", _RANK["endpoints"]
        return f"gw_{service}", f"{service.upper()} gateway endpoint", _RANK["endpoints"]
    if t == "aws:eks/cluster:Cluster":
        return (
            f"eks_{record.name}",
            f"EKS control plane<br/>Kubernetes {i.get('version', '')}".strip(),
            _RANK["eks"],
        )
    if t == "aws:eks/nodeGroup:NodeGroup":
        scaling = i.get("scalingConfig") or {}
        types = ", ".join(str(x) for x in i.get("instanceTypes") or []) or "launch template"
        return (
            f"ng_{record.name}",
            f"Node group {record.name}<br/>{_fmt(scaling.get('desiredSize', 1))} × {types}",
            _RANK["compute"],
        )
    if t == "aws:rds/instance:Instance":
        layout = "Multi-AZ" if i.get("multiAz") else "Single-AZ"
        return (
            f"rds_{record.name}",
            f"RDS {i.get('engine', '')} {i.get('instanceClass', '')}<br/>{layout}",
            _RANK["data"],
        )
    if t == "aws:elasticache/replicationGroup:ReplicationGroup":
        return (
            f"redis_{record.name}",
            f"ElastiCache {i.get('engine', 'redis')}<br/>{i.get('nodeType', '')}",
            _RANK["data"],
        )
    if t == "aws:s3/bucket:Bucket":
        return f"s3_{record.name}", f"S3 bucket<br/>{record.name}", _RANK["data"]
    if t == "aws:kms/key:Key":
        return f"kms_{record.name}", "KMS key", _RANK["kms"]
    if t == "aws:dlm/lifecyclePolicy:LifecyclePolicy":
        schedules = (i.get("policyDetails") or {}).get("schedules") or [{}]
        kept = (schedules[0].get("retainRule") or {}).get("count")
        return f"dlm_{record.name}", f"Daily EBS snapshots<br/>keep {_fmt(kept)}", _RANK["backup"]
    if t == "kubernetes:helm.sh/v3:Release":
        return f"helm_{record.name}", f"Helm release<br/>{i.get('chart', record.name)}", _RANK["helm"]
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def render_mermaid(plan: Plan) -> str:
    """The plan as a ``flowchart LR`` (without the code fence)."""
    resources = Resources(plan.resources)
    records = sorted(resources.records, key=lambda r: (r.type, r.name))
    by_ref: dict[str, ResourceRecord] = {}
    for record in records:
        for ref in Resources.ids(record) | {record.urn}:
            if len(ref) >= 6:
                by_ref.setdefault(ref, record)
    links: dict[str, set[str]] = {r.urn: set() for r in records}
    for record in records:
        refs = set(_strings(record.raw_inputs)) | set(record.options.depends_on)
        for ref in refs:
            target = by_ref.get(ref)
            if target is not None and target.urn != record.urn:
                links[record.urn].add(target.urn)
                links[target.urn].add(record.urn)
    by_urn = {r.urn: r for r in records}
    public = resources.public_subnet_ids()
    private = {s for r in resources.of_type(_SUBNET) for s in Resources.ids(r)} - public

    nodes: dict[str, _Node] = {}
    node_of: dict[str, str] = {}
    for record in records:
        described = _describe(record)
        if described is None:
            continue
        key, label, rank = described
        key = _safe(key)
        node = nodes.setdefault(key, _Node(key, label, rank, "regional", []))
        node.records.append(record)
        node_of[record.urn] = key

    def subnets_of(urn: str) -> set[str]:
        found: set[str] = set()
        record = by_urn[urn]
        for ref in _strings(record.raw_inputs):
            if ref in public or ref in private:
                found.add(ref)
        for near in links[urn]:  # one hop through a subnet group
            if by_urn[near].type in (
                "aws:rds/subnetGroup:SubnetGroup",
                "aws:elasticache/subnetGroup:SubnetGroup",
            ):
                found |= {s for s in _strings(by_urn[near].raw_inputs) if s in public or s in private}
        return found

    for node in nodes.values():
        placed = set().union(*(subnets_of(r.urn) for r in node.records))
        if placed & public and not placed & private:
            node.place = "public"
        elif placed:
            node.place = "private"

    edges: set[tuple[str, str]] = set()
    for urn, key in node_of.items():
        seen = {urn}
        frontier = [urn]
        while frontier:
            current = frontier.pop()
            for near in sorted(links[current]):
                if near in seen:
                    continue
                seen.add(near)
                other = node_of.get(near)
                if other is not None:
                    if other != key:
                        a, b = sorted((key, other), key=lambda k: (nodes[k].rank, k))
                        edges.add((a, b))
                elif by_urn[near].type not in _HUBS:
                    frontier.append(near)
    for node in nodes.values():
        if node.key.startswith("gw_") or node.key == "way_in":
            node.place = (
                "vpc"  # gateway endpoints and links belong to the VPC's route tables, not to a subnet
            )
    # An EBS volume lives where the instance it is attached to lives.
    for a, b in edges:
        for first, second in ((a, b), (b, a)):
            if first.startswith("v_") and nodes[second].key.startswith("i_"):
                nodes[first].place = nodes[second].place

    for node in nodes.values():
        if node.key == "endpoints":
            services = sorted(str(r.inputs.get("serviceName", "")).split(".", 3)[-1] for r in node.records)
            node.label = "Interface endpoints<br/>" + ", ".join(services)
        elif node.key == "nat" and len(node.records) > 1:
            node.label = f"NAT gateways × {len(node.records)}"

    lines = ["flowchart LR"]
    has_lb = any(k.startswith("lb_") for k in nodes)
    if "way_in" in nodes:
        lines.append('  users(["Users in your networks"])')
    else:
        lines.append('  users(["Users"])' if has_lb else '  admins(["Admins<br/>SSM Session Manager"])')
    vpcs = resources.of_type(_VPC)
    vpc_label = f"VPC {vpcs[0].inputs.get('cidrBlock')}" if vpcs else "Your VPC"
    # Subnets are placed by zone id; a zone name stands in for subnets recorded before that.
    zones = (
        len(
            {
                str(s.inputs.get("availabilityZoneId") or s.inputs.get("availabilityZone"))
                for s in resources.of_type(_SUBNET)
            }
        )
        or None
    )
    zone_text = f" in {zones} AZs" if zones else ""
    lines.append(f'  subgraph vpc["{vpc_label}"]')
    for place, title in (
        ("public", f"Public subnets{zone_text}"),
        ("private", f"Private subnets{zone_text}"),
    ):
        members = sorted((n for n in nodes.values() if n.place == place), key=lambda n: (n.rank, n.key))
        if not members:
            continue
        lines.append(f'    subgraph {place}["{title}"]')
        lines.extend(f'      {n.key}["{n.label}"]' for n in members)
        lines.append("    end")
    lines.extend(
        f'    {n.key}["{n.label}"]' for n in sorted(nodes.values(), key=lambda n: n.key) if n.place == "vpc"
    )
    lines.append("  end")
    regional = sorted((n for n in nodes.values() if n.place == "regional"), key=lambda n: (n.rank, n.key))
    if regional:
        lines.append('  subgraph regional["Regional AWS services"]')
        lines.extend(f'    {n.key}["{n.label}"]' for n in regional)
        lines.append("  end")
    if "nat" in nodes:
        lines.append('  internet(("Internet"))')
    entry = sorted(k for k in nodes if k.startswith("lb_"))
    if "way_in" in nodes:
        lines.append("  users --> way_in")
        targets = entry or sorted(k for k in nodes if k.startswith(("i_", "eks_")))
        lines.extend(f"  way_in --> {k}" for k in targets)
    elif entry:
        lines.extend(f"  users --> {k}" for k in entry)
    else:
        lines.extend(f"  admins -.-> {k}" for k in sorted(k for k in nodes if k.startswith(("i_", "eks_"))))
    lines.extend(f"  {a} --> {b}" for a, b in sorted(edges, key=lambda e: (nodes[e[0]].rank, e[0], e[1])))
    if "nat" in nodes:
        lines.append("  nat --> internet")
    return "\n".join(lines) + "\n"
