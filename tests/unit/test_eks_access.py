"""Who gets an admin access entry, and how the kubeconfig authenticates: pure helpers of sgarch.eks."""

from __future__ import annotations

import json

import pytest

from sgarch.eks.access import (
    admin_principals,
    assumed_role_arn,
    is_assumed_role_arn,
    kubeconfig_json,
    principal_id,
    principal_key,
    validate_admin_principal_arns,
)
from sgarch.errors import ConfigError
from sgarch.testing import DEFAULT_INVOKES

ROLE = "arn:aws:iam::123456789012:role/admins"


@pytest.mark.parametrize(
    ("arn", "key"),
    [
        (ROLE, ("aws", "123456789012", "role", "admins")),
        ("arn:aws:iam::123456789012:role/platform/team/Admins", ("aws", "123456789012", "role", "admins")),
        ("arn:aws-us-gov:iam::123456789012:user/ci", ("aws-us-gov", "123456789012", "user", "ci")),
        ("arn:aws:sts::123456789012:assumed-role/admins/session", None),
        ("arn:aws:iam::123456789012:root", None),
        ("arn:aws:iam::123456789012:group/admins", None),
    ],
)
def test_principal_key_ignores_path_and_case(arn: str, key: tuple[str, ...] | None) -> None:
    assert principal_key(arn) == key


def test_principal_id_is_stable_per_principal() -> None:
    assert principal_id(ROLE) == principal_id("arn:aws:iam::123456789012:role/x/ADMINS")
    assert principal_id(ROLE) != principal_id("arn:aws:iam::123456789012:user/admins")
    assert len(principal_id(ROLE)) == 8


@pytest.mark.parametrize(
    ("listed", "caller", "expected"),
    [
        ((ROLE,), ROLE, (ROLE,)),
        # The caller's role, known by its path from the session context, listed without it: one entry.
        ((ROLE,), "arn:aws:iam::123456789012:role/ops/admins", (ROLE,)),
        ((ROLE,), "arn:aws:iam::123456789012:user/me", (ROLE, "arn:aws:iam::123456789012:user/me")),
        ((), "arn:aws:iam::123456789012:user/me", ("arn:aws:iam::123456789012:user/me",)),
        ((ROLE,), None, (ROLE,)),
    ],
)
def test_admin_principals_name_each_principal_once(
    listed: tuple[str, ...], caller: str | None, expected: tuple[str, ...]
) -> None:
    assert admin_principals(listed, caller) == expected


def test_duplicates_and_sessions_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        validate_admin_principal_arns((ROLE, ROLE))
    assert str(info.value) == (
        f"admin_principal_arns must be a list naming each principal once (got '{ROLE}'): it is the same "
        f"principal as '{ROLE}'; remove one (EKS allows one access entry per principal)."
    )
    with pytest.raises(ConfigError, match=r"^admin_principal_arns must be IAM role or user ARNs"):
        validate_admin_principal_arns(("arn:aws:sts::123456789012:assumed-role/admins/me",))
    assert is_assumed_role_arn("arn:aws:sts::123456789012:assumed-role/admins/me")
    assert not is_assumed_role_arn(ROLE)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, None),
        ([], None),
        (
            [{"roleArn": "arn:aws:iam::1:role/a"}, {"roleArn": "arn:aws:iam::1:role/b"}],
            "arn:aws:iam::1:role/b",
        ),
        ({"roleArn": "arn:aws:iam::1:role/legacy"}, "arn:aws:iam::1:role/legacy"),
        ([{"role_arn": "arn:aws:iam::1:role/snake"}], "arn:aws:iam::1:role/snake"),
        ([{"sessionName": "no-role"}], None),
    ],
)
def test_assumed_role_from_provider_config(config: object, expected: str | None) -> None:
    assert assumed_role_arn(config) == expected


def test_kubeconfig_passes_profile_role_and_region() -> None:
    plain = json.loads(kubeconfig_json("sg", "https://api", "Q0E=", "eu-west-1"))
    exec_ = plain["users"][0]["user"]["exec"]
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "sg",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
    assert "env" not in exec_
    config = json.loads(
        kubeconfig_json("sg", "https://api", "Q0E=", "eu-west-1", "prod", "arn:aws:iam::1:role/d")
    )
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "sg",
        "--region",
        "eu-west-1",
        "--role-arn",
        "arn:aws:iam::1:role/d",
        "--output",
        "json",
    ]
    assert exec_["env"] == [{"name": "AWS_PROFILE", "value": "prod"}]
    assert config["clusters"][0]["cluster"] == {"server": "https://api", "certificate-authority-data": "Q0E="}


def test_mocks_answer_the_lookups_like_the_provider() -> None:
    session = DEFAULT_INVOKES["aws:iam/getSessionContext:getSessionContext"]
    assumed = session(
        {"arn": "arn:aws-us-gov:sts::123456789012:assumed-role/deployer/run-1"}, "us-gov-west-1"
    )
    assert (assumed["issuerArn"], assumed["issuerName"], assumed["sessionName"]) == (
        "arn:aws-us-gov:iam::123456789012:role/deployer",
        "deployer",
        "run-1",
    )
    # Non-role ARNs pass through, as the provider documents.
    assert session({"arn": "arn:aws:iam::123456789012:user/me"}, "us-east-1")["issuerArn"] == (
        "arn:aws:iam::123456789012:user/me"
    )
    addon = DEFAULT_INVOKES["aws:eks/getAddonVersion:getAddonVersion"]
    assert addon({"addonName": "kube-proxy", "kubernetesVersion": "1.35"}, "us-east-1")["version"].startswith(
        "v1.35."
    )
