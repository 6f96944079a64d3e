"""``sgarch ami publish``: add a built image as a new version of an AWS Marketplace AMI product.

The Marketplace Catalog API applies a change set asynchronously. We send the same change set twice: first
with ``Intent=VALIDATE``, which checks it without changing the listing, then with ``Intent=APPLY``. Each is
polled with ``DescribeChangeSet`` until it ends; a ``FAILED`` one is reported with its ``FailureCode``,
``FailureDescription`` and the per-change error list.

Publishing can be rerun safely. Change sets are found again by name (``ListChangeSets``): a running one is
waited for instead of starting another (which AWS refuses with ResourceInUseException while the scan runs),
and a succeeded one is not sent again. The ``ClientRequestToken`` is derived from the manifest and the number
of earlier failed attempts, so a retried request is the same request, and a new attempt after a failure is a
new one. The default wait is six hours: the AMI scan alone can take longer than an hour.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgarch.ami.aws import error_code
from sgarch.ami.runner import BuildEvent, Clock, EventSink, wait_until
from sgarch.ami.spec import MARKETPLACE_REGION, MarketplaceSpec
from sgarch.ami.steps.manifest import MANIFEST_FORMAT
from sgarch.errors import BuildError, ConfigError

__all__ = [
    "CATALOG",
    "DEFAULT_TIMEOUT_SECONDS",
    "PublishResult",
    "delivery_change",
    "load_manifest",
    "publish",
]

CATALOG = "AWSMarketplace"
ENTITY_TYPE = "AmiProduct@1.0"
_PRODUCT_ID = re.compile(r"^prod-[a-z0-9]+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ENDED = {"SUCCEEDED", "FAILED", "CANCELLED"}
_RUNNING = ["PREPARING", "APPLYING"]
#: Default wait for each change set: the AMI scan during APPLY can take hours.
DEFAULT_TIMEOUT_SECONDS = 6 * 3600
# Namespace of the change sets' ClientRequestToken (uuid5 of the manifest's identity).
_TOKEN_NAMESPACE = uuid.UUID("5d0b7a52-6f1e-4c1b-9a36-1d3c2e8f0a11")


@dataclass(frozen=True)
class PublishResult:
    """The two change sets, and how the applied one ended."""

    validate_change_set_id: str
    apply_change_set_id: str
    status: str


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read a manifest written by ``sgarch ami build``."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "MANIFEST", "an existing manifest file", str(path), "run sgarch ami build first"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError("MANIFEST", "a JSON manifest", str(path), f"it is not JSON ({exc.msg})") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise ConfigError(
            "MANIFEST", f"a {MANIFEST_FORMAT} manifest", str(path), "pass a file sgarch ami build wrote"
        )
    return document


def delivery_change(
    manifest: dict[str, Any], product_id: str, access_role_arn: str, settings: MarketplaceSpec
) -> dict[str, Any]:
    """The ``AddDeliveryOptions`` change that adds the manifest's us-east-1 image as a new product version."""
    if not _PRODUCT_ID.match(product_id):
        raise ConfigError(
            "--product-id", "a Marketplace product id like prod-abc123", product_id, "copy it from the portal"
        )
    if not _ROLE_ARN.match(access_role_arn):
        raise ConfigError(
            "--access-role-arn",
            "an IAM role ARN",
            access_role_arn,
            "give the role Marketplace assumes (trusting assets.marketplace.amazonaws.com)",
        )
    ami_id = manifest.get("images", {}).get(MARKETPLACE_REGION)
    if manifest.get("build_region") != MARKETPLACE_REGION or not ami_id:
        raise ConfigError(
            "MANIFEST",
            f"an image built in {MARKETPLACE_REGION}",
            manifest.get("build_region"),
            "Marketplace ingests from us-east-1 only; rebuild with build_region: us-east-1",
        )
    version = str(manifest["sourcegraph_version"])
    ami_source: dict[str, Any] = {
        "AmiId": ami_id,
        "AccessRoleArn": access_role_arn,
        "UserName": settings.user_name,
        "OperatingSystemName": settings.operating_system_name,
        "OperatingSystemVersion": settings.operating_system_version,
        "ScanningPort": settings.scanning_port,
    }
    details: dict[str, Any] = {
        "AmiSource": ami_source,
        "UsageInstructions": settings.usage_instructions,
        "RecommendedInstanceType": settings.recommended_instance_type,
        "SecurityGroups": [
            {
                "IpProtocol": rule.ip_protocol,
                "FromPort": rule.from_port,
                "ToPort": rule.to_port,
                "IpRanges": list(rule.ip_ranges),
            }
            for rule in settings.security_groups
        ],
    }
    return {
        "ChangeType": "AddDeliveryOptions",
        "Entity": {"Type": ENTITY_TYPE, "Identifier": product_id},
        "DetailsDocument": {
            "Version": {
                "VersionTitle": version,
                "ReleaseNotes": settings.release_notes.format(version=version),
            },
            "DeliveryOptions": [{"Details": {"AmiDeliveryOptionDetails": details}}],
        },
    }


def publish(
    manifest: dict[str, Any],
    *,
    client: Any,
    clock: Clock,
    product_id: str | None = None,
    access_role_arn: str | None = None,
    emit: EventSink | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    initial_delay_seconds: float = 10.0,
    max_delay_seconds: float = 60.0,
) -> PublishResult:
    """Validate, then apply, the change set adding the manifest's image; ``client`` is ``marketplace-catalog``.

    ``product_id`` and ``access_role_arn`` default to the manifest's Marketplace settings. Raises
    :class:`BuildError` when either change set fails or is cancelled.
    """
    settings = MarketplaceSpec.model_validate(manifest.get("marketplace") or {})
    product = product_id or settings.product_id
    role = access_role_arn or settings.access_role_arn
    if not product:
        raise ConfigError(
            "--product-id", "set", None, "pass --product-id or set marketplace.product_id in the spec"
        )
    if not role:
        raise ConfigError(
            "--access-role-arn",
            "set",
            None,
            "pass --access-role-arn or set marketplace.access_role_arn in the spec",
        )
    change = delivery_change(manifest, product, role, settings)
    sink: EventSink = emit or (lambda event: None)
    ids = {}
    for intent in ("VALIDATE", "APPLY"):
        step = intent.lower()
        name = f"sgarch {manifest['name']} {manifest['sourcegraph_version']} {step}"
        change_set_id = _change_set(client, manifest, product, change, intent, name, sink)
        ids[intent] = change_set_id

        def ended(change_set_id: str = change_set_id, step: str = step) -> dict[str, Any] | None:
            described: dict[str, Any] = client.describe_change_set(Catalog=CATALOG, ChangeSetId=change_set_id)
            sink(BuildEvent("info", step, f"change set {change_set_id}: {described['Status']}"))
            return described if described["Status"] in _ENDED else None

        described = wait_until(
            ended,
            what=f"Marketplace change set {change_set_id} ({step}); rerun publish to keep waiting for it",
            timeout_seconds=timeout_seconds,
            clock=clock,
            initial_delay_seconds=initial_delay_seconds,
            max_delay_seconds=max_delay_seconds,
        )
        if described["Status"] != "SUCCEEDED":
            raise BuildError(_failure(described, step))
    return PublishResult(ids["VALIDATE"], ids["APPLY"], "SUCCEEDED")


def _change_set(
    client: Any,
    manifest: dict[str, Any],
    product: str,
    change: dict[str, Any],
    intent: str,
    name: str,
    emit: EventSink,
) -> str:
    """The id of this manifest's ``intent`` change set: a running or succeeded one, else a new one."""
    step = intent.lower()
    earlier = _listed(client, name)
    for status in (_RUNNING, ["SUCCEEDED"]):
        found = [c for c in earlier if c["Status"] in status]
        if found:
            change_set_id: str = found[0]["ChangeSetId"]
            emit(
                BuildEvent(
                    "info", step, f"change set {change_set_id} ({found[0]['Status']}) from an earlier run"
                )
            )
            return change_set_id
    failed = sum(1 for c in earlier if c["Status"] in ("FAILED", "CANCELLED"))
    identity = (
        f"{manifest.get('build_id', '')}|{manifest['images'][MARKETPLACE_REGION]}|{product}|{intent}|{failed}"
    )
    try:
        started = client.start_change_set(
            Catalog=CATALOG,
            ChangeSet=[change],
            Intent=intent,
            ChangeSetName=name,
            ClientRequestToken=str(uuid.uuid5(_TOKEN_NAMESPACE, identity)),
        )
    except Exception as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        # Another change set holds the product; if it is ours (started a moment ago), wait for it.
        running = [c for c in _listed(client, name) if c["Status"] in _RUNNING]
        if not running:
            raise BuildError(
                f"product {product} has another change set in progress; wait for it to end (AWS Marketplace "
                "Management Portal, Requests) and run sgarch ami publish again"
            ) from None
        change_set_id = running[0]["ChangeSetId"]
        emit(BuildEvent("info", step, f"change set {change_set_id} is already running; waiting for it"))
        return change_set_id
    change_set_id = started["ChangeSetId"]
    emit(BuildEvent("info", step, f"change set {change_set_id} started"))
    return change_set_id


def _listed(client: Any, name: str) -> list[dict[str, Any]]:
    """Change sets named ``name``, newest first."""
    listed: list[dict[str, Any]] = client.list_change_sets(
        Catalog=CATALOG,
        FilterList=[{"Name": "ChangeSetName", "ValueList": [name]}],
        Sort={"SortBy": "StartTime", "SortOrder": "DESCENDING"},
    )["ChangeSetSummaryList"]
    return listed


def _failure(described: dict[str, Any], step: str) -> str:
    text = f"Marketplace change set {described.get('ChangeSetId')} ({step}) {described['Status']}"
    if described.get("FailureCode"):
        text += f": {described['FailureCode']}"
    if described.get("FailureDescription"):
        text += f": {described['FailureDescription']}"
    details = [
        f"{e.get('ErrorCode', '')} {e.get('ErrorMessage', '')}".strip()
        for change in described.get("ChangeSet", [])
        for e in change.get("ErrorDetailList", [])
    ]
    if details:
        text += f" ({'; '.join(details)})"
    return text
