"""The builder against moto in-process: a full build, rebuild detection, faults at every step, Ctrl-C."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from ami_moto import BASE_AMI_ID, REGIONS, SHARE_ACCOUNT, FakeClock, Recorder, inventory

from sgarch.ami import STEP_NAMES, BuildOptions, ClientFactory, build, build_steps, load_spec
from sgarch.ami.aws import BUILD_ID_TAG
from sgarch.ami.steps import BuildState
from sgarch.errors import AmiBuildError, ConfigError

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def before() -> dict[str, Any]:
    """What the shared moto account holds before the test; a failed build must leave exactly this."""
    return inventory(REGIONS)


def _build(spec_dir: Path, clock: FakeClock, recorder: Recorder | None = None, **options: Any) -> Any:
    options.setdefault("manifest_path", spec_dir / "manifest.json")
    clients = ClientFactory(event_hooks=recorder.hooks if recorder else ())
    events: list[Any] = []
    result = build(
        load_spec(spec_dir), BuildOptions(**options), clients, emit=events.append, clock=clock, **{}
    )
    return result, events


def _tags(items: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


def test_build_copies_shares_tags_and_writes_the_manifest(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock, recorder: Recorder
) -> None:
    result, events = _build(spec_dir, clock, recorder)

    assert set(result.images) == set(REGIONS)
    manifest = json.loads((spec_dir / "manifest.json").read_text())
    assert manifest["images"] == result.images
    assert manifest["source_ami"]["image_id"] == BASE_AMI_ID  # the newest x86_64 AL2023, not the older/arm64
    assert manifest["sourcegraph_version"] == "7.5.4453"
    assert manifest["spec_hash"] == load_spec(spec_dir).spec_hash
    assert manifest["build_id"] == result.build_id
    for region, image_id in result.images.items():
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        tags = _tags(image["Tags"])
        assert tags[BUILD_ID_TAG] == result.build_id
        assert tags["sgarch:image"] == "test-image" and tags["Team"] == "platform"
        assert image["Name"] == result.ami_name
        snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
        assert _tags(snapshot["Tags"])[BUILD_ID_TAG] == result.build_id
        permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
        assert permissions["LaunchPermissions"] == [{"UserId": SHARE_ACCOUNT}]

    # Temporary resources are gone; only the images and their snapshots were added.
    left = inventory(REGIONS)
    assert left["iam"] == before["iam"]
    for region in REGIONS:
        for kind in ("instances", "security_groups", "key_pairs", "volumes"):
            assert left[region][kind] == before[region][kind]
        assert set(left[region]["images"]) - set(before[region]["images"]) == {result.images[region]}
        assert len(left[region]["snapshots"]) == len(before[region]["snapshots"]) + 1

    # Per-step and per-region progress reached the event sink.
    assert [e.step for e in events if e.kind == "step-finished"] == list(STEP_NAMES)
    copied = {
        e.region for e in events if e.kind == "region" and e.step == "copy" and "available" in e.message
    }
    assert copied == set(REGIONS) - {"us-east-1"}


def test_requests_carry_the_marketplace_security_settings(
    spec_dir: Path, clock: FakeClock, recorder: Recorder
) -> None:
    result, _ = _build(spec_dir, clock, recorder)

    (launch,) = recorder.of("RunInstances")
    assert launch["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in launch and "KeyName" not in json.dumps(recorder.calls)
    assert launch["IamInstanceProfile"] == {"Name": f"sgarch-build-{result.build_id}"}
    assert launch["BlockDeviceMappings"][0] == {
        "DeviceName": "/dev/xvda",
        "Ebs": {"VolumeSize": 50, "VolumeType": "gp3", "DeleteOnTermination": True},
    }
    assert {"AuthorizeSecurityGroupIngress", "CreateKeyPair", "ImportKeyPair"}.isdisjoint(
        recorder.operations()
    )
    imds = [p for p in recorder.of("ModifyImageAttribute") if "ImdsSupport" in p]
    assert sorted(p["ImageId"] for p in imds) == sorted(result.images.values())
    assert all(p["ImdsSupport"] == {"Value": "v2.0"} for p in imds)
    assert recorder.of("ModifyInstanceAttribute") == [
        {"InstanceId": launch_id, "EnaSupport": {"Value": True}} for launch_id in [_instance_id(recorder)]
    ]
    (create,) = recorder.of("CreateImage")
    assert [s["ResourceType"] for s in create["TagSpecifications"]] == ["image", "snapshot"]
    copies = recorder.of("CopyImage")
    assert sorted(c["SourceRegion"] for c in copies) == ["us-east-1"] * 3
    assert all("Encrypted" not in c for c in copies)  # Marketplace images stay unencrypted
    (group,) = recorder.of("CreateSecurityGroup")
    assert group["GroupName"] == f"sgarch-build-{result.build_id}"

    # Provisioners travel inline, in order, with their arguments and the version in the environment.
    commands = [
        c["Parameters"]["commands"]
        for c in recorder.of("SendCommand")
        if len(c["Parameters"]["commands"]) > 1
    ]
    assert len(commands) == 2
    install, harden = commands
    assert install[-1].endswith("/var/lib/sgarch-build/00-install.sh --pull-images")
    assert "SGARCH_SOURCEGRAPH_VERSION=7.5.4453" in install[-1] and "SGARCH_IMAGE_BUILD=1" in install[-1]
    body = "".join(
        install[install.index("base64 -d > /var/lib/sgarch-build/00-install.sh <<'SGARCH_SCRIPT'") + 1 : -3]
    )
    assert base64.b64decode(body) == (spec_dir / "install.sh").read_bytes()
    assert "harden.sh" in harden[-1]


def _instance_id(recorder: Recorder) -> str:
    return str(recorder.of("StopInstances")[0]["InstanceIds"][0])


def test_identical_rebuild_is_skipped_unless_forced(
    spec_dir: Path, clock: FakeClock, recorder: Recorder
) -> None:
    first, _ = _build(spec_dir, clock)
    again, events = _build(spec_dir, clock, recorder)
    assert again.skipped and again.existing_image_id == first.images["us-east-1"]
    assert "RunInstances" not in recorder.operations()
    assert any("--force" in e.message for e in events)

    forced, _ = _build(spec_dir, clock, force=True)
    assert not forced.skipped and forced.images["us-east-1"] != first.images["us-east-1"]

    # A new version is a different spec hash: it builds without --force.
    loaded = load_spec(spec_dir).with_overrides(version="7.6.0")
    result = build(loaded, BuildOptions(manifest_path=spec_dir / "m2.json"), ClientFactory(), clock=clock)
    assert not result.skipped


class _Fault:
    """Wraps a step: runs it, then fails, so the step's own resources exist when cleanup starts."""

    def __init__(self, step: Any, error: BaseException) -> None:
        self.step, self.error, self.name = step, error, step.name

    def run(self, state: BuildState) -> None:
        self.step.run(state)
        raise self.error

    def cleanup(self, state: BuildState) -> None:
        self.step.cleanup(state)


def _steps_with_fault(step_name: str, error: BaseException) -> list[Any]:
    return [_Fault(s, error) if s.name == step_name else s for s in build_steps()]


@pytest.mark.parametrize("step_name", STEP_NAMES)
def test_a_fault_at_any_step_leaves_nothing_behind(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock, step_name: str
) -> None:
    steps = _steps_with_fault(step_name, RuntimeError(f"injected at {step_name}"))
    with pytest.raises(AmiBuildError, match=rf"step {step_name} failed: injected at {step_name}"):
        build(
            load_spec(spec_dir),
            BuildOptions(manifest_path=spec_dir / "m.json"),
            ClientFactory(),
            clock=clock,
            steps=steps,
        )
    assert inventory(REGIONS) == before
    assert not (spec_dir / "m.json").exists()


def test_ctrl_c_during_the_parallel_copy_cleans_every_region(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    copies = 0

    def interrupt(**kwargs: Any) -> None:
        nonlocal copies
        copies += 1
        if copies == 2:
            # Raised in a copy worker thread, as if the user pressed Ctrl-C while copies were in flight.
            raise KeyboardInterrupt

    clients = ClientFactory(event_hooks=[("after-call.ec2.CopyImage", interrupt)])
    with pytest.raises(KeyboardInterrupt):
        build(load_spec(spec_dir), BuildOptions(manifest_path=spec_dir / "m.json"), clients, clock=clock)
    assert inventory(REGIONS) == before


def test_ctrl_c_in_the_main_thread_cleans_up_and_re_raises(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    steps = _steps_with_fault("provision", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        build(load_spec(spec_dir), BuildOptions(), ClientFactory(), clock=clock, steps=steps)
    assert inventory(REGIONS) == before


def test_a_failing_script_fails_the_build_with_its_stderr(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    def fail_install(parsed: dict[str, Any], **kwargs: Any) -> None:
        # moto reports every command as a success; make the install script exit 3.
        if parsed.get("Status") == "Success" and "install" in parsed.get("Comment", ""):
            parsed.update(Status="Failed", ResponseCode=3, StandardErrorContent="line 1\ndnf: no network\n")

    clients = ClientFactory(event_hooks=[("after-call.ssm.GetCommandInvocation", fail_install)])
    with pytest.raises(AmiBuildError) as raised:
        build(load_spec(spec_dir), BuildOptions(), clients, clock=clock)
    assert str(raised.value).startswith(
        "step provision failed: install.sh ended Failed with exit code 3: line 1 | dnf: no network "
        "(full output: CloudWatch Logs group /sgarch/ami-builds, streams "
    )
    assert inventory(REGIONS) == before


def test_a_failed_region_copy_deletes_every_copy(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        if "eu-west-1" in params["url"]:
            raise RuntimeError("AMI quota exceeded")

    clients = ClientFactory(event_hooks=[("before-call.ec2.CopyImage", refuse)])
    with pytest.raises(
        AmiBuildError, match=r"step copy failed: 1 of 3 regions failed: eu-west-1: AMI quota exceeded"
    ):
        build(load_spec(spec_dir), BuildOptions(), clients, clock=clock)
    assert inventory(REGIONS) == before


def test_a_slow_image_times_out_without_wall_time_and_is_deleted(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    def pending(parsed: dict[str, Any], **kwargs: Any) -> None:
        for image in parsed.get("Images", []):
            if image["ImageId"] != BASE_AMI_ID:
                image["State"] = "pending"

    clients = ClientFactory(event_hooks=[("after-call.ec2.DescribeImages", pending)])
    started = time.monotonic()
    with pytest.raises(
        AmiBuildError, match=r"step wait-image failed: timed out after 3600 s waiting for ami-"
    ):
        build(load_spec(spec_dir), BuildOptions(), clients, clock=clock)
    assert time.monotonic() - started < 5
    assert clock.now >= 3600
    # Backoff: 5 s, then x1.5, capped at the spec's 30 s.
    assert clock.slept[:4] == [5.0, 7.5, 11.25, 16.875] and max(clock.slept) == 30.0
    assert inventory(REGIONS) == before


def test_bad_input_found_in_aws_is_a_config_error(
    before: dict[str, Any], spec_dir: Path, clock: FakeClock
) -> None:
    with pytest.raises(
        ConfigError, match=r"^--source-ami must be an x86_64 image \(got 'ami-0ffffffffffff0002'\)"
    ):
        build(
            load_spec(spec_dir),
            BuildOptions(source_ami="ami-0ffffffffffff0002"),
            ClientFactory(),
            clock=clock,
        )
    loaded = load_spec(spec_dir).with_overrides(copy_regions=("us-west-2", "eu-north-9"))
    with pytest.raises(
        ConfigError, match=r"^copy_regions must be regions enabled in this account \(got \['eu-north-9'\]\)"
    ):
        build(loaded, BuildOptions(), ClientFactory(), clock=clock)
    assert inventory(REGIONS) == before


def test_files_are_sent_in_one_command_before_the_first_provisioner(
    spec_dir: Path, clock: FakeClock, recorder: Recorder
) -> None:
    (spec_dir / "app.conf").write_text("port = 8080\n")
    (spec_dir / "conf").mkdir()
    (spec_dir / "conf" / "token.env").write_bytes(b"TOKEN=\x00\xffbinary\n")
    with (spec_dir / "ami.yaml").open("a") as spec:
        spec.write(
            "files:\n"
            "  - {source: app.conf, destination: /etc/sourcegraph/app.conf}\n"
            "  - {source: conf/token.env, destination: /etc/sourcegraph/private/token.env, mode: '600'}\n"
        )
    result, events = _build(spec_dir, clock, recorder)
    assert set(result.images) == set(REGIONS)

    sent = [c["Parameters"]["commands"] for c in recorder.of("SendCommand")]
    assert sent[0] == ["true"]  # the SSM ready check
    uploads = [c for c in sent if any(line.startswith("mv -f -T ") for line in c)]
    assert len(uploads) == 1  # two small files, one round trip
    (upload,) = uploads
    install_at = next(i for i, c in enumerate(sent) if "00-install.sh" in c[-1])
    assert sent.index(upload) == install_at - 1  # right before the first provisioner

    def payload(destination: str) -> bytes:
        end = upload.index(f'mv -f -T "$tmp" {destination}')
        close = max(i for i in range(end) if upload[i] == "SGARCH_FILE")
        start = max(i for i in range(close) if upload[i].startswith("base64 -d"))
        return base64.b64decode("".join(upload[start + 1 : close]))

    assert payload("/etc/sourcegraph/app.conf") == b"port = 8080\n"
    assert payload("/etc/sourcegraph/private/token.env") == b"TOKEN=\x00\xffbinary\n"
    assert 'chmod 0644 "$tmp"' in upload and 'chmod 0600 "$tmp"' in upload
    assert "mkdir -p /etc/sourcegraph/private" in upload
    copying = [
        e.message
        for e in events
        if e.step == "provision" and e.message.startswith("copying ") and "CloudWatch" not in e.message
    ]
    assert copying == [
        "copying app.conf to /etc/sourcegraph/app.conf (mode 0644)",
        "copying conf/token.env to /etc/sourcegraph/private/token.env (mode 0600)",
    ]
    manifest = json.loads((spec_dir / "manifest.json").read_text())
    assert manifest["spec_hash"] == load_spec(spec_dir).spec_hash
