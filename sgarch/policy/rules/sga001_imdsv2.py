"""SGA-001: instances and launch templates require IMDSv2."""

from __future__ import annotations

from collections.abc import Iterator

from sgarch.policy._index import Resources
from sgarch.policy._model import Rule, Severity, Violation

_TYPES = ("aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate")


def check(resources: Resources) -> Iterator[Violation]:
    """Every instance and launch template sets ``metadata_options.http_tokens="required"``."""
    for record in resources.of_type(*_TYPES):
        tokens = (record.inputs.get("metadataOptions") or {}).get("httpTokens")
        if tokens != "required":
            shown = tokens if tokens is not None else "unset (the AMI's default, often optional)"
            yield Violation(record, f"instance metadata tokens are {shown}, so IMDSv1 stays reachable")


RULE = Rule(
    id="SGA-001",
    title="IMDSv2 required",
    severity=Severity.HIGH,
    applies_to=_TYPES,
    cause="An EC2 instance or launch template does not set metadata_options.http_tokens to required.",
    explanation=(
        "IMDSv1 answers any plain GET, so a server-side request forgery in any container on the host can read "
        "the instance role's credentials. IMDSv2 needs a session token obtained with a PUT, which such "
        "requests cannot send; with a hop limit of 1, containers cannot reach it at all."
    ),
    fix="Set metadata_options=InstanceMetadataOptionsArgs(http_tokens='required', http_put_response_hop_limit=1).",
    check=check,
)
