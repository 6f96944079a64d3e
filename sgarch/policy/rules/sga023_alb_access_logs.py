"""SGA-023: Application load balancers write access logs and refuse deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from sgarch.policy._index import LOAD_BALANCERS, Resources, as_bool
from sgarch.policy._model import Rule, Severity, Violation

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
"""On EKS the AWS Load Balancer Controller creates the ALB from the chart's ingress, so the Helm release's
values are where its access logs and deletion protection are set."""
ATTRIBUTES_ANNOTATION = "alb.ingress.kubernetes.io/load-balancer-attributes"


def _release_values(inputs: dict[str, Any]) -> dict[str, Any]:
    """The values a Helm release hands the chart: its ``values`` map, then each values file on top."""
    merged: dict[str, Any] = dict(inputs.get("values") or {})
    for asset in inputs.get("valueYamlFiles") or []:
        text = getattr(asset, "text", None) or (asset.get("text") if isinstance(asset, dict) else None)
        try:
            loaded = yaml.safe_load(text) if isinstance(text, str) else None
        except yaml.YAMLError:
            continue
        if isinstance(loaded, dict):
            merged.update(loaded)
    return merged


def _alb_ingress_annotations(values: dict[str, Any]) -> dict[str, Any] | None:
    """The annotations of the chart's frontend ingress when the ALB controller serves it, else None."""
    ingress = (values.get("frontend") or {}).get("ingress") or {}
    if (
        not isinstance(ingress, dict)
        or ingress.get("enabled") is False
        or ingress.get("ingressClassName") != "alb"
    ):
        return None
    annotations = ingress.get("annotations") or {}
    return annotations if isinstance(annotations, dict) else {}


def _attributes(annotation: Any) -> dict[str, str]:
    pairs = (part.partition("=") for part in str(annotation or "").split(","))
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def _eks_ingresses(resources: Resources) -> Iterator[Violation]:
    for record in resources.of_type(HELM_RELEASE):
        annotations = _alb_ingress_annotations(_release_values(record.inputs))
        if annotations is None:
            continue
        attributes = _attributes(annotations.get(ATTRIBUTES_ANNOTATION))
        if attributes.get("access_logs.s3.enabled") != "true" or not attributes.get("access_logs.s3.bucket"):
            yield Violation(
                record, "the ingress's ALB writes no access logs, so who requested what is not recorded"
            )
        if attributes.get("deletion_protection.enabled") != "true":
            yield Violation(record, "the ingress's ALB has no deletion protection")


def check(resources: Resources) -> Iterator[Violation]:
    """Every ALB enables ``access_logs`` into a bucket and sets ``enable_deletion_protection``; on EKS, the
    chart's ALB ingress sets both through ``alb.ingress.kubernetes.io/load-balancer-attributes``."""
    for record in resources.of_type(*LOAD_BALANCERS):
        inputs = record.inputs
        if str(inputs.get("loadBalancerType") or "application") != "application":
            continue
        logs = inputs.get("accessLogs") or {}
        if not (isinstance(logs, dict) and logs.get("bucket") and as_bool(logs.get("enabled")) is not False):
            yield Violation(record, "access logs are off, so who requested what is not recorded")
        if as_bool(inputs.get("enableDeletionProtection")) is not True:
            yield Violation(record, "deletion protection is off")
    yield from _eks_ingresses(resources)


RULE = Rule(
    id="SGA-023",
    title="ALB access logs and deletion protection",
    severity=Severity.HIGH,
    applies_to=(*LOAD_BALANCERS, HELM_RELEASE),
    cause=(
        "An application load balancer does not write access logs to S3 (the stacks' alb_access_logs is "
        "false), or does not set enable_deletion_protection; on EKS, the chart's ALB ingress does not set "
        "access_logs.s3.enabled and deletion_protection.enabled in its load-balancer-attributes annotation."
    ),
    explanation=(
        "The ALB's access log is the only record of every request that reached Sourcegraph from outside, "
        "with client address, path, status and TLS details: what an incident review and an auditor ask for "
        "first. Deletion protection keeps a stray destroy or console click from taking the entry point down."
    ),
    fix=(
        "Set access_logs={'bucket': ..., 'enabled': True} on a bucket whose policy lets ELB log delivery "
        "write, and enable_deletion_protection=True; on EKS, alb_access_logs and alb_deletion_protection "
        "(SourcegraphReleaseArgs). All are the stacks' defaults."
    ),
    check=check,
)
