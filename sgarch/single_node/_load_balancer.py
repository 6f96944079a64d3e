"""The Application Load Balancer in front of a :class:`~sgarch.single_node.SingleNode`: its security group and
rules, the ALB with its target group and listeners, access logs and the Route 53 alias when asked.

Registered under the SingleNode with the names it always had (``<name>-alb``, ``<name>-frontend``,
``<name>-https``...); moving the code here changed no URN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from sgarch import alb_logs
from sgarch.single_node.egress import cidr_kwargs, vpc_cidrs_prefix_list
from sgarch.validation import WORLD_CIDRS

if TYPE_CHECKING:
    from sgarch.single_node.component import SingleNode

__all__ = ["load_balancer"]


def load_balancer(
    owner: SingleNode,
    instance_sg: aws.ec2.SecurityGroup,
    instance: aws.ec2.Instance,
    vpc_cidrs: aws.ec2.ManagedPrefixList | None,
) -> pulumi.Output[str]:
    """The ALB of ``owner``, if its args ask for one; the URL Sourcegraph answers on either way.

    ``vpc_cidrs`` is the VPC's prefix list if the instance's egress rules made one; an internal ALB without
    ``allowed_cidrs`` admits it, and makes it when they did not."""
    name, lb = owner._name, owner._args.load_balancer
    if lb is None:
        return pulumi.Output.concat("http://", instance.private_ip, " (through SSM port forwarding)")
    child = owner._opts()
    alb_sg = aws.ec2.SecurityGroup(
        f"{name}-alb",
        vpc_id=owner._args.vpc_id,
        description="sgarch single-node load balancer: HTTPS (and the HTTP redirect) from allowed networks",
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    sources: list[dict[str, pulumi.Input[str]]]
    if lb.allowed_cidrs:
        sources = [cidr_kwargs(cidr) for cidr in lb.allowed_cidrs]
    else:
        # An internal ALB defaults to the VPC: every block of it, secondary ones included, since users inside
        # may sit in any of them (and SSM port forwarding starts from the instance's own subnet).
        if vpc_cidrs is None:
            vpc_cidrs = vpc_cidrs_prefix_list(
                owner, name, owner._args.vpc_id, owner._role_tags("load-balancer")
            )
        sources = [{"prefix_list_id": vpc_cidrs.id}]
    for index, source in enumerate(sources):
        # Port 80 only redirects to 443; it is never opened to the whole internet, where 443 alone is.
        ports = (443,) if any(isinstance(c, str) and c in WORLD_CIDRS for c in source.values()) else (443, 80)
        for port in ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-alb-{port}-{index}",
                security_group_id=alb_sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description="HTTPS to Sourcegraph" if port == 443 else "HTTP, redirected to HTTPS",
                tags=owner._role_tags("load-balancer"),
                opts=child,
                **source,
            )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-alb-to-instance",
        security_group_id=alb_sg.id,
        ip_protocol="tcp",
        from_port=80,
        to_port=80,
        referenced_security_group_id=instance_sg.id,
        description="To the Sourcegraph frontend on the instance",
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-instance-from-alb",
        security_group_id=instance_sg.id,
        ip_protocol="tcp",
        from_port=80,
        to_port=80,
        referenced_security_group_id=alb_sg.id,
        description="HTTP from the load balancer, which terminates TLS",
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    access_logs: aws.lb.LoadBalancerAccessLogsArgsDict | None = None
    alb_opts = child
    if lb.access_logs:
        log_bucket: pulumi.Input[str]
        if lb.access_logs_bucket:
            log_bucket = lb.access_logs_bucket
        else:
            created = alb_logs.log_bucket(
                lambda part: f"{name}-{part}", owner._role_tags("load-balancer"), owner
            )
            log_bucket = created.bucket.bucket
            # ELB checks that it may write to the bucket when logging is turned on.
            alb_opts = owner._opts(depends_on=[created.policy])
        access_logs = {"bucket": log_bucket, "enabled": True}
    alb = aws.lb.LoadBalancer(
        f"{name}-alb",
        load_balancer_type="application",
        internal=not lb.internet_facing,
        security_groups=[alb_sg.id],
        subnets=lb.subnet_ids,
        drop_invalid_header_fields=True,
        idle_timeout=120,  # streamed searches run up to 60 s
        access_logs=access_logs,
        enable_deletion_protection=lb.deletion_protection,
        tags=owner._role_tags("load-balancer"),
        opts=alb_opts,
    )
    target_group = aws.lb.TargetGroup(
        f"{name}-frontend",
        port=80,
        protocol="HTTP",
        target_type="instance",
        vpc_id=owner._args.vpc_id,
        health_check=aws.lb.TargetGroupHealthCheckArgs(
            path="/healthz",
            protocol="HTTP",
            matcher="200",
            interval=30,
            healthy_threshold=2,
            unhealthy_threshold=3,
        ),
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    # TargetGroupAttachment has no tags in AWS.
    aws.lb.TargetGroupAttachment(
        f"{name}-frontend", target_group_arn=target_group.arn, target_id=instance.id, port=80, opts=child
    )
    aws.lb.Listener(
        f"{name}-https",
        load_balancer_arn=alb.arn,
        port=443,
        protocol="HTTPS",
        ssl_policy=lb.ssl_policy,
        certificate_arn=lb.certificate_arn,
        default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    aws.lb.Listener(
        f"{name}-http-redirect",
        load_balancer_arn=alb.arn,
        port=80,
        protocol="HTTP",
        default_actions=[
            aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                    port="443", protocol="HTTPS", status_code="HTTP_301"
                ),
            )
        ],
        tags=owner._role_tags("load-balancer"),
        opts=child,
    )
    if lb.zone_id is not None and lb.record_name:
        aws.route53.Record(
            f"{name}-alias",
            zone_id=lb.zone_id,
            name=lb.record_name,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True
                )
            ],
            opts=child,
        )
        return pulumi.Output.from_input(f"https://{lb.record_name}")
    return pulumi.Output.concat("https://", alb.dns_name)
