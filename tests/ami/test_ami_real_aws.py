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
from sgarch.errors import AmiBuildError, ConfigError

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
        "install.sh: SSM returns only the first 24,000 characters of output; the rest is in CloudWatch Logs "
        "group /sgarch/ami-builds (the exit code still decides)"
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
    from sgarch.ami.cleanup import Attempts
    from sgarch.ami.inventory import list_builds, prune

    result, _, _ = _build(spec_dir, clock, [])
    clients = ClientFactory(
        event_hooks=[_fail_first("ec2.DeleteSnapshot", 1, "InvalidSnapshot.InUse", "in use by ami-1")]
    )
    doomed = [b for b in list_builds(clients, REGIONS) if b.build_id == result.build_id]
    pruning = FakeClock()
    attempts = Attempts(pruning)
    pruned = prune(clients, doomed, attempts)
    assert pruned.deleted == {region: [image_id] for region, image_id in result.images.items()}
    assert (pruned.left, attempts.failures) == ([], [])
    assert pruning.slept == [5.0]
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        tagged = ec2.describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": "tag:sgarch:build-id", "Values": [result.build_id]}]
        )["Snapshots"]
        assert tagged == []


def _default_encryption(key: str) -> list[tuple[str, Any]]:
    """Account-level default encryption with ``key``, answered before the call reaches moto.

    moto does not implement GetEbsDefaultKmsKeyId; a before-call handler's return value is the response.
    """

    def answer(parsed: dict[str, Any]) -> Any:
        def hook(**_: Any) -> Any:
            return (type("Http", (), {"status_code": 200})(), parsed)

        return hook

    return [
        ("before-call.ec2.GetEbsEncryptionByDefault", answer({"EbsEncryptionByDefault": True})),
        ("before-call.ec2.GetEbsDefaultKmsKeyId", answer({"KmsKeyId": key})),
    ]


CMK = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_default_encryption_with_a_customer_key_is_refused_for_marketplace(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    with (spec_dir / "ami.yaml").open("a") as spec:
        spec.write(
            "marketplace: {usage_instructions: Open https://<ip>, security_groups: [{from_port: 443, to_port: 443}]}\n"
        )
    with pytest.raises(ConfigError) as raised:
        _build(spec_dir, clock, _default_encryption(CMK))
    assert str(raised.value).startswith(
        f"default EBS encryption must be off in us-east-1 for a Marketplace image (got '{CMK}'): Marketplace "
        "refuses encrypted snapshots and this key would encrypt the image; turn it off "
        "(aws ec2 disable-ebs-encryption-by-default --region us-east-1) for the build."
    )
    assert inventory(REGIONS) == before


def test_default_encryption_with_a_customer_key_is_warned_about_when_sharing(
    spec_dir: Path, clock: FakeClock
) -> None:
    result, _, events = _build(spec_dir, clock, _default_encryption(CMK))
    assert set(result.images) == set(REGIONS)
    warnings = {
        e.region: e.message for e in events if e.kind == "warning" and "default EBS encryption" in e.message
    }
    assert set(warnings) == set(REGIONS)
    assert all(CMK in w and "needs a grant on that key" in w for w in warnings.values())


def test_output_streams_to_cloudwatch_and_the_role_may_write_there_only(
    spec_dir: Path, clock: FakeClock
) -> None:
    import json

    result, recorder, events = _build(spec_dir, clock, [])
    scripts = [p for p in recorder.of("SendCommand") if p["Parameters"]["commands"] != ["true"]]
    assert scripts and all(
        p["CloudWatchOutputConfig"]
        == {"CloudWatchLogGroupName": "/sgarch/ami-builds", "CloudWatchOutputEnabled": True}
        for p in scripts
    )
    shown = [
        e.message for e in events if "live output in CloudWatch Logs group /sgarch/ami-builds" in e.message
    ]
    assert len(shown) == len(scripts)
    (put,) = recorder.of("PutRolePolicy")
    assert put["RoleName"] == f"sgarch-build-{result.build_id}"
    statements = json.loads(put["PolicyDocument"])["Statement"]
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/sgarch/ami-builds"
    assert statements[0]["Resource"] == [group, f"{group}:*"]
    assert "logs:PutLogEvents" in statements[0]["Action"] and "*" not in str(statements[0]["Action"])
    assert statements[1] == {
        "Effect": "Allow",
        "Action": "logs:DescribeLogGroups",
        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:*",
    }


def test_a_failure_is_summed_up_from_stdout_when_stderr_is_empty(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    def fail(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Status") == "Success" and "install" in parsed.get("Comment", ""):
            lines = "".join(f"step {i}\n" for i in range(1, 9)) + "error: disk full\n"
            parsed.update(
                Status="Failed", ResponseCode=1, StandardOutputContent=lines, StandardErrorContent=""
            )

    with pytest.raises(AmiBuildError) as raised:
        _build(spec_dir, clock, [("after-call.ssm.GetCommandInvocation", fail)])
    assert "exit code 1: step 5 | step 6 | step 7 | step 8 | error: disk full (full output:" in str(
        raised.value
    )
    assert inventory(REGIONS) == before


def test_images_and_snapshots_are_tagged_at_creation_and_marked_complete_last(
    spec_dir: Path, clock: FakeClock
) -> None:
    result, recorder, _ = _build(spec_dir, clock, [])
    for call in (*recorder.of("CreateImage"), *recorder.of("CopyImage")):
        kinds = {
            s["ResourceType"]: {t["Key"]: t["Value"] for t in s["Tags"]} for s in call["TagSpecifications"]
        }
        assert set(kinds) == {"image", "snapshot"}
        assert kinds["snapshot"]["sgarch:build-id"] == result.build_id
        assert kinds["image"]["sgarch:build-complete"] == "false"
    # The complete tag is the build's last AWS call in every region.
    names = [name for _, name, _ in recorder.calls if not name.startswith(("Describe", "Get", "List"))]
    last = names[names.index("CreateTags") :]
    assert set(last[: len(REGIONS)]) == {"CreateTags"}
    tagged = recorder.of("CreateTags")
    assert sorted(t["Resources"][0] for t in tagged) == sorted(result.images.values())
    assert all(t["Tags"] == [{"Key": "sgarch:build-complete", "Value": "true"}] for t in tagged)
    for region, image_id in result.images.items():
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        assert {"Key": "sgarch:build-complete", "Value": "true"} in image["Tags"]
        snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        tags = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["Tags"]
        assert {"Key": "sgarch:build-id", "Value": result.build_id} in tags
