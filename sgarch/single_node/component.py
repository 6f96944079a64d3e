"""The ``SingleNode`` component: one EC2 instance running Sourcegraph with Docker Compose.

All state lives on a separate, encrypted gp3 data volume attached through a ``VolumeAttachment``. The volume
is protected and retained, and none of its replacement-forcing inputs (availability zone, encryption, KMS
key, snapshot) depends on the tier, the Sourcegraph version or the AMI. An upgrade or a resize therefore
replaces the instance (its user-data changes) and re-attaches the same volume; the every-boot script finds
the data and carries on.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from sgarch.component import Component
from sgarch.host import DATA_DEVICE_NAME, UserDataConfig, render_user_data, render_user_data_base64
from sgarch.naming import DLM_DESCRIPTION, aws_text
from sgarch.single_node._load_balancer import load_balancer
from sgarch.single_node.args import AMI_NAME_PREFIX, SingleNodeArgs
from sgarch.single_node.egress import egress_rules
from sgarch.sizing import estimate, estimate_for_tier
from sgarch.sizing.compose import render_compose_override
from sgarch.sizing.storage import MIN_DATA_VOLUME_GIB, data_volume_gib
from sgarch.tiers import TIERS

__all__ = ["SingleNode"]

_EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
_DLM_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "dlm.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# AWS managed policies, referenced by ARN so the partition can be substituted.
_INSTANCE_POLICIES = {
    "ssm": "policy/AmazonSSMManagedInstanceCore",
    "cloudwatch-agent": "policy/CloudWatchAgentServerPolicy",
}
_DLM_POLICY = "policy/service-role/AWSDataLifecycleManagerServiceRole"


class SingleNode(Component):
    """Sourcegraph on one EC2 instance, with its state on a separate, retained, encrypted EBS volume.

    Outputs: ``instance_id``, ``data_volume_id``, ``security_group_id``, ``private_ip``, ``url`` (the ALB's
    HTTPS URL, or the instance's private address when there is no load balancer).
    """

    instance_id: pulumi.Output[str]
    data_volume_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    url: pulumi.Output[str]

    ARCHITECTURE = "single-node"

    def __init__(self, name: str, args: SingleNodeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sgarch:single-node:SingleNode", name, args, opts)
        self._args = args
        spec = TIERS[args.tier]
        volume_spec = spec.data_volume
        assert volume_spec is not None  # SingleNodeArgs only admits machine tiers
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region

        est = estimate(args.workload) if args.workload else estimate_for_tier(args.tier)
        instance_type = args.instance_type or spec.recommended_instance_type
        assert instance_type is not None
        subnet = aws.ec2.get_subnet_output(id=args.subnet_id, opts=pulumi.InvokeOutputOptions(parent=self))

        # --- identity: SSM and the CloudWatch agent, nothing else ------------------------------------------
        role = aws.iam.Role(
            f"{name}-instance",
            assume_role_policy=_EC2_TRUST,
            description="sgarch single-node instance: SSM Session Manager and the CloudWatch agent",
            tags=self._role_tags("instance-role"),
            opts=child,
        )
        for key, policy in _INSTANCE_POLICIES.items():
            aws.iam.RolePolicyAttachment(
                f"{name}-{key}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:", policy),
                opts=child,
            )
        profile = aws.iam.InstanceProfile(
            f"{name}-instance", role=role.name, tags=self._role_tags("instance-profile"), opts=child
        )

        # --- network access ------------------------------------------------------------------------------
        security_group = aws.ec2.SecurityGroup(
            f"{name}-instance",
            vpc_id=args.vpc_id,
            description="sgarch single-node instance: HTTP from its load balancer only; no SSH",
            tags=self._role_tags("instance"),
            opts=child,
        )
        vpc_cidrs = egress_rules(self, name, args, security_group, region, self._role_tags("egress"))

        # --- data volume: separate, encrypted, protected, retained -----------------------------------------
        size_gib = args.data_volume_gib or (
            data_volume_gib(args.workload) if args.workload else MIN_DATA_VOLUME_GIB
        )
        data_volume = aws.ebs.Volume(
            f"{name}-data",
            availability_zone=subnet.availability_zone,
            size=size_gib,
            type="gp3",
            iops=args.data_volume_iops or volume_spec.iops,
            throughput=args.data_volume_throughput_mibps or volume_spec.throughput_mibps,
            encrypted=True,
            kms_key_id=args.data_volume_kms_key_id,
            snapshot_id=args.data_volume_snapshot_id,
            final_snapshot=True,
            tags=self._role_tags("data") | {"sgarch:backup": self._backup_tag()},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=True,
                retain_on_delete=True,
                # A computed size is set once, at creation: a smaller workload later must not try to shrink
                # the volume (EBS refuses), and growth is an explicit data_volume_gib, which always applies.
                ignore_changes=["size"] if args.data_volume_gib is None else None,
            ),
        )

        # --- the instance ----------------------------------------------------------------------------------
        compose_override = render_compose_override(
            est, host_vcpu=float(spec.vcpu), host_memory_gb=float(spec.memory_gb)
        )
        # With a proxy the document is gzipped whole (render_user_data_base64 says why); without one it
        # stays the plain text it always was, so upgrading sgarch replaces no instance.
        render = render_user_data if args.http_proxy is None else render_user_data_base64
        user_data = pulumi.Output.all(data_volume.id, region).apply(
            lambda parts: render(
                UserDataConfig(
                    sourcegraph_version=args.sourcegraph_version,
                    compose_override=compose_override,
                    data_volume_id=parts[0],
                    image=args.image,
                    behind_load_balancer=args.load_balancer is not None,
                    region=parts[1],
                    extra_env=dict(args.extra_env),
                    http_proxy=args.http_proxy,
                    no_proxy=args.no_proxy,
                    aws_endpoints_in_vpc=args.aws_endpoints_in_vpc,
                )
            )
        )
        instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=self._ami(),
            instance_type=instance_type,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=[security_group.id],
            iam_instance_profile=profile.name,
            associate_public_ip_address=False,
            ebs_optimized=True,
            monitoring=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 1 keeps containers (one network hop further) away from the instance's credentials; 2 only
                # when they need the role (RDS IAM auth, S3).
                http_put_response_hop_limit=2 if args.containers_use_instance_role else 1,
                instance_metadata_tags="disabled",
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_type="gp3",
                volume_size=args.root_volume_gib,
                encrypted=True,
                kms_key_id=args.data_volume_kms_key_id,
                delete_on_termination=True,
                tags=self._role_tags("root"),
            ),
            maintenance_options=aws.ec2.InstanceMaintenanceOptionsArgs(auto_recovery="default"),
            user_data=user_data if args.http_proxy is None else None,
            user_data_base64=user_data if args.http_proxy is not None else None,
            user_data_replace_on_change=True,
            # Not volume_tags: the provider applies those to every attached volume, the data volume included,
            # and would strip its own tags (the DLM backup tag among them) on the next update.
            tags=self._role_tags("instance") | {"Name": f"{name}-sourcegraph"},
            opts=child,
        )
        self.instance = instance
        attachment = aws.ec2.VolumeAttachment(
            f"{name}-data",
            device_name=DATA_DEVICE_NAME,
            volume_id=data_volume.id,
            instance_id=instance.id,
            # Stop Sourcegraph's host before the volume leaves it, so the filesystem is clean.
            stop_instance_before_detaching=True,
            # A volume attaches to one instance at a time: when the instance is replaced, the old attachment
            # must go before the new one is made (Pulumi's default creates first and would fail VolumeInUse).
            # The new instance's boot script waits for the volume meanwhile.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        self._backups(data_volume, partition)
        self._alarms(instance, region, partition)
        url = load_balancer(self, security_group, instance, vpc_cidrs)

        self.instance_id = instance.id
        self.data_volume_id = data_volume.id
        self.security_group_id = security_group.id
        self.private_ip = instance.private_ip
        self.url = url
        self.data_volume_attachment = attachment
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "data_volume_id": self.data_volume_id,
                "security_group_id": self.security_group_id,
                "private_ip": self.private_ip,
                "url": self.url,
            }
        )

    # ------------------------------------------------------------------------------------------------------

    def _role_tags(self, role: str) -> dict[str, str]:
        """sgarch's tags and the user's, and which part of the single node the resource is (``sgarch:role``);
        ``sgarch doctor`` finds the instance by ``sgarch:component``."""
        return self._tags({"sgarch:component": "single-node", "sgarch:role": role})

    def _backup_tag(self) -> str:
        """The value of the ``sgarch:backup`` tag DLM snapshots by: project, stack and component, so that two
        stacks in one region (``poc/dev`` and ``single-node/dev``) never snapshot each other's volumes."""
        return f"{pulumi.get_project()}/{pulumi.get_stack()}/{self._name}"

    def _ami(self) -> pulumi.Input[str]:
        args = self._args
        if args.ami_id:
            return args.ami_id
        invoke = pulumi.InvokeOutputOptions(parent=self)
        if args.image == "stock":
            return aws.ec2.get_ami_output(
                owners=["amazon"],
                most_recent=True,
                filters=[
                    aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-2023.*-kernel-*-x86_64"]),
                    aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
                ],
                opts=invoke,
            ).id
        return aws.ec2.get_ami_output(
            owners=[args.ami_owner],
            most_recent=True,
            filters=[
                aws.ec2.GetAmiFilterArgs(
                    name="name", values=[f"{AMI_NAME_PREFIX}-{args.sourcegraph_version}-*"]
                ),
                aws.ec2.GetAmiFilterArgs(name="state", values=["available"]),
            ],
            opts=invoke,
        ).id

    def _backups(self, data_volume: aws.ebs.Volume, partition: pulumi.Output[str]) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        dlm_role = aws.iam.Role(
            f"{name}-snapshots",
            assume_role_policy=_DLM_TRUST,
            tags=self._role_tags("snapshot-role"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-snapshots",
            role=dlm_role.name,
            policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:", _DLM_POLICY),
            opts=child,
        )
        aws.dlm.LifecyclePolicy(
            f"{name}-snapshots",
            description=aws_text(
                f"sgarch {name} daily snapshots of the Sourcegraph data volume", DLM_DESCRIPTION
            ),
            execution_role_arn=dlm_role.arn,
            state="ENABLED",
            policy_details=aws.dlm.LifecyclePolicyPolicyDetailsArgs(
                policy_type="EBS_SNAPSHOT_MANAGEMENT",
                resource_types=["VOLUME"],
                target_tags={"sgarch:backup": self._backup_tag()},
                schedules=[
                    aws.dlm.LifecyclePolicyPolicyDetailsScheduleArgs(
                        name="daily",
                        create_rule=aws.dlm.LifecyclePolicyPolicyDetailsScheduleCreateRuleArgs(
                            interval=24, interval_unit="HOURS", times=args.snapshot_time_utc
                        ),
                        retain_rule=aws.dlm.LifecyclePolicyPolicyDetailsScheduleRetainRuleArgs(
                            count=args.snapshot_retention_days
                        ),
                        copy_tags=True,
                    )
                ],
            ),
            tags=self._role_tags("snapshots"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data_volume]),
        )

    def _alarms(
        self, instance: aws.ec2.Instance, region: pulumi.Output[str], partition: pulumi.Output[str]
    ) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        notify: list[Any] = [args.alarm_topic_arn] if args.alarm_topic_arn is not None else []
        recover = pulumi.Output.concat("arn:", partition, ":automate:", region, ":ec2:recover")
        aws.cloudwatch.MetricAlarm(
            f"{name}-recover",
            alarm_description="The host failed its system status check: EC2 moves the instance to healthy hardware",
            namespace="AWS/EC2",
            metric_name="StatusCheckFailed_System",
            dimensions={"InstanceId": instance.id},
            statistic="Maximum",
            period=60,
            evaluation_periods=2,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            alarm_actions=[recover, *notify],
            tags=self._role_tags("alarm"),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-cpu",
            alarm_description="CPU above 90% for 15 minutes: consider the next tier",
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions={"InstanceId": instance.id},
            statistic="Average",
            period=300,
            evaluation_periods=3,
            threshold=90,
            comparison_operator="GreaterThanThreshold",
            alarm_actions=notify,
            ok_actions=notify,
            tags=self._role_tags("alarm"),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-data-disk",
            alarm_description="The data volume is over 80% full: grow data_volume_gib (EBS grows online)",
            namespace="CWAgent",
            metric_name="disk_used_percent",
            dimensions={"InstanceId": instance.id, "path": "/mnt/data"},
            statistic="Maximum",
            period=300,
            evaluation_periods=2,
            threshold=80,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="missing",
            alarm_actions=notify,
            ok_actions=notify,
            tags=self._role_tags("alarm"),
            opts=child,
        )
