"""Real-AWS behaviours moto does not show: eventual consistency, SSM readiness, routes to SSM, busy groups.

Each test injects the answer real AWS gives (through botocore event hooks on the builder's clients) and
asserts what the builder sends next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from ami_moto import REGIONS, FakeClock, Recorder, inventory
from botocore.exceptions import ClientError

from sgarch.ami import BuildOptions, ClientFactory, build, load_spec
from sgarch.ami.runner import BuildEvent
from sgarch.errors import AmiBuildError

pytestmark = pytest.mark.usefixtures("aws")


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _fail_first(operation: str, times: int, code: str, message: str) -> tuple[str, Any]:
    """A before-call hook: ``operation`` fails ``times`` times with ``code`` before reaching moto."""
    left = [times]

    def hook(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise _error(code, message, operation)

    return (f"before-call.{operation}", hook)


def _build(spec_dir: Path, clock: FakeClock, hooks: list[tuple[str, Any]], **options: Any) -> Any:
    recorder = Recorder()
    events: list[BuildEvent] = []
    options.setdefault("manifest_path", spec_dir / "manifest.json")
    result = build(
        load_spec(spec_dir),
        BuildOptions(**options),
        ClientFactory(event_hooks=[*recorder.hooks, *hooks]),
        emit=events.append,
        clock=clock,
    )
    return result, recorder, events


def test_a_new_instance_profile_is_retried_until_ec2_sees_it(spec_dir: Path, clock: FakeClock) -> None:
    # The exact text EC2 returns for a profile created seconds ago.
    message = "Value (sgarch-build-x) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
    hooks = [_fail_first("ec2.RunInstances", 3, "InvalidParameterValue", message)]
    result, recorder, events = _build(spec_dir, clock, hooks)
    assert set(result.images) == set(REGIONS)
    # Four requests, one token: AWS launches at most one instance for all of them.
    launches = recorder.of("RunInstances")
    assert len(launches) == 4 and {p["ClientToken"] for p in launches} == {result.build_id}
    assert sum("not launchable yet (InvalidParameterValue)" in e.message for e in events) == 3
    assert clock.slept[:3] == [5.0, 7.5, 11.25]


def test_other_invalid_parameters_fail_at_once(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    hooks = [
        _fail_first("ec2.RunInstances", 1, "InvalidParameterValue", "Invalid value 'x' for InstanceType")
    ]
    with pytest.raises(AmiBuildError, match=r"step launch failed: .*InstanceType"):
        _build(spec_dir, clock, hooks)
    assert inventory(REGIONS) == before


def test_a_new_instance_unknown_to_describe_is_waited_for(spec_dir: Path, clock: FakeClock) -> None:
    # DescribeInstances is eventually consistent: right after RunInstances the id can be NotFound.
    hooks = [_fail_first("ec2.DescribeInstances", 2, "InvalidInstanceID.NotFound", "does not exist")]
    result, _, _ = _build(spec_dir, clock, hooks)
    assert set(result.images) == set(REGIONS)


def test_commands_wait_for_the_agent_to_be_online(spec_dir: Path, clock: FakeClock) -> None:
    polls = [0]

    def offline_twice(parsed: dict[str, Any], **_: Any) -> None:
        polls[0] += 1
        if polls[0] <= 2:
            for info in parsed["InstanceInformationList"]:
                info["PingStatus"] = "ConnectionLost"

    hooks = [("after-call.ssm.DescribeInstanceInformation", offline_twice)]
    _, recorder, _ = _build(spec_dir, clock, hooks)
    names = [name for _, name, _ in recorder.calls if name in ("DescribeInstanceInformation", "SendCommand")]
    # Three polls (offline, offline, online), and no command before the agent is online.
    assert names[:4] == ["DescribeInstanceInformation"] * 3 + ["SendCommand"]
    (query,) = {str(p["Filters"]) for p in recorder.of("DescribeInstanceInformation")}
    assert "InstanceIds" in query
    ready = recorder.of("SendCommand")[0]
    assert ready["Parameters"] == {"commands": ["true"], "executionTimeout": ["60"]}


def test_an_agent_that_never_comes_online_times_out_and_cleans_up(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    def offline(parsed: dict[str, Any], **_: Any) -> None:
        parsed["InstanceInformationList"] = []

    with pytest.raises(
        AmiBuildError,
        match=r"step wait-ssm failed: timed out after 900 s waiting for the SSM agent on i-\w+ to come online \(check that the subnet reaches SSM\)",
    ):
        _build(spec_dir, clock, [("after-call.ssm.DescribeInstanceInformation", offline)])
    assert inventory(REGIONS) == before


def test_cancelling_is_not_the_end_of_a_command(spec_dir: Path, clock: FakeClock) -> None:
    seen = [0]

    def cancelling_first(parsed: dict[str, Any], **_: Any) -> None:
        seen[0] += 1
        if seen[0] == 1:
            parsed["Status"] = "Cancelling"

    _build(spec_dir, clock, [("after-call.ssm.GetCommandInvocation", cancelling_first)])
    # The Cancelling answer was polled again instead of ending the ready check with a failure.
    assert seen[0] >= 2


def test_output_past_the_ssm_limit_is_reported_once(spec_dir: Path, clock: FakeClock) -> None:
    def long_output(parsed: dict[str, Any], **_: Any) -> None:
        if "install" in parsed.get("Comment", ""):
            parsed["StandardOutputContent"] = "x\n" * 12_000  # exactly 24,000 characters, as SSM cuts it

    _, recorder, events = _build(spec_dir, clock, [("after-call.ssm.GetCommandInvocation", long_output)])
    warnings = [e.message for e in events if e.kind == "warning" and e.step == "provision"]
    assert warnings == [
        "install.sh: SSM returns only the first 24,000 characters of output; the rest is not shown "
        "(the exit code still decides)"
    ]
    install = [p for p in recorder.of("SendCommand") if "install" in p["Comment"]]
    assert install[0]["Parameters"]["executionTimeout"] == ["3600"]


def test_a_busy_security_group_is_retried_until_its_interface_is_gone(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    hooks = [
        _fail_first(
            "ec2.DeleteSecurityGroup", 6, "DependencyViolation", "resource sg-1 has a dependent object"
        )
    ]
    _build(spec_dir, clock, hooks)
    left = inventory(REGIONS)
    assert left["us-east-1"]["security_groups"] == before["us-east-1"]["security_groups"]
    assert [s for s in clock.slept if s in (5.0, 10.0, 15.0, 20.0)][-6:] == [
        5.0,
        10.0,
        15.0,
        20.0,
        20.0,
        20.0,
    ]


def _subnet_behind_igw(map_public_ip: bool) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["SubnetId"])
    ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": map_public_ip})
    return str(subnet["SubnetId"])


def _with_subnet(spec_dir: Path, subnet_id: str) -> None:
    spec = spec_dir / "ami.yaml"
    spec.write_text(spec.read_text() + f"subnet_id: {subnet_id}\n")


def test_a_public_subnet_without_auto_public_ip_gets_one_for_the_build(
    spec_dir: Path, clock: FakeClock
) -> None:
    subnet_id = _subnet_behind_igw(map_public_ip=False)
    _with_subnet(spec_dir, subnet_id)
    _, recorder, _ = _build(spec_dir, clock, [])
    (launch,) = recorder.of("RunInstances")
    assert "SubnetId" not in launch and "SecurityGroupIds" not in launch
    (interface,) = launch["NetworkInterfaces"]
    assert interface["SubnetId"] == subnet_id and interface["AssociatePublicIpAddress"] is True
    assert interface["Groups"] == [recorder.of("DeleteSecurityGroup")[0]["GroupId"]]
    assert launch["MetadataOptions"]["HttpTokens"] == "required"


def test_a_subnet_that_maps_public_ips_launches_plainly(spec_dir: Path, clock: FakeClock) -> None:
    subnet_id = _subnet_behind_igw(map_public_ip=True)
    _with_subnet(spec_dir, subnet_id)
    _, recorder, events = _build(spec_dir, clock, [])
    (launch,) = recorder.of("RunInstances")
    assert launch["SubnetId"] == subnet_id and "NetworkInterfaces" not in launch
    assert not [e for e in events if e.kind == "warning" and e.step == "subnet"]


def test_a_subnet_with_no_route_to_ssm_is_warned_about(spec_dir: Path, clock: FakeClock) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24", AvailabilityZone="us-east-1b")[
        "Subnet"
    ]["SubnetId"]
    _with_subnet(spec_dir, subnet_id)
    _, _, events = _build(spec_dir, clock, [])
    (warning,) = [e.message for e in events if e.kind == "warning" and e.step == "subnet"]
    assert warning.startswith(
        f"{subnet_id} has no default route and no ssm, ssmmessages and ec2messages endpoints"
    )


@pytest.fixture
def before() -> dict[str, Any]:
    return inventory(REGIONS)


def test_prune_retries_a_snapshot_still_held_by_the_deregistered_image(
    spec_dir: Path, clock: FakeClock
) -> None:
    from sgarch.ami.inventory import list_builds, prune

    result, _, _ = _build(spec_dir, clock, [])
    clients = ClientFactory(
        event_hooks=[_fail_first("ec2.DeleteSnapshot", 1, "InvalidSnapshot.InUse", "in use by ami-1")]
    )
    doomed = [b for b in list_builds(clients, REGIONS) if b.build_id == result.build_id]
    slept: list[float] = []
    deleted = prune(clients, doomed, sleep=slept.append)
    assert deleted == {region: [image_id] for region, image_id in result.images.items()}
    assert slept == [5.0]
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        tagged = ec2.describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": "tag:sgarch:build-id", "Values": [result.build_id]}]
        )["Snapshots"]
        assert tagged == []
