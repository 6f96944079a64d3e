"""SGA-010: nothing is open to the whole internet, except HTTPS on an explicitly public ALB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sgarch.policy._index import WORLD_CIDRS, Resources, as_bool, as_float
from sgarch.policy._model import Rule, Severity, Violation

if TYPE_CHECKING:
    from sgarch.testing import ResourceRecord

_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
_SG = "aws:ec2/securityGroup:SecurityGroup"
_TYPES = (_INGRESS_RULE, _SG_RULE, _SG)


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """The TCP port range of a rule; None for all traffic or another protocol."""
    if str(protocol).lower() not in ("tcp", "6"):
        return None
    low, high = as_float(from_port), as_float(to_port)
    if low is None or high is None:
        return None
    return int(low), int(high)


def _public_alb_allows(resources: Resources, group_id: str, ports: tuple[int, int] | None) -> bool:
    """Whether ``group_id`` belongs only to explicitly internet-facing ALBs and ``ports`` is 443, or 80 where
    every port-80 listener just redirects to HTTPS."""
    if ports not in ((443, 443), (80, 80)):
        return False
    balancers = resources.load_balancers_with_group(group_id)
    if not balancers:
        return False
    for lb in balancers:
        if str(lb.inputs.get("loadBalancerType") or "application") != "application":
            return False
        if as_bool(lb.inputs.get("internal")) is not False:
            return False  # internal, or internet-facing only by default: not an explicit choice
        if ports == (80, 80):
            for listener in resources.listeners_of(lb):
                if as_float(listener.inputs.get("port")) != 80:
                    continue
                actions = listener.inputs.get("defaultActions") or []
                if not actions or any(a.get("type") != "redirect" for a in actions):
                    return False
    used_elsewhere = any(
        group_id in {str(g) for g in r.inputs.get("vpcSecurityGroupIds") or []}
        for r in resources.of_type("aws:ec2/instance:Instance")
    )
    return not used_elsewhere


def _describe(ports: tuple[int, int] | None) -> str:
    if ports is None:
        return "all traffic"
    return f"port {ports[0]}" if ports[0] == ports[1] else f"ports {ports[0]}-{ports[1]}"


def check(resources: Resources) -> Iterator[Violation]:
    """Every ingress from 0.0.0.0/0 or ::/0 goes to 443 (or a redirect-only 80) of a public ALB."""
    candidates: list[tuple[ResourceRecord, str, str, tuple[int, int] | None]] = []
    for record in resources.of_type(_INGRESS_RULE):
        cidrs = {record.inputs.get("cidrIpv4"), record.inputs.get("cidrIpv6")} & WORLD_CIDRS
        ports = _ports(
            record.inputs.get("ipProtocol"), record.inputs.get("fromPort"), record.inputs.get("toPort")
        )
        for cidr in sorted(c for c in cidrs if c):
            candidates.append((record, str(record.inputs.get("securityGroupId")), cidr, ports))
    for record in resources.of_type(_SG_RULE):
        if record.inputs.get("type") != "ingress":
            continue
        cidrs = set(record.inputs.get("cidrBlocks") or []) | set(record.inputs.get("ipv6CidrBlocks") or [])
        ports = _ports(
            record.inputs.get("protocol"), record.inputs.get("fromPort"), record.inputs.get("toPort")
        )
        for cidr in sorted(cidrs & WORLD_CIDRS):
            candidates.append((record, str(record.inputs.get("securityGroupId")), cidr, ports))
    for record in resources.of_type(_SG):
        group_id = record.outputs.get("id") or record.id
        for rule in record.inputs.get("ingress") or []:
            cidrs = set(rule.get("cidrBlocks") or []) | set(rule.get("ipv6CidrBlocks") or [])
            ports = _ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            for cidr in sorted(cidrs & WORLD_CIDRS):
                candidates.append((record, str(group_id), cidr, ports))
    for record, group_id, cidr, ports in candidates:
        if not _public_alb_allows(resources, group_id, ports):
            yield Violation(record, f"{_describe(ports)} is open to {cidr}")


RULE = Rule(
    id="SGA-010",
    title="No ingress from the whole internet",
    severity=Severity.CRITICAL,
    applies_to=_TYPES,
    cause=(
        "A security group admits 0.0.0.0/0 or ::/0 to anything but port 443 of an ALB created with "
        "internal=False (port 80 is allowed there too when it only redirects to HTTPS)."
    ),
    explanation=(
        "An instance or database reachable from the whole internet is scanned within minutes. sgarch reaches "
        "instances through SSM Session Manager, so no SSH or admin port needs to be open; only a load "
        "balancer that was deliberately made internet-facing may accept everyone, and only for HTTPS."
    ),
    fix="Name the networks that need access (your VPN or office CIDRs), or put an internet-facing ALB in front.",
    check=check,
)
