"""Running shell on the build instance through SSM Run Command, and the commands that carry scripts and files.

Scripts and files travel base64-encoded inside the command, so nothing else (an S3 bucket) is needed. Output
streams to CloudWatch Logs while a command runs (``CloudWatchOutputConfig``); GetCommandInvocation only
returns it once the command ends, and only the first 24,000 characters of stdout and 8,000 of stderr.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from sgarch.ami.aws import error_code
from sgarch.ami.runner import BuildEvent
from sgarch.ami.spec import BUILD_WORKDIR, INLINE_BUDGET_BYTES, MAX_FILE_BYTES, FileRef, ScriptRef
from sgarch.ami.steps.instance_profile import BUILD_LOG_GROUP
from sgarch.ami.steps.state import BuildState
from sgarch.errors import AmiBuildError, ConfigError

__all__ = [
    "TERMINAL_COMMAND",
    "copy_files",
    "file_commands",
    "run_command",
    "script_commands",
    "script_environment",
]

# A script travels base64-encoded like a file, so the same ceiling keeps its command within the budget.
_MAX_SCRIPT_BYTES = MAX_FILE_BYTES
_WORKDIR = BUILD_WORKDIR
# Opens every file command. umask 022: the parent directories mkdir -p creates get 0755, while existing ones
# keep their mode. The trap removes a half-written temporary file when a later line fails.
_FILE_PREAMBLE = ("set -eu", "umask 022", "tmp=", """trap 'rm -f "$tmp"' EXIT""")
# Ends the heredoc of a file's base64; "_" is not in the base64 alphabet, so no payload line can match it.
_FILE_EOF = "SGARCH_FILE"
#: "Cancelling" is not terminal: the invocation still ends Cancelled (or Success, if it finished first).
TERMINAL_COMMAND = {"Success", "Failed", "Cancelled", "TimedOut"}
# GetCommandInvocation returns only the first 24,000 characters of stdout and 8,000 of stderr.
_SSM_STDOUT_LIMIT = 24_000
_SUMMARY_LINES = 5


def run_command(state: BuildState, step: str, commands: list[str], what: str, timeout_seconds: int) -> str:
    """Run shell ``commands`` on the build instance through SSM; fail on a non-zero exit.

    Output streams to the CloudWatch Logs group :data:`BUILD_LOG_GROUP` while the command runs (printed
    for the user to follow); the part SSM returns is printed when it ends. A failure is summed up by the last
    lines of stderr, or of stdout when stderr is empty: where a script says why it stopped.
    """
    ssm = state.clients.client("ssm", state.loaded.spec.build_region)
    sent = ssm.send_command(
        InstanceIds=[state.instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=f"sgarch {state.build_id[:8]} {what}"[:100],
        # executionTimeout (AWS-RunShellScript, default 3600 s, at most 172800 s) kills a hung script;
        # TimeoutSeconds is only how long SSM tries to deliver the command.
        Parameters={"commands": commands, "executionTimeout": [str(min(timeout_seconds, 172_800))]},
        TimeoutSeconds=max(30, min(timeout_seconds, 2_592_000)),
        CloudWatchOutputConfig={"CloudWatchLogGroupName": BUILD_LOG_GROUP, "CloudWatchOutputEnabled": True},
    )
    command_id = sent["Command"]["CommandId"]
    state.emit(
        BuildEvent(
            "info",
            step,
            f"{what}: live output in CloudWatch Logs group {BUILD_LOG_GROUP}, streams "
            f"{command_id}/{state.instance_id}/*",
        )
    )
    printed = 0

    def finished() -> dict[str, Any] | None:
        nonlocal printed
        try:
            invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=state.instance_id)
        except ClientError as exc:
            if error_code(exc) == "InvocationDoesNotExist":
                return None
            raise
        output = invocation.get("StandardOutputContent", "")
        for line in output[printed:].splitlines():
            state.emit(BuildEvent("output", step, line))
        if printed < _SSM_STDOUT_LIMIT <= len(output):
            state.emit(
                BuildEvent(
                    "warning",
                    step,
                    f"{what}: SSM returns only the first {_SSM_STDOUT_LIMIT:,} characters of output; "
                    f"the rest is in CloudWatch Logs group {BUILD_LOG_GROUP} (the exit code still decides)",
                )
            )
        printed = max(printed, len(output))
        return invocation if invocation["Status"] in TERMINAL_COMMAND else None

    # TimeoutSeconds bounds the wait for delivery, executionTimeout the run itself; allow both.
    invocation: dict[str, Any] = state.wait(finished, what, 2 * timeout_seconds + 60)
    if invocation["Status"] != "Success":
        tail = _summary(invocation)
        raise AmiBuildError(
            f"{what} ended {invocation['Status']} with exit code {invocation.get('ResponseCode')}"
            + (f": {tail}" if tail else "")
            + f" (full output: CloudWatch Logs group {BUILD_LOG_GROUP}, streams {command_id}/{state.instance_id}/*)"
        )
    return str(invocation.get("StandardOutputContent", ""))


def _summary(invocation: dict[str, Any]) -> str:
    """The last lines of stderr, else of stdout: the end of a stream is where a script says why it failed."""
    for stream in ("StandardErrorContent", "StandardOutputContent"):
        lines = [line for line in str(invocation.get(stream, "")).strip().splitlines() if line.strip()]
        if lines:
            return " | ".join(lines[-_SUMMARY_LINES:])
    return ""


def script_commands(script: ScriptRef, index: int, environment: dict[str, str]) -> list[str]:
    """Shell lines that write ``script`` to the build instance, run it with ``environment`` and delete it.

    The script travels base64-encoded inside the command, so nothing else (an S3 bucket) is needed.
    """
    if len(script.content) > _MAX_SCRIPT_BYTES:
        raise ConfigError(
            script.ref, f"at most {_MAX_SCRIPT_BYTES:,} bytes", len(script.content), "split the script"
        )
    target = f"{_WORKDIR}/{index:02d}-{script.file_name}"
    encoded = base64.b64encode(script.content).decode()
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(environment.items()))
    return [
        "set -eu",
        f"install -d -m 0700 {_WORKDIR}",
        f"base64 -d > {target} <<'SGARCH_SCRIPT'",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        "SGARCH_SCRIPT",
        f"trap 'rm -f {target}' EXIT",
        f"env {env} bash {target}" + "".join(f" {shlex.quote(a)}" for a in script.args),
    ]


def copy_files(state: BuildState, step: str, files: tuple[FileRef, ...]) -> None:
    """Place ``files`` on the build instance in as few SSM commands as :func:`file_commands` packs them."""
    for file in files:
        state.emit(BuildEvent("info", step, f"copying {file.ref} to {file.destination} (mode {file.mode})"))
    batches = file_commands(files)
    for number, commands in enumerate(batches, start=1):
        what = f"copying files ({number} of {len(batches)})"
        run_command(state, step, commands, what, state.loaded.spec.timeouts.provision_seconds)


def file_commands(files: Sequence[FileRef], budget: int = INLINE_BUDGET_BYTES) -> list[list[str]]:
    """Shell lines of the SSM commands that place ``files``, in order, packed into as few commands as fit.

    A command takes files while its lines stay within ``budget`` characters, so ten small files cost one
    round trip instead of ten. A file that cannot share gets a command of its own; spec loading has already
    refused any whose base64 alone exceeds the budget, so no command outgrows the SendCommand limit.
    """
    batches: list[list[str]] = []
    used = 0
    for file in files:
        lines = _file_lines(file)
        cost = _size(lines)
        if not batches or used + cost > budget:
            batches.append(list(_FILE_PREAMBLE))
            used = _size(_FILE_PREAMBLE)
        batches[-1].extend(lines)
        used += cost
    return batches


def _size(lines: Sequence[str]) -> int:
    """Characters the lines take in a command, newlines included."""
    return sum(len(line) + 1 for line in lines)


def _file_lines(file: FileRef) -> list[str]:
    """Shell lines that replace ``file.destination`` atomically with ``file.content``, owned by root.

    The content is decoded into a temporary file in the destination's own directory (same file system, so
    ``mv`` is a rename): a reader sees the old file or the new one, never half of one, and never with the
    wrong mode. ``mktemp`` creates it 0600; ``chown`` goes before ``chmod`` because changing an owner clears
    set-id bits. ``mv -T`` fails rather than moving the file into a directory that has the destination's name.
    """
    directory, name = posixpath.split(file.destination)
    template = posixpath.join(directory, f".{name}.sgarch-XXXXXX")
    encoded = base64.b64encode(file.content).decode()
    return [
        f"mkdir -p {shlex.quote(directory)}",
        f"tmp=$(mktemp {shlex.quote(template)})",
        f"""base64 -d > "$tmp" <<'{_FILE_EOF}'""",
        *(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
        _FILE_EOF,
        'chown root:root "$tmp"',
        f'chmod {file.mode} "$tmp"',
        f'mv -f -T "$tmp" {shlex.quote(file.destination)}',
    ]


def script_environment(state: BuildState) -> dict[str, str]:
    """The environment of every script: the spec's, then the version and image variables sgarch sets."""
    spec = state.loaded.spec
    return {
        **spec.environment,
        "SOURCEGRAPH_VERSION": spec.sourcegraph_version,
        # The name install.sh of the single-node architecture reads when no --version is given.
        "SGARCH_SOURCEGRAPH_VERSION": spec.sourcegraph_version,
        "SGARCH_IMAGE_BUILD": "1",
        "SGARCH_IMAGE_NAME": spec.name,
    }
