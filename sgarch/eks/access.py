"""Who gets cluster-admin: the principals behind the access entries. Pure: no Pulumi import.

EKS's own ``bootstrap_cluster_creator_admin_permissions`` creates an access entry for whoever creates the
cluster, outside Pulumi's state. A role that is also listed for an explicit entry then fails with
``ResourceInUseException`` (409), and the implicit entry can never be removed by changing the code. So sgarch
turns the bootstrap off and declares every admin entry itself (as terraform-aws-eks does): the listed
principals plus, when asked, the identity running Pulumi, each principal once.

Access entries take IAM role or user ARNs, never STS session ARNs; an assumed-role session is mapped back to
its role (with its path) through ``aws.iam.get_session_context``.

The kubeconfig Pulumi's Kubernetes provider uses authenticates as that same identity (:func:`kubeconfig_json`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from sgarch.errors import ConfigError

__all__ = [
    "admin_principals",
    "assumed_role_arn",
    "is_assumed_role_arn",
    "kubeconfig_json",
    "principal_id",
    "principal_key",
    "validate_admin_principal_arns",
]

_PRINCIPAL = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:.+/)?([^/]+)$")
_ASSUMED_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/.+$")


def principal_key(arn: str) -> tuple[str, str, str, str] | None:
    """``(partition, account, kind, name)`` of an IAM role or user ARN, or None for anything else.

    The path is left out and the name lowercased: IAM names are unique per account whatever their path, and
    not distinguished by case, so two spellings of one role are one principal.
    """
    match = _PRINCIPAL.match(arn)
    if match is None:
        return None
    partition, account, kind, name = match.groups()
    return partition, account, kind, name.lower()


def principal_id(arn: str) -> str:
    """A short, stable id for a principal, used in logical names: the same for every spelling of it."""
    key = principal_key(arn)
    text = "/".join(key) if key is not None else arn
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def is_assumed_role_arn(arn: str) -> bool:
    """Whether ``arn`` is an STS assumed-role session (``arn:aws:sts::<account>:assumed-role/<role>/<session>``)."""
    return bool(_ASSUMED_ROLE.match(arn))


def validate_admin_principal_arns(
    arns: Iterable[str], field: str = "admin_principal_arns"
) -> tuple[str, ...]:
    """Role or user ARNs, each principal once; ConfigError naming ``field`` otherwise."""
    seen: dict[tuple[str, str, str, str], str] = {}
    for arn in arns:
        key = principal_key(arn)
        if key is None:
            raise ConfigError(
                field,
                "IAM role or user ARNs",
                arn,
                "use arn:aws:iam::<account>:role/<name>, not an STS assumed-role ARN",
            )
        if key in seen:
            raise ConfigError(
                field,
                "a list naming each principal once",
                arn,
                f"it is the same principal as {seen[key]!r}; remove one (EKS allows one access entry per "
                "principal)",
            )
        seen[key] = arn
    return tuple(arns)


def admin_principals(listed: Iterable[str], caller: str | None) -> tuple[str, ...]:
    """The principals that get an admin access entry: ``listed``, then ``caller`` unless it is listed already.

    ``caller`` is the IAM ARN of the identity running Pulumi (already mapped from its STS session), or None
    when it gets no entry of its own.
    """
    principals = list(listed)
    if caller is not None and principal_key(caller) not in {principal_key(a) for a in principals}:
        principals.append(caller)
    return tuple(principals)


def kubeconfig_json(
    cluster_name: str,
    endpoint: str,
    ca_data: str,
    region: str,
    profile: str | None = None,
    role_arn: str | None = None,
) -> str:
    """A kubeconfig (JSON) that authenticates with ``aws eks get-token``, so it holds no credentials.

    It needs the AWS CLI where it is used. ``profile`` (as ``AWS_PROFILE``) and ``role_arn`` (``--role-arn``)
    make the token the same identity Pulumi uses, as ``aws eks update-kubeconfig --profile --role-arn``
    would write them; without them the CLI's ambient credentials decide.
    """
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region]
    if role_arn:
        args += ["--role-arn", role_arn]
    exec_: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": [*args, "--output", "json"],
    }
    if profile:
        exec_["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    user = {"exec": exec_}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "users": [{"name": cluster_name, "user": user}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
        },
        sort_keys=True,
    )


def assumed_role_arn(assume_roles: Any) -> str | None:
    """The role Pulumi's AWS provider ends up as, from ``aws:assumeRoles`` (a list, the last role wins) or the
    older ``aws:assumeRole`` (one object), as parsed JSON; None without one."""
    roles = assume_roles if isinstance(assume_roles, list) else [assume_roles]
    for role in reversed(roles):
        if isinstance(role, dict):
            arn = role.get("roleArn") or role.get("role_arn")
            if arn:
                return str(arn)
    return None
