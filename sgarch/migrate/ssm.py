"""Run a step script on a single node through SSM Run Command: no SSH, no inbound port.

Each step is one bash script (:mod:`sgarch.migrate.steps` writes them). It travels base64-encoded inside
an ``AWS-RunShellScript`` command, is decoded into a private temporary file on the host and run with bash;
the host answers with ``sgarch-result`` lines on stdout, the only output sgarch parses. SSM keeps the
first 24,000 characters of stdout, far more than the few result lines need.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sgarch.errors import BuildError
from sgarch.upgrade.aws import error_code, error_message, is_forbidden

__all__ = ["SsmHost", "parse_results", "wrap"]

#: SSM's own limit on one command's run time is 48 hours; a dump of a large database can take hours.
EXECUTION_TIMEOUT_SECONDS = 24 * 3600
_DONE = {"Success", "Cancelled", "TimedOut", "Failed"}


def wrap(script: str) -> list[str]:
    """The ``commands`` parameter that runs ``script`` with bash (AWS-RunShellScript runs sh)."""
    encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
    return [
        'f="$(mktemp)"',
        f"printf '%s' '{encoded}' | base64 -d >\"$f\"",
        'bash "$f"; rc=$?',
        'rm -f "$f"',
        "exit $rc",
    ]


def parse_results(stdout: str) -> dict[str, list[str]]:
    """``sgarch-result <name> <values...>`` lines -> {name: values}; later lines of a name win."""
    results: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "sgarch-result":
            results[parts[1]] = parts[2:]
    return results


@dataclass
class SsmHost:
    """One instance reached through SSM; :meth:`run` sends a step script and waits for its results."""

    ssm: Any
    instance_id: str
    poll_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, label: str, script: str) -> dict[str, list[str]]:
        """Run ``script`` on the instance; its result lines, or BuildError with the end of its stderr."""
        command_id = self.send(label, script)
        stdout = self.wait(label, command_id)
        return parse_results(stdout)

    def send(self, label: str, script: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.ssm.send_command(
                InstanceIds=[self.instance_id],
                DocumentName="AWS-RunShellScript",
                Comment=f"sgarch migrate: {label}"[:100],
                Parameters={
                    "commands": wrap(script),
                    "executionTimeout": [str(EXECUTION_TIMEOUT_SECONDS)],
                },
                TimeoutSeconds=600,
            )
        except (ClientError, BotoCoreError) as exc:
            if is_forbidden(exc):
                raise BuildError(
                    f"ssm:SendCommand to {self.instance_id} is forbidden ({error_code(exc)}): allow it for the caller"
                ) from None
            if error_code(exc) == "InvalidInstanceId":
                raise BuildError(
                    f"{self.instance_id} is not reachable through SSM (not running, or its agent is offline): "
                    "check `aws ssm describe-instance-information`"
                ) from None
            raise BuildError(f"ssm:SendCommand failed: {error_code(exc)}: {error_message(exc)}") from None
        return str(response["Command"]["CommandId"])

    def wait(self, label: str, command_id: str) -> str:
        """Poll until the command ends; its stdout on success, BuildError otherwise."""
        from botocore.exceptions import ClientError

        while True:
            try:
                result = self.ssm.get_command_invocation(CommandId=command_id, InstanceId=self.instance_id)
            except ClientError as exc:
                # The invocation appears a moment after SendCommand returns.
                if error_code(exc) == "InvocationDoesNotExist":
                    self.sleep(self.poll_seconds)
                    continue
                raise BuildError(f"ssm:GetCommandInvocation failed: {error_message(exc)}") from None
            status = result.get("Status")
            if status in _DONE:
                break
            self.sleep(self.poll_seconds)
        if status != "Success":
            tail = " | ".join(str(result.get("StandardErrorContent", "")).strip().splitlines()[-3:])
            raise BuildError(
                f"{label} failed on {self.instance_id} ({status}, command {command_id})"
                + (f": {tail}" if tail else "")
                + "; fix the cause and run the same command again, it resumes"
            )
        return str(result.get("StandardOutputContent", ""))
