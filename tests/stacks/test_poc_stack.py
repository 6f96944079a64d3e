"""stacks/poc runs offline: private, time-boxed, inside an existing or a new private-only VPC."""

from __future__ import annotations

import importlib
import inspect
import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sgarch.errors import ConfigError
from sgarch.refarch.poc import EXPIRY_TAG
from sgarch.testing import SgarchMocks, mocked_runtime

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "poc"
PROJECT = "sgarch-poc"
TODAY = "2026-11-23"

BASE: dict[str, Any] = {
    "expires_on": "2027-01-31",
    "budget_emails": ["poc-owner@example.com"],
    "record_name": "sourcegraph.poc.example.com",
    "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
    "monthly_budget_usd": "600",
}
BYO = {
    "vpc_id": "vpc-0123456789abcdef0",
    # Two subnets the mocks place in two zones, as the brought-network checks require.
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
}
# A new VPC needs a way in: here the customer's transit gateway, their users' network routed through it.
TGW = {"transit_gateway_id": "tgw-0123456789abcdef0", "allowed_cidrs": ["10.0.0.0/8"]}


def run_stack(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> tuple[SgarchMocks, dict[str, Any]]:
    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    config = {k: v for k, v in (BASE | overrides).items() if v is not None}
    values = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    values["aws:region"] = "us-east-1"
    with mocked_runtime(SgarchMocks(), project=PROJECT, stack="poc", config=values) as mocks:
        mocks.run(lambda: runpy.run_path(str(STACK / "__main__.py"), run_name="__main__"))
        return mocks, mocks.exports()


def _assert_private(mocks: SgarchMocks) -> None:
    instance = mocks.one("aws:ec2/instance:Instance").inputs
    assert instance["associatePublicIpAddress"] is False
    for subnet in mocks.by_type("aws:ec2/subnet:Subnet"):
        assert not subnet.inputs.get("mapPublicIpOnLaunch")
    for lb in mocks.by_type("aws:lb/loadBalancer:LoadBalancer"):
        assert lb.inputs["internal"] is True
    assert mocks.by_type("aws:ec2/internetGateway:InternetGateway") == []
    assert mocks.by_type("aws:ec2/eip:Eip") == []
    for rule in mocks.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        assert rule.inputs.get("cidrIpv4") not in ("0.0.0.0/0",) and rule.inputs.get("cidrIpv6") != "::/0"
    for group in mocks.by_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress") or []:
            assert "0.0.0.0/0" not in (rule.get("cidrBlocks") or [])


def test_existing_vpc_creates_no_network_and_stays_private(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, exports = run_stack(monkeypatch, **BYO)
    for kind in ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"):
        assert mocks.by_type(kind) == [], kind
    _assert_private(mocks)
    assert exports["expires_on"] == "2027-01-31"
    assert exports["url"] == "https://sourcegraph.poc.example.com"


def test_new_vpc_on_a_transit_gateway_stays_private(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(monkeypatch, **TGW)
    assert len(mocks.by_type("aws:ec2/vpc:Vpc")) == 1
    assert mocks.by_type("aws:ec2/natGateway:NatGateway") == []
    _assert_private(mocks)


@pytest.mark.parametrize("network", [BYO, TGW], ids=["existing-vpc", "new-vpc"])
def test_endpoints_when_there_is_no_nat(monkeypatch: pytest.MonkeyPatch, network: dict[str, Any]) -> None:
    mocks, _ = run_stack(monkeypatch, **network)
    services = sorted(
        str(r.inputs["serviceName"]).rsplit(".", 1)[-1]
        for r in mocks.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs.get("vpcEndpointType") == "Interface"
    )
    assert {"ssm", "ssmmessages", "ec2messages", "logs", "sts"} <= set(services)


def test_no_endpoints_when_the_subnets_have_nat(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(monkeypatch, subnets_have_nat="true", **BYO)
    assert [
        r
        for r in mocks.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if r.inputs.get("vpcEndpointType") == "Interface"
    ] == []


def test_schedule_stops_never_terminates(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(monkeypatch, **BYO)
    schedule = mocks.one("aws:scheduler/schedule:Schedule").inputs
    assert schedule["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"
    assert json.loads(schedule["target"]["input"]) == {
        "InstanceIds": [mocks.one("aws:ec2/instance:Instance").id]
    }
    assert schedule["startDate"] == "2027-02-01T00:00:00Z"
    policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    assert [s["Action"] for s in policy["Statement"]] == ["ec2:StopInstances"]


def test_budget_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(monkeypatch, **BYO)
    budget = mocks.one("aws:budgets/budget:Budget").inputs
    assert budget["limitAmount"] == "600.00" and budget["timeUnit"] == "MONTHLY"
    assert sorted(n["threshold"] for n in budget["notifications"]) == [80, 100]
    for notification in budget["notifications"]:
        assert notification["subscriberEmailAddresses"] == ["poc-owner@example.com"]


def _taggable(type_token: str) -> bool:
    provider, module_path, _ = type_token.split(":")
    if provider != "aws":
        return False
    module, class_name = module_path.split("/")[0], type_token.rsplit(":", 1)[-1]
    mod = importlib.import_module("pulumi_aws" if module == "index" else f"pulumi_aws.{module}")
    cls = getattr(mod, f"{class_name}Args", None)
    return cls is not None and "tags" in inspect.signature(cls.__init__).parameters


@pytest.mark.parametrize("network", [BYO, TGW], ids=["existing-vpc", "new-vpc"])
def test_poc_tag_everywhere_expiry_tag_only_where_it_acts(
    monkeypatch: pytest.MonkeyPatch, network: dict[str, Any]
) -> None:
    mocks, _ = run_stack(monkeypatch, **network)
    checked = 0
    with_expiry = set()
    for record in mocks.resources:
        if record.custom and _taggable(record.type):
            assert record.tags().get("poc") == "poc", f"{record.type} {record.name}"
            if EXPIRY_TAG in record.tags():
                with_expiry.add(record.type)
            checked += 1
    assert checked > 20
    # The schedules' group and the budget carry the date; nothing else changes when it moves.
    assert with_expiry == {"aws:scheduler/scheduleGroup:ScheduleGroup", "aws:budgets/budget:Budget"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"expires_on": None}, "expires_on must be set"),
        ({"expires_on": "2026-11-01"}, "expires_on must be today (2026-11-23) or later (got '2026-11-01')"),
        ({"expires_on": "next month"}, "expires_on must be a date like 2026-12-31 (got 'next month')"),
        ({"budget_emails": []}, "budget_emails must be set (got None): give it a value."),
        (
            {"budget_emails": ["not-an-address"]},
            "budget_emails must be e-mail addresses (got 'not-an-address')",
        ),
        ({"certificate_arn": None}, "certificate_arn must be set, or public_zone_id set to issue one"),
        ({"image": "stock"}, "image must be sgarch when the subnets have neither NAT nor a proxy"),
    ],
)
def test_bad_config_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        run_stack(monkeypatch, **(BYO | overrides))
    assert str(err.value).startswith(message)


def test_issued_certificate_is_validated_in_the_public_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks, _ = run_stack(monkeypatch, certificate_arn=None, public_zone_id="Z0PUBLIC", **BYO)
    certificate = mocks.one("aws:acm/certificate:Certificate").inputs
    assert (
        certificate["domainName"] == "sourcegraph.poc.example.com"
        and certificate["validationMethod"] == "DNS"
    )
    assert mocks.one("aws:acm/certificateValidation:CertificateValidation")


def test_proxy_reaches_sourcegraph(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import gzip

    mocks, _ = run_stack(
        monkeypatch, http_proxy="http://proxy.corp.example.com:3128", proxy_cidrs=["10.1.2.0/28"], **BYO
    )
    inputs = mocks.one("aws:ec2/instance:Instance").inputs
    user_data = inputs.get("userData") or gzip.decompress(base64.b64decode(inputs["userDataBase64"])).decode()
    assert "HTTPS_PROXY=http://proxy.corp.example.com:3128" in user_data
    # The proxy's port, to the proxy's addresses, is open; nothing else leaves for the internet.
    egress = [r.inputs for r in mocks.by_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    assert any(r.get("cidrIpv4") == "10.1.2.0/28" and int(r["fromPort"]) == 3128 for r in egress)
    assert not any(r.get("cidrIpv4") == "0.0.0.0/0" for r in egress)


def test_past_expiry_exits_2_from_sgarch_plan() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sgarch", "plan", str(STACK), "--config", "expires_on=2020-01-01"],
        capture_output=True,
        text=True,
        check=False,
        env={"SGARCH_TODAY": TODAY, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: expires_on must be today (2026-11-23) or later")
    assert "Traceback" not in proc.stderr


def test_promotion_creates_the_single_node_volume_from_the_snapshot() -> None:
    single_node = ROOT / "stacks" / "single-node" / "__main__.py"
    config = {
        "sgarch-single-node:data_volume_snapshot_id": "snap-0123456789abcdef0",
        "aws:region": "us-east-1",
    }
    with mocked_runtime(SgarchMocks(), project="sgarch-single-node", stack="prod", config=config) as mocks:
        mocks.run(lambda: runpy.run_path(str(single_node), run_name="__main__"))
        assert mocks.one("aws:ebs/volume:Volume").inputs["snapshotId"] == "snap-0123456789abcdef0"


@pytest.mark.parametrize("tier", ["XS", "S"])
def test_readme_cost_per_day_matches_the_plan(monkeypatch: pytest.MonkeyPatch, tier: str) -> None:
    import re

    from sgarch.cost import estimate_cost
    from sgarch.plan import run_plan

    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    plan = run_plan(STACK, stack="example", config={"tier": tier})
    monthly = estimate_cost(plan.resources, "us-east-1").total_monthly_usd
    row = re.search(
        rf"^\| {tier} \| [^|]+ \| \$([\d,.]+) \| \$([\d,.]+) \|$", (STACK / "README.md").read_text(), re.M
    )
    assert row is not None
    per_day, per_month = (float(v.replace(",", "")) for v in row.groups())
    assert per_month == round(monthly, 2)
    assert per_day == round(monthly / (730 / 24), 2)


@pytest.mark.parametrize("runtime", ["single-node", "eks"])
def test_a_tier_below_the_workload_is_refused_one_larger_wins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], runtime: str
) -> None:
    from sgarch.cli.app import main
    from sgarch.plan import run_plan

    monkeypatch.setenv("SGARCH_TODAY", TODAY)
    # 1,000 users and 20,000 repos need M.
    workload = {"users": "1000", "repos": "20000", "runtime": runtime}
    if runtime == "eks":
        workload |= {
            "http_proxy": "",
            "proxy_cidrs": "[]",
            "allowed_cidrs": '["10.0.0.0/8"]',
            "subnets_have_nat": "true",
        }
    argv = ["plan", str(STACK), "--stack", "example"]
    for key, value in {**workload, "tier": "XS"}.items():
        argv += ["--config", f"{key}={value}"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: tier must be M or larger for the configured workload (got 'XS'): 1,000 users need S and "
        "20,000 repos need M; set tier to M or larger, or leave it unset to plan M."
    ]
    assert run_plan(STACK, stack="example", config={**workload, "tier": "XL"}).exports["tier"] == "XL"
    assert run_plan(STACK, stack="example", config=workload).exports["tier"] == "M"
    assert (
        run_plan(
            STACK, stack="example", config={"runtime": runtime, **workload, "users": "0", "repos": "0"}
        ).exports["tier"]
        == "XS"
    )
