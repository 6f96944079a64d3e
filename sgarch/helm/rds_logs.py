"""Retention for the CloudWatch log groups RDS exports the databases' logs to.

RDS writes the exported ``postgresql`` and ``upgrade`` logs (``managed.POSTGRES_LOG_EXPORTS``) to
``/aws/rds/instance/<db instance identifier>/<type>``, creating the group on the first export if it does not
exist, and a group RDS creates keeps its logs forever. Declaring those groups as ``aws.cloudwatch.LogGroup``
resources does not work here, for existing stacks or new ones:

- the instances are named with ``identifier_prefix``, so the provider adds a unique suffix when it creates
  them and the identifier is unknown until then. A group declared before the instance cannot know its name;
  switching to a fixed ``identifier`` would replace every existing database (the identifier forces
  replacement).
- a group declared after the instance (named from its ``identifier`` output) fails with
  ResourceAlreadyExistsException: RDS creates it while the instance starts, before Pulumi sees the
  instance available, and on existing stacks it has existed since the first ``pulumi up``.
- the ``import`` option cannot adopt it: it needs the id when the program runs, and fails when the group's
  retention differs from the declared one (which is the point of declaring it).

So one Job per release, after the instances, makes every group exist with the stack's retention: it creates
each group it finds missing (with the KMS key), and for every group sets the retention and associates the
key. Each call is idempotent, so the same Job is right on a new stack (where RDS may create a group between
two calls), on an existing one, and when the retention changes (a new spec replaces the Job, which runs
again). The groups are not deleted with the stack: RDS never deletes them either.

Pure: no Pulumi import. The component passes Pulumi outputs where this module takes ``Any``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ACTIVE_DEADLINE_SECONDS",
    "BACKOFF_LIMIT",
    "JOB_NAME",
    "LABELS",
    "RETENTION_SCRIPT",
    "SERVICE_ACCOUNT",
    "log_group_names",
    "log_groups_policy",
    "retention_job_spec",
]

JOB_NAME = "rds-log-retention"
SERVICE_ACCOUNT = "sgarch-rds-log-retention"
"""The Job's service account, which Pod Identity hands the role allowed to manage these log groups."""
LABELS = {"app.kubernetes.io/name": "rds-log-retention", "app.kubernetes.io/part-of": "sgarch"}
"""Labels of the Job and its pod (``kubectl -n sourcegraph logs -l app.kubernetes.io/name=rds-log-retention``)."""
BACKOFF_LIMIT = 3
"""Pods the Job may retry with (a throttled call, an image pull that failed once)."""
ACTIVE_DEADLINE_SECONDS = 600
"""After this long (image pull included) Kubernetes fails the Job, and with it the ``pulumi up``."""
_NOBODY = 65534

# Runs as `sh -c RETENTION_SCRIPT rds-log-retention`. create-log-group fails when the group exists (RDS made
# it), which is fine: put-retention-policy right after fails, loudly, for any other reason (access denied, a
# bad key). No command substitution: Kubernetes would try to expand "$(...)" as a variable.
RETENTION_SCRIPT = """\
set -u
for group in $SGARCH_LOG_GROUPS; do
  if aws logs create-log-group --log-group-name "$group" ${SGARCH_KMS_KEY_ARN:+--kms-key-id "$SGARCH_KMS_KEY_ARN"} 2>/dev/null; then
    echo "sgarch: created $group"
  elif [ -n "$SGARCH_KMS_KEY_ARN" ]; then
    aws logs associate-kms-key --log-group-name "$group" --kms-key-id "$SGARCH_KMS_KEY_ARN" || exit 1
  fi
  aws logs put-retention-policy --log-group-name "$group" --retention-in-days "$SGARCH_RETENTION_DAYS" || exit 1
  echo "sgarch: $group keeps its logs $SGARCH_RETENTION_DAYS days"
done
"""
"""The Job's shell script (AWS CLI v2, credentials from Pod Identity)."""


def log_group_names(identifier: str, log_types: Sequence[str]) -> list[str]:
    """The log groups RDS exports ``log_types`` of instance ``identifier`` to."""
    return [f"/aws/rds/instance/{identifier}/{log_type}" for log_type in log_types]


def log_groups_policy(region: str, account_id: str, identifiers: Sequence[str]) -> str:
    """The Job's IAM policy: create, set the retention of and encrypt the log groups of these instances only."""
    resources = [f"arn:aws:logs:{region}:{account_id}:log-group:/aws/rds/instance/{i}/*" for i in identifiers]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "RdsLogGroupRetention",
                    "Effect": "Allow",
                    "Action": ["logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    "Resource": resources,
                }
            ],
        },
        sort_keys=True,
    )


def retention_job_spec(
    *, log_groups: Any, retention_days: int, kms_key_arn: Any, region: Any, image: str
) -> dict[str, Any]:
    """The ``spec`` of the Job, as pulumi-kubernetes ``JobSpecArgs`` keys.

    ``log_groups`` is the names joined by spaces (log group names hold none); ``kms_key_arn`` may be "".
    """
    env: list[dict[str, Any]] = [
        {"name": "SGARCH_LOG_GROUPS", "value": log_groups},
        {"name": "SGARCH_RETENTION_DAYS", "value": str(retention_days)},
        {"name": "SGARCH_KMS_KEY_ARN", "value": kms_key_arn},
        {"name": "AWS_REGION", "value": region},
        # The AWS CLI may write caches under $HOME; the root filesystem is read-only.
        {"name": "HOME", "value": "/tmp"},
    ]
    container = {
        "name": "retention",
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "command": ["/bin/sh", "-c", RETENTION_SCRIPT, JOB_NAME],
        "env": env,
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "security_context": {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
        "termination_message_policy": "FallbackToLogsOnError",
    }
    return {
        "backoff_limit": BACKOFF_LIMIT,
        "active_deadline_seconds": ACTIVE_DEADLINE_SECONDS,
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {
                "restart_policy": "Never",
                "service_account_name": SERVICE_ACCOUNT,
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": _NOBODY,
                    "run_as_group": _NOBODY,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": [{"name": "tmp", "empty_dir": {}}],
            },
        },
    }
