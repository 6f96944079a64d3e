"""stacks/poc with ``runtime: eks`` plans offline: private, time-boxed, inside an existing or a new VPC."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sgarch.errors import ConfigError
from sgarch.refarch.poc import EXPIRY_TAG
from sgarch.testing import SgarchMocks, mocked_runtime

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "poc"
PROJECT = "sgarch-poc"
TODAY = "2026-11-23"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"

BASE: dict[str, Any] = {
    "runtime": "eks",
    "tier": "XS",
    "expires_on": "2027-01-31",
    "budget_emails": ["poc-owner@example.com"],
    "record_name": "sourcegraph.poc.example.com",
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
    "monthly_budget_usd": "1500",
    "image_registry": f"{REGISTRY}/docker-hub/sourcegraph",
    "load_balancer_controller_image": f"{REGISTRY}/ecr-public/eks/aws-load-balancer-controller",
}
BYO = {
    "vpc_id": "vpc-0123456789abcdef0",
    # Two subnets the mocks place in two zones, as the brought-network checks require.
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "allowed_cidrs": ["10.20.0.0/16"],
}
# A new VPC on the customer's transit gateway: Pulumi reaches the private API from their network through it.
TGW = {"transit_gateway_id": "tgw-0123456789abcdef0", "allowed_cidrs": ["10.0.0.0/8"]}
NETWORKS = pytest.mark.parametrize("network", [BYO, TGW], ids=["existing-vpc", "new-vpc"])
WORLD = ("0.0.0.0/0", "::/0")


def run_stack(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> tuple[SgarchMocks, dict[str, Any]]:
    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    config = {k: v for k, v in (BASE | overrides).items() if v is not None}
    values = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    values["aws:region"] = "us-east-1"
    with mocked_runtime(SgarchMocks(), project=PROJECT, stack="poc", config=values) as mocks:
        mocks.run(lambda: runpy.run_path(str(STACK / "__main__.py"), run_name="__main__"))
        return mocks, mocks.exports()


@pytest.fixture(scope="module", params=[BYO, TGW], ids=["existing-vpc", "new-vpc"])
def planned(request: pytest.FixtureRequest) -> tuple[SgarchMocks, dict[str, Any], dict[str, Any]]:
    # One plan per network shared by the assertions below keeps the module fast (about 2 s a plan).
    with pytest.MonkeyPatch.context() as monkeypatch:
        mocks, exports = run_stack(monkeypatch, **request.param)
    return mocks, exports, request.param


def _sourcegraph_values(mocks: SgarchMocks) -> dict[str, Any]:
    release = mocks.one("kubernetes:helm.sh/v3:Release", "poc-sourcegraph-sourcegraph").inputs
    values: dict[str, Any] = yaml.safe_load(release["valueYamlFiles"][0].text)
    return values


def test_runs_sourcegraph_on_eks_not_on_an_instance(planned: Any) -> None:
    mocks, exports, network = planned
    assert mocks.by_type("aws:ec2/instance:Instance") == []
    cluster = mocks.one("aws:eks/cluster:Cluster").inputs
    # Never sourcegraph-<stack>, the eks project's name for its clusters.
    assert cluster["name"] == "sgarch-poc-poc"
    groups = mocks.by_type("aws:eks/nodeGroup:NodeGroup")
    # The smallest XS plan: two zones of m6a.2xlarge; managed databases are off, so they run in the cluster.
    assert len(groups) == 2 and {g.inputs["instanceTypes"][0] for g in groups} == {"m6a.2xlarge"}
    assert mocks.by_type("aws:rds/instance:Instance") == []
    assert mocks.by_type("aws:elasticache/replicationGroup:ReplicationGroup") == []
    # No object storage bucket (blobs stay in the cluster); the one bucket holds the ALB's access logs.
    buckets = mocks.by_type("aws:s3/bucket:Bucket")
    assert [b.name for b in buckets] == ["poc-sourcegraph-alb-logs"]
    values = _sourcegraph_values(mocks)
    assert values["pgsql"].get("enabled", True) is not False
    assert values["sourcegraph"]["image"]["repository"] == f"{REGISTRY}/docker-hub/sourcegraph"
    assert exports["url"] == "https://sourcegraph.poc.example.com"
    assert exports["expires_on"] == "2027-01-31"
    assert exports["cluster_name"] == "sgarch-poc-poc"
    assert exports["node_group_names"] == sorted(g.outputs["nodeGroupName"] for g in groups)
    assert "kubectl -n sourcegraph get ingress" in exports["dns_record"]
    assert "instance_id" not in exports
    if "vpc_id" in network:
        for kind in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"):
            assert mocks.by_type(kind) == [], kind
    else:
        assert len(mocks.by_type("aws:ec2/vpc:Vpc")) == 1


def test_nothing_is_public(planned: Any) -> None:
    mocks, _, network = planned
    vpc_config = mocks.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc_config["endpointPublicAccess"] is False and vpc_config["endpointPrivateAccess"] is True
    assert not vpc_config.get("publicAccessCidrs")
    for template in mocks.by_type("aws:ec2/launchTemplate:LaunchTemplate"):
        for interface in template.inputs.get("networkInterfaces") or []:
            assert not interface.get("associatePublicIpAddress")
    for subnet in mocks.by_type("aws:ec2/subnet:Subnet"):
        assert not subnet.inputs.get("mapPublicIpOnLaunch")
    for kind in (
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/natGateway:NatGateway",
    ):
        assert mocks.by_type(kind) == [], kind
    assert mocks.by_type("aws:lb/loadBalancer:LoadBalancer") == []
    for rule in mocks.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") not in WORLD and rule.inputs.get("cidrIpv6") not in WORLD
    for group in mocks.by_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress") or []:
            assert not set(rule.get("cidrBlocks") or []) & set(WORLD)
    # The ALB is the controller's: internal, HTTPS with the POC's certificate, only the allowed networks.
    annotations = _sourcegraph_values(mocks)["frontend"]["ingress"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == BASE["certificate_arn"]
    allowed = ",".join(network.get("allowed_cidrs") or ["10.50.0.0/16"])
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == allowed
    # The Kubernetes API: reachable on 443 from the same networks only.
    api = [
        r.inputs["cidrIpv4"]
        for r in mocks.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("poc-api-")
    ]
    assert api == (network.get("allowed_cidrs") or ["10.50.0.0/16"])


def test_endpoints_for_the_cluster_when_there_is_no_nat(planned: Any) -> None:
    mocks, _, _ = planned
    services = {
        str(r.inputs["serviceName"]).removeprefix("com.amazonaws.us-east-1.")
        for r in mocks.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs.get("vpcEndpointType") == "Interface"
    }
    assert {"ssm", "ecr.api", "ecr.dkr", "sts", "logs", "ec2", "elasticloadbalancing", "eks-auth"} <= services
    lbc = mocks.one("kubernetes:helm.sh/v3:Release", "poc-lbc").inputs["values"]
    assert lbc["image"] == {"repository": BASE["load_balancer_controller_image"]}


def test_schedules_scale_every_node_group_to_zero(planned: Any) -> None:
    mocks, _, _ = planned
    groups = {g.outputs["nodeGroupName"]: g for g in mocks.by_type("aws:eks/nodeGroup:NodeGroup")}
    schedules = mocks.by_type("aws:scheduler/schedule:Schedule")
    assert len(schedules) == len(groups) == 2
    scaled = {}
    for schedule in schedules:
        target = schedule.inputs["target"]
        assert target["arn"] == "arn:aws:scheduler:::aws-sdk:eks:updateNodegroupConfig"
        assert schedule.inputs["startDate"] == "2027-02-01T00:00:00Z"
        assert schedule.inputs["scheduleExpression"] == "cron(0 * * * ? *)"
        request = json.loads(target["input"])
        assert request["clusterName"] == "sgarch-poc-poc"
        group = groups[request["nodegroupName"]]
        assert request["scalingConfig"] == {
            "minSize": 0,
            "desiredSize": 0,
            "maxSize": int(group.inputs["scalingConfig"]["maxSize"]),
        }
        scaled[request["nodegroupName"]] = True
    assert set(scaled) == set(groups)
    # The scheduler may change the size of these node groups and do nothing else: never delete.
    policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "poc-stop").inputs["policy"])
    assert [s["Action"] for s in policy["Statement"]] == ["eks:UpdateNodegroupConfig"]
    assert sorted(policy["Statement"][0]["Resource"]) == sorted(g.outputs["arn"] for g in groups.values())


def test_request_matches_the_eks_api_model() -> None:
    import botocore.session

    from sgarch.refarch.poc import scale_to_zero_input

    model = botocore.session.get_session().get_service_model("eks")
    shape = model.operation_model("UpdateNodegroupConfig").input_shape
    request = json.loads(scale_to_zero_input("c", "g", 4.0))
    assert set(request) <= set(shape.members) and set(shape.required_members) <= set(request)
    scaling = shape.members["scalingConfig"]
    assert set(request["scalingConfig"]) == set(scaling.members)
    assert request["scalingConfig"]["maxSize"] >= scaling.members["maxSize"].metadata["min"]
    assert json.loads(scale_to_zero_input("c", "g", 0.0))["scalingConfig"]["maxSize"] == 1


def test_budget_thresholds(planned: Any) -> None:
    mocks, _, _ = planned
    budget = mocks.one("aws:budgets/budget:Budget").inputs
    assert budget["limitAmount"] == "1500.00" and budget["timeUnit"] == "MONTHLY"
    assert sorted(n["threshold"] for n in budget["notifications"]) == [80, 100]
    for notification in budget["notifications"]:
        assert notification["subscriberEmailAddresses"] == ["poc-owner@example.com"]
    assert budget["costFilters"] == [
        {"name": "TagKeyValue", "values": ["user:poc$poc"]},
        {"name": "Region", "values": ["us-east-1"]},
    ]


def _taggable(type_token: str) -> bool:
    provider, module_path, _ = type_token.split(":")
    if provider != "aws":
        return False
    module, class_name = module_path.split("/")[0], type_token.rsplit(":", 1)[-1]
    mod = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
    cls = getattr(mod, f"{class_name}Args", None)
    return cls is not None and "tags" in inspect.signature(cls.__init__).parameters


def test_poc_tag_everywhere_expiry_tag_only_where_it_acts(planned: Any) -> None:
    mocks, _, _ = planned
    checked = set()
    for record in mocks.resources:
        if record.custom and _taggable(record.type):
            assert record.tags().get("poc") == "poc", f"{record.type} {record.name}"
            expected = record.type in (
                "aws:scheduler/scheduleGroup:ScheduleGroup",
                "aws:budgets/budget:Budget",
            )
            assert (EXPIRY_TAG in record.tags()) == expected, f"{record.type} {record.name}"
            checked.add(record.type)
    assert {"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:kms/key:Key"} <= checked
    # What EKS and the controller create at run time carries the poc tag, never the date: a date in the
    # launch template would roll every node whenever the POC is extended.
    template = mocks.one("aws:ec2/launchTemplate:LaunchTemplate").inputs
    for spec in template["tagSpecifications"]:
        assert spec["tags"]["poc"] == "poc" and EXPIRY_TAG not in spec["tags"], spec["resourceType"]
    lbc = mocks.one("kubernetes:helm.sh/v3:Release", "poc-lbc").inputs["values"]
    assert lbc["defaultTags"]["poc"] == "poc" and EXPIRY_TAG not in lbc["defaultTags"]
    storage = mocks.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs["parameters"]
    assert "poc=poc" in storage.values() and not any("expires-on" in v for v in storage.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"image_registry": None},
            "image_registry must be set with runtime eks when the subnets have no NAT",
        ),
        (
            {"load_balancer_controller_image": None, **BYO},
            "load_balancer_controller_image must be set with runtime eks when the subnets have no NAT",
        ),
        ({**BYO, "allowed_cidrs": None}, "allowed_cidrs must be set with runtime eks and vpc_id"),
        ({"http_proxy": "http://proxy.corp.example.com:3128"}, "http_proxy must be unset with runtime eks"),
        ({"expires_on": "2026-11-01"}, "expires_on must be today (2026-11-23) or later"),
        (
            # NAT gives the nodes a way out, but Pulumi and kubectl no way to the private API.
            {"nat": "true", "allowed_cidrs": ["10.0.0.0/8"]},
            "transit_gateway_id must be set, or peer_vpc_id, with runtime eks and a new VPC",
        ),
    ],
)
def test_bad_config_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any], message: str
) -> None:
    network = {} if "vpc_id" in overrides or "nat" in overrides else TGW
    with pytest.raises(ConfigError) as err:
        run_stack(monkeypatch, **(network | overrides))
    assert str(err.value).startswith(message)


def test_nat_subnets_need_no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(
        monkeypatch, image_registry=None, load_balancer_controller_image=None, subnets_have_nat="true", **BYO
    )
    assert _sourcegraph_values(mocks).get("sourcegraph", {}).get("image", {}).get("repository") is None
    assert "image" not in mocks.one("kubernetes:helm.sh/v3:Release", "poc-lbc").inputs["values"]
    assert [
        r
        for r in mocks.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs.get("vpcEndpointType") == "Interface"
    ] == []


def test_readme_cost_per_day_matches_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from sgarch.cost import estimate_cost
    from sgarch.plan import run_plan

    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    plan = run_plan(STACK, stack="example", config=EXAMPLE_ON_EKS)
    monthly = estimate_cost(plan.resources, "us-east-1").total_monthly_usd
    row = re.search(
        r"^\| XS on EKS \| [^|]+ \| \$([\d,.]+) \| \$([\d,.]+) \|$", (STACK / "README.md").read_text(), re.M
    )
    assert row is not None
    per_day, per_month = (float(v.replace(",", "")) for v in row.groups())
    assert per_month == round(monthly, 2)
    assert per_day == round(monthly / (730 / 24), 2)


EXAMPLE_ON_EKS = {
    "runtime": "eks",
    "http_proxy": "",
    "proxy_cidrs": "[]",
    "allowed_cidrs": '["10.0.0.0/16"]',
    "image_registry": BASE["image_registry"],
    "load_balancer_controller_image": BASE["load_balancer_controller_image"],
}
"""What Pulumi.example.yaml's commented EKS block sets; the README's EKS cost row is for this config."""
