"""Doctor checks of the way in: no security group open to the world, and a healthy target behind the ALB."""

from __future__ import annotations

from typing import Any

from sgarch.doctor._context import DoctorContext, Finding, Status
from sgarch.validation import WORLD_CIDRS

__all__ = ["check_target_health", "check_world_open_ports"]


def check_world_open_ports(ctx: DoctorContext) -> list[Finding]:
    """No security group of the instance accepts traffic from 0.0.0.0/0 or ::/0, on any port."""
    name = "world-open-ports"
    instance = ctx.instance()
    if instance is None:
        return [Finding(name, Status.SKIP, "the instance does not exist.")]
    group_ids = [g["GroupId"] for g in instance.get("SecurityGroups", []) if g.get("GroupId")]
    if not group_ids:
        return [Finding(name, Status.OK, "the instance has no security groups.")]
    groups = ctx.ec2.describe_security_groups(GroupIds=group_ids).get("SecurityGroups", [])
    findings: list[Finding] = []
    for group in groups:
        gid = group.get("GroupId", "?")
        for perm in group.get("IpPermissions", []):
            cidrs = [r.get("CidrIp") for r in perm.get("IpRanges", []) if r.get("CidrIp") in WORLD_CIDRS]
            cidrs += [
                r.get("CidrIpv6") for r in perm.get("Ipv6Ranges", []) if r.get("CidrIpv6") in WORLD_CIDRS
            ]
            for cidr in cidrs:
                findings.append(_open_rule_finding(name, gid, perm, str(cidr), ctx.region))
    if findings:
        return findings
    return [Finding(name, Status.OK, f"no ingress from 0.0.0.0/0 or ::/0 on {', '.join(group_ids)}.")]


def _open_rule_finding(name: str, gid: str, perm: dict[str, Any], cidr: str, region: str) -> Finding:
    protocol = str(perm.get("IpProtocol", "-1"))
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if protocol == "-1":
        what, ports = "all traffic", ""
    elif low is None or low == high:
        what, ports = f"{protocol} port {low}", f",FromPort={low},ToPort={high}"
    else:
        what, ports = f"{protocol} ports {low}-{high}", f",FromPort={low},ToPort={high}"
    ranges = f"Ipv6Ranges=[{{CidrIpv6={cidr}}}]" if ":" in cidr else f"IpRanges=[{{CidrIp={cidr}}}]"
    fix = (
        f"aws ec2 revoke-security-group-ingress --region {region} --group-id {gid} "
        f"--ip-permissions 'IpProtocol={protocol}{ports},{ranges}'"
    )
    if protocol in ("tcp", "-1") and low is not None and low <= 22 <= (high if high is not None else low):
        fix += "; reach the instance with Session Manager (aws ssm start-session), not SSH"
    elif protocol in ("tcp", "-1"):
        fix += "; serve users through the load balancer (certificate_arn) and allowed_cidrs"
    return Finding(name, Status.FAIL, f"{gid} allows {what} from {cidr}.", fix)


def check_target_health(ctx: DoctorContext) -> Finding:
    """The instance is a healthy target of the ALB's target group (when there is a load balancer)."""
    name, iid = "alb-target-health", ctx.instance_id
    arn = ctx.outputs.target_group_arn
    if not arn:
        return Finding(name, Status.SKIP, "target_group_arn not in outputs (no load balancer).")
    described = ctx.elbv2.describe_target_health(TargetGroupArn=arn).get("TargetHealthDescriptions", [])
    mine = [d for d in described if d.get("Target", {}).get("Id") == iid]
    if not mine:
        return Finding(
            name,
            Status.FAIL,
            f"{iid} is not registered in the target group.",
            "`pulumi up` registers the current instance again",
        )
    health = mine[0].get("TargetHealth", {})
    state = health.get("State", "unknown")
    if state == "healthy":
        return Finding(name, Status.OK, f"{iid} is healthy behind the load balancer.")
    reason = " ".join(str(health.get(k, "")) for k in ("Reason", "Description")).strip()
    status = Status.WARN if state in ("initial", "draining") else Status.FAIL
    return Finding(
        name,
        status,
        f"{iid} is {state} behind the load balancer" + (f" ({reason})." if reason else "."),
        "the health check calls the frontend on port 80: on the instance, `sudo docker compose --project-name "
        "sourcegraph ps` must show sourcegraph-frontend-0 healthy; see /var/log/sgarch-boot.log",
    )
