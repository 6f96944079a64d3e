"""Faults at every AWS call that creates or changes something, generated from the builder's own call list.

For each call site (``CHANGE_CALLS``: the step and the call, declared by the step itself) a build fails at
that call, and another is interrupted (Ctrl-C) right after it. Each delete a cleanup makes fails once with a
500 and once with a throttle. SIGTERM and SIGHUP arrive after every step. Every case builds against a moto
server on 127.0.0.1 (``--endpoint-url``), reset before it; after every case the server holds nothing at all.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import boto3
import pytest
from ami_moto import BASE_AMI_ID, REGIONS, FakeClock, Recorder, empty, inventory
from botocore.exceptions import ClientError

from sgarch.ami import (
    CHANGE_CALLS,
    STEP_NAMES,
    BuildOptions,
    ClientFactory,
    Interrupted,
    build,
    build_steps,
    load_spec,
)
from sgarch.ami.cleanup import DELETE_CALLS
from sgarch.ami.runner import BuildEvent
from sgarch.cli.app import main
from sgarch.errors import AmiBuildError

_READ_ONLY = ("Describe", "Get", "List")


def _left(endpoint: str) -> dict[str, Any]:
    """What the server holds in every region the build touches."""
    return inventory(REGIONS, endpoint_url=endpoint)


def _assert_nothing_left(endpoint: str) -> None:
    found = _left(endpoint)
    assert empty(found), {
        f"{where} {kind}": ids for where, kinds in found.items() for kind, ids in kinds.items() if ids
    }


class _Steps:
    """An event sink that knows which step is running, so a hook can fault one call site only."""

    def __init__(self) -> None:
        self.running: str | None = None
        self.events: list[BuildEvent] = []

    def __call__(self, event: BuildEvent) -> None:
        self.events.append(event)
        if event.kind == "step-started":
            self.running = event.step
        elif event.kind in ("step-finished", "step-failed"):
            self.running = None


def _error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def _build(
    endpoint: str, spec_dir: Path, hooks: list[tuple[str, Any]], tracker: _Steps | None = None, **kwargs: Any
) -> Any:
    return build(
        load_spec(spec_dir),
        BuildOptions(manifest_path=spec_dir / "m.json"),
        ClientFactory(endpoint_url=endpoint, event_hooks=hooks),
        clock=FakeClock(),
        emit=tracker or _Steps(),
        **kwargs,
    )


def test_the_server_runs_with_our_moto_patches(endpoint: str) -> None:
    """``configured_moto``'s patches (our images, the missing SSM action) reach the server's threads."""
    ec2 = boto3.client("ec2", region_name="us-west-2", endpoint_url=endpoint)
    assert [i["ImageId"] for i in ec2.describe_images(ImageIds=[BASE_AMI_ID])["Images"]] == [BASE_AMI_ID]
    ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=endpoint)
    filters = [{"Key": "InstanceIds", "Values": ["i-0123456789abcdef0"]}]
    (info,) = ssm.describe_instance_information(Filters=filters)["InstanceInformationList"]
    assert info["PingStatus"] == "Online"
    _assert_nothing_left(endpoint)


def test_the_call_list_names_every_call_a_build_makes_that_changes_something(
    endpoint: str, spec_dir: Path
) -> None:
    recorder = Recorder()
    _build(endpoint, spec_dir, recorder.hooks)
    changing = {
        f"{service}.{name}" for service, name, _ in recorder.calls if not name.startswith(_READ_ONLY)
    } - set(DELETE_CALLS)
    assert changing == {call for _, call in CHANGE_CALLS}


def _ids(calls: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{step}-{call}" for step, call in calls]


@pytest.mark.parametrize(("step", "call"), CHANGE_CALLS, ids=_ids(CHANGE_CALLS))
def test_a_failed_call_leaves_nothing_behind(endpoint: str, spec_dir: Path, step: str, call: str) -> None:
    tracker, hits = _Steps(), []

    def fail(**_: Any) -> None:
        if tracker.running == step and not hits:
            hits.append(call)
            raise _error("UnauthorizedOperation", 403, call.split(".")[1])

    with pytest.raises(AmiBuildError, match=rf"^step {step} failed: .*UnauthorizedOperation"):
        _build(endpoint, spec_dir, [(f"before-call.{call}", fail)], tracker)
    assert hits == [call]
    _assert_nothing_left(endpoint)
    assert not (spec_dir / "m.json").exists()


@pytest.mark.parametrize(("step", "call"), CHANGE_CALLS, ids=_ids(CHANGE_CALLS))
def test_ctrl_c_right_after_a_call_leaves_nothing_behind(
    endpoint: str, spec_dir: Path, step: str, call: str
) -> None:
    tracker, hits = _Steps(), []

    def interrupt(**_: Any) -> None:
        if tracker.running == step and not hits:
            hits.append(call)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _build(endpoint, spec_dir, [(f"after-call.{call}", interrupt)], tracker)
    assert hits == [call]
    _assert_nothing_left(endpoint)
    assert not (spec_dir / "m.json").exists()


class _FailAt:
    """Runs a step, then fails: everything up to it exists when the cleanups start."""

    def __init__(self, step: Any) -> None:
        self.step, self.name = step, step.name

    def run(self, state: Any) -> None:
        self.step.run(state)
        raise RuntimeError(f"injected at {self.name}")

    def cleanup(self, state: Any) -> None:
        self.step.cleanup(state)


_TRANSIENT = {"500": ("InternalError", 500), "throttle": ("RequestLimitExceeded", 503)}


@pytest.mark.parametrize("answer", sorted(_TRANSIENT))
@pytest.mark.parametrize("call", DELETE_CALLS)
def test_the_first_delete_of_each_kind_failing_once_is_retried(
    endpoint: str, spec_dir: Path, call: str, answer: str
) -> None:
    # A volume kept after termination, so that the cleanup deletes a volume too.
    with (spec_dir / "ami.yaml").open("a") as spec:
        spec.write(
            "extra_volumes:\n  - {device_name: /dev/sdb, volume_size_gib: 10, delete_on_termination: false}\n"
        )
    code, status = _TRANSIENT[answer]
    if call.startswith("iam.") and answer == "throttle":
        code, status = "Throttling", 400
    calls: list[str] = []

    def flaky(**_: Any) -> None:
        calls.append(call)
        if len(calls) == 1:
            raise _error(code, status, call.split(".")[1])

    steps = [_FailAt(s) if s.name == "manifest" else s for s in build_steps()]
    with pytest.raises(AmiBuildError) as raised:
        _build(endpoint, spec_dir, [(f"before-call.{call}", flaky)], steps=steps)
    assert str(raised.value) == "step manifest failed: injected at manifest"  # nothing left to report
    assert len(calls) >= 2  # failed once, then retried
    _assert_nothing_left(endpoint)


def test_a_delete_that_keeps_failing_is_listed_with_the_command_and_the_rest_still_goes(
    endpoint: str, spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(**_: Any) -> None:
        raise _error("UnauthorizedOperation", 403, "DeleteSecurityGroup")

    steps = [_FailAt(s) if s.name == "share" else s for s in build_steps()]
    with pytest.raises(AmiBuildError) as raised:
        _build(endpoint, spec_dir, [("before-call.ec2.DeleteSecurityGroup", refuse)], steps=steps)
    message = str(raised.value)
    left = _left(endpoint)
    (group,) = left["us-east-1"]["security_groups"]
    assert message.startswith(
        f"step share failed: injected at share; left behind: security-group {group} (us-east-1)"
    )
    build_id = message.split("--build-id ")[1].split()[0]
    assert f"sgarch ami cleanup --build-id {build_id} --regions {','.join(REGIONS)}" in message
    # Every other cleanup ran: only the group is left.
    left["us-east-1"]["security_groups"] = []
    assert empty(left), left

    regions = ["--regions", ",".join(REGIONS), "--endpoint-url", endpoint]
    with pytest.raises(SystemExit) as exited:
        main(["ami", "cleanup", "--build-id", build_id, *regions, "--dry-run"])
    assert exited.value.code in (0, None)
    out = capsys.readouterr().out
    assert group in out and "dry run" in out
    assert _left(endpoint)["us-east-1"]["security_groups"] == [group]
    for _ in range(2):  # the second run finds nothing: safe to run twice
        with pytest.raises(SystemExit) as exited:
            main(["ami", "cleanup", "--build-id", build_id, *regions])
        assert exited.value.code in (0, None)
    assert f"nothing left by build {build_id}" in capsys.readouterr().out
    _assert_nothing_left(endpoint)


class _SignalAfter:
    """Runs a step, then sends this process a signal, as ``kill`` would."""

    def __init__(self, step: Any, signum: int) -> None:
        self.step, self.name, self.signum = step, step.name, signum

    def run(self, state: Any) -> None:
        self.step.run(state)
        os.kill(os.getpid(), self.signum)

    def cleanup(self, state: Any) -> None:
        self.step.cleanup(state)


@pytest.mark.parametrize("step_name", STEP_NAMES)
def test_sigterm_after_any_step_cleans_up_like_ctrl_c(endpoint: str, spec_dir: Path, step_name: str) -> None:
    steps = [_SignalAfter(s, signal.SIGTERM) if s.name == step_name else s for s in build_steps()]
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as raised:
        _build(endpoint, spec_dir, [], steps=steps)
    assert raised.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is the caller's again
    _assert_nothing_left(endpoint)
    assert not (spec_dir / "m.json").exists()


def test_sighup_cleans_up_too_and_a_signal_during_cleanup_does_not_stop_it(
    endpoint: str, spec_dir: Path
) -> None:
    steps = [_SignalAfter(s, signal.SIGHUP) if s.name == "copy" else s for s in build_steps()]

    def again(**_: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # while the cleanups deregister images

    tracker = _Steps()
    with pytest.raises(Interrupted, match="SIGHUP"):
        _build(endpoint, spec_dir, [("after-call.ec2.DeregisterImage", again)], tracker, steps=steps)
    _assert_nothing_left(endpoint)
    assert any(
        e.kind == "warning" and "SIGTERM received; finishing the cleanup first" in e.message
        for e in tracker.events
    )
