"""instance-profile: a temporary IAM role and instance profile for the SSM agent, and nothing else."""

from __future__ import annotations

import json

from sgarch.ami.aws import BUILD_ID_TAG, IAM_PATH, tag_list
from sgarch.ami.cleanup import delete_iam
from sgarch.ami.steps.state import BuildState

__all__ = ["BUILD_LOG_GROUP", "LOG_POLICY_NAME", "SSM_POLICY", "InstanceProfile"]

SSM_POLICY = "policy/AmazonSSMManagedInstanceCore"
#: Where provisioning output streams while it runs (SendCommand ``CloudWatchOutputConfig``).
BUILD_LOG_GROUP = "/sgarch/ami-builds"
#: The role's inline policy: write to :data:`BUILD_LOG_GROUP` only.
LOG_POLICY_NAME = "sgarch-build-output"


def log_policy(state: BuildState) -> dict[str, object]:
    """Least privilege for the SSM agent's CloudWatch output: the build log group, nothing else.

    AmazonSSMManagedInstanceCore grants no CloudWatch Logs action. The agent creates the group when it is
    missing and looks it up first, so CreateLogGroup and DescribeLogGroups are granted beside
    CreateLogStream, DescribeLogStreams and PutLogEvents (UNVERIFIED against real AWS: the agent's exact calls
    come from its documentation, not a test).
    """
    region = state.loaded.spec.build_region
    group = f"arn:{state.partition}:logs:{region}:{state.account_id}:log-group:{BUILD_LOG_GROUP}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                "Resource": [group, f"{group}:*"],
            },
            {
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": f"arn:{state.partition}:logs:{region}:{state.account_id}:log-group:*",
            },
        ],
    }


class InstanceProfile:
    """A temporary IAM role and instance profile that let the SSM agent register and log, and nothing else."""

    name = "instance-profile"
    changes = (
        "iam.CreateRole",
        "iam.PutRolePolicy",
        "iam.AttachRolePolicy",
        "iam.CreateInstanceProfile",
        "iam.AddRoleToInstanceProfile",
    )

    def run(self, state: BuildState) -> None:
        """Create role and profile under the ``/sgarch-build/`` path and link them.

        The name is recorded before the first call, so an interrupt after any of them still cleans up.
        """
        iam = state.clients.client("iam", state.loaded.spec.build_region)
        state.iam_name = state.temp_name
        tags = tag_list({BUILD_ID_TAG: state.build_id})
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam.create_role(
            Path=IAM_PATH,
            RoleName=state.iam_name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"sgarch AMI build {state.build_id}: SSM only, deleted after the build",
            MaxSessionDuration=3600,
            Tags=tags,
        )
        iam.put_role_policy(
            RoleName=state.iam_name, PolicyName=LOG_POLICY_NAME, PolicyDocument=json.dumps(log_policy(state))
        )
        iam.attach_role_policy(RoleName=state.iam_name, PolicyArn=self.policy_arn(state))
        iam.create_instance_profile(InstanceProfileName=state.iam_name, Path=IAM_PATH, Tags=tags)
        iam.add_role_to_instance_profile(InstanceProfileName=state.iam_name, RoleName=state.iam_name)

    @staticmethod
    def policy_arn(state: BuildState) -> str:
        """The SSM managed policy in this partition."""
        return f"arn:{state.partition}:iam::aws:{SSM_POLICY}"

    def cleanup(self, state: BuildState) -> None:
        """Unlink and delete profile and role with their policies; every call runs even when one fails."""
        if state.iam_name is None:
            return
        attempts = state.attempts()
        iam = state.clients.client("iam", state.loaded.spec.build_region)
        delete_iam(iam, [state.iam_name], attempts, policy_arns=[self.policy_arn(state)])
        attempts.raise_if_failed()
