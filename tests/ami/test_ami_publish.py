"""Marketplace publishing through the Catalog API, with botocore's Stubber (moto has no such backend)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from ami_moto import FakeClock
from botocore.stub import ANY, Stubber

from sgarch.ami import publish
from sgarch.errors import BuildError, ConfigError

ROLE = "arn:aws:iam::123456789012:role/MarketplaceAmiIngestion"
MANIFEST: dict[str, Any] = {
    "format": "sgarch-ami-manifest/1",
    "name": "sourcegraph-single-node",
    "sourcegraph_version": "7.5.4453",
    "build_region": "us-east-1",
    "images": {"us-east-1": "ami-0123456789abcdef0", "eu-west-1": "ami-0fedcba9876543210"},
    "marketplace": {
        "product_id": "prod-abc123xyz",
        "access_role_arn": ROLE,
        "recommended_instance_type": "m6a.2xlarge",
        "usage_instructions": "Attach a data volume.",
        "security_groups": [{"ip_protocol": "tcp", "from_port": 443, "to_port": 443}],
    },
}
EXPECTED_CHANGE = {
    "ChangeType": "AddDeliveryOptions",
    "Entity": {"Type": "AmiProduct@1.0", "Identifier": "prod-abc123xyz"},
    "DetailsDocument": {
        "Version": {"VersionTitle": "7.5.4453", "ReleaseNotes": "Sourcegraph 7.5.4453."},
        "DeliveryOptions": [
            {
                "Details": {
                    "AmiDeliveryOptionDetails": {
                        "AmiSource": {
                            "AmiId": "ami-0123456789abcdef0",
                            "AccessRoleArn": ROLE,
                            "UserName": "ec2-user",
                            "OperatingSystemName": "AMAZONLINUX",
                            "OperatingSystemVersion": "2023",
                            "ScanningPort": 22,
                        },
                        "UsageInstructions": "Attach a data volume.",
                        "RecommendedInstanceType": "m6a.2xlarge",
                        "SecurityGroups": [
                            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": ["0.0.0.0/0"]}
                        ],
                    }
                }
            }
        ],
    },
}


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("marketplace-catalog", region_name="us-east-1")


def _name(intent: str) -> str:
    return f"sgarch sourcegraph-single-node 7.5.4453 {intent.lower()}"


def _list(stub: Stubber, intent: str, *summaries: dict[str, Any]) -> None:
    stub.add_response(
        "list_change_sets",
        {"ChangeSetSummaryList": list(summaries)},
        {
            "Catalog": "AWSMarketplace",
            "FilterList": [{"Name": "ChangeSetName", "ValueList": [_name(intent)]}],
            "Sort": {"SortBy": "StartTime", "SortOrder": "DESCENDING"},
        },
    )


def _start(stub: Stubber, intent: str, change_set_id: str, token: Any = ANY) -> None:
    _list(stub, intent)
    stub.add_response(
        "start_change_set",
        {
            "ChangeSetId": change_set_id,
            "ChangeSetArn": f"arn:aws:aws-marketplace:us-east-1:123456789012:AWSMarketplace/ChangeSet/{change_set_id}",
        },
        {
            "Catalog": "AWSMarketplace",
            "ChangeSet": [EXPECTED_CHANGE],
            "Intent": intent,
            "ChangeSetName": _name(intent),
            "ClientRequestToken": token,
        },
    )


def _describe(stub: Stubber, change_set_id: str, status: str, **extra: Any) -> None:
    stub.add_response(
        "describe_change_set",
        {"ChangeSetId": change_set_id, "Status": status, **extra},
        {"Catalog": "AWSMarketplace", "ChangeSetId": change_set_id},
    )


def test_validates_then_applies_and_polls_until_done(catalog: Any) -> None:
    clock = FakeClock()
    with Stubber(catalog) as stub:
        _start(stub, "VALIDATE", "cs-validate1")
        _describe(stub, "cs-validate1", "PREPARING")
        _describe(stub, "cs-validate1", "SUCCEEDED")
        _start(stub, "APPLY", "cs-apply1")
        _describe(stub, "cs-apply1", "PREPARING")
        _describe(stub, "cs-apply1", "APPLYING")
        _describe(stub, "cs-apply1", "SUCCEEDED")
        result = publish(MANIFEST, client=catalog, clock=clock)
        stub.assert_no_pending_responses()
    assert (result.validate_change_set_id, result.apply_change_set_id, result.status) == (
        "cs-validate1",
        "cs-apply1",
        "SUCCEEDED",
    )
    assert clock.slept == [10.0, 10.0, 15.0]  # one wait in validate, two in apply, backing off


def test_a_failed_validation_is_reported_and_nothing_is_applied(catalog: Any) -> None:
    with Stubber(catalog) as stub:
        _start(stub, "VALIDATE", "cs-validate2")
        _describe(
            stub,
            "cs-validate2",
            "FAILED",
            FailureCode="CLIENT_ERROR",
            FailureDescription="The change set has errors.",
            ChangeSet=[
                {
                    "ChangeType": "AddDeliveryOptions",
                    "ErrorDetailList": [
                        {"ErrorCode": "INVALID_INPUT", "ErrorMessage": "AccessRoleArn cannot be assumed"}
                    ],
                }
            ],
        )
        with pytest.raises(BuildError) as raised:
            publish(MANIFEST, client=catalog, clock=FakeClock())
        stub.assert_no_pending_responses()
    assert str(raised.value) == (
        "Marketplace change set cs-validate2 (validate) FAILED: CLIENT_ERROR: The change set has errors. "
        "(INVALID_INPUT AccessRoleArn cannot be assumed)"
    )


def test_a_failed_apply_is_reported(catalog: Any) -> None:
    with Stubber(catalog) as stub:
        _start(stub, "VALIDATE", "cs-v3")
        _describe(stub, "cs-v3", "SUCCEEDED")
        _start(stub, "APPLY", "cs-a3")
        _describe(stub, "cs-a3", "FAILED", FailureCode="SERVER_FAULT", FailureDescription="Try again later.")
        with pytest.raises(
            BuildError,
            match=r"^Marketplace change set cs-a3 \(apply\) FAILED: SERVER_FAULT: Try again later\.$",
        ):
            publish(MANIFEST, client=catalog, clock=FakeClock())


@pytest.mark.parametrize(
    ("manifest", "kwargs", "message"),
    [
        (
            {**MANIFEST, "build_region": "eu-west-1"},
            {},
            "MANIFEST must be an image built in us-east-1 (got 'eu-west-1')",
        ),
        (
            MANIFEST,
            {"product_id": "abc"},
            "--product-id must be a Marketplace product id like prod-abc123 (got 'abc')",
        ),
        (MANIFEST, {"access_role_arn": "role/x"}, "--access-role-arn must be an IAM role ARN (got 'role/x')"),
        ({**MANIFEST, "marketplace": None}, {}, "--product-id must be set (got None)"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    catalog: Any, manifest: dict[str, Any], kwargs: dict[str, str], message: str
) -> None:
    with Stubber(catalog), pytest.raises(ConfigError) as raised:
        publish(manifest, client=catalog, clock=FakeClock(), **kwargs)
    assert str(raised.value).startswith(message)


def _tokens(catalog: Any, manifest: dict[str, Any]) -> list[str]:
    """The ClientRequestTokens one successful publish of ``manifest`` sends."""
    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["ClientRequestToken"])

    catalog.meta.events.register("before-parameter-build.marketplace-catalog.StartChangeSet", record)
    try:
        with Stubber(catalog) as stub:
            _start(stub, "VALIDATE", "cs-v")
            _describe(stub, "cs-v", "SUCCEEDED")
            _start(stub, "APPLY", "cs-a")
            _describe(stub, "cs-a", "SUCCEEDED")
            publish(manifest, client=catalog, clock=FakeClock())
    finally:
        catalog.meta.events.unregister("before-parameter-build.marketplace-catalog.StartChangeSet", record)
    return sent


def test_the_request_token_is_stable_for_a_manifest(catalog: Any) -> None:
    manifest = {**MANIFEST, "build_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}
    first, again = _tokens(catalog, manifest), _tokens(catalog, manifest)
    assert first == again and len(set(first)) == 2  # one per intent, the same on every run
    assert all(len(t) == 36 for t in first)  # within ClientRequestToken's 64 characters
    other = _tokens(catalog, {**manifest, "build_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"})
    assert set(other).isdisjoint(first)


def test_a_rerun_waits_for_the_running_change_set_instead_of_starting_another(catalog: Any) -> None:
    clock = FakeClock()
    running = {"ChangeSetId": "cs-a9", "ChangeSetName": _name("APPLY"), "Status": "APPLYING"}
    done = {"ChangeSetId": "cs-v9", "ChangeSetName": _name("VALIDATE"), "Status": "SUCCEEDED"}
    with Stubber(catalog) as stub:
        _list(stub, "VALIDATE", done)
        _describe(stub, "cs-v9", "SUCCEEDED")
        _list(stub, "APPLY", running)
        _describe(stub, "cs-a9", "APPLYING")
        _describe(stub, "cs-a9", "SUCCEEDED")
        result = publish(MANIFEST, client=catalog, clock=clock)
        stub.assert_no_pending_responses()  # no StartChangeSet at all
    assert (result.validate_change_set_id, result.apply_change_set_id) == ("cs-v9", "cs-a9")


def test_resource_in_use_attaches_to_our_change_set_or_says_what_to_do(catalog: Any) -> None:
    running = {"ChangeSetId": "cs-a7", "ChangeSetName": _name("APPLY"), "Status": "PREPARING"}
    with Stubber(catalog) as stub:
        _start(stub, "VALIDATE", "cs-v7")
        _describe(stub, "cs-v7", "SUCCEEDED")
        _list(stub, "APPLY")
        stub.add_client_error("start_change_set", "ResourceInUseException", "entity is in use", 409)
        _list(stub, "APPLY", running)
        _describe(stub, "cs-a7", "SUCCEEDED")
        result = publish(MANIFEST, client=catalog, clock=FakeClock())
    assert result.apply_change_set_id == "cs-a7"

    with Stubber(catalog) as stub:
        _list(
            stub,
            "VALIDATE",
            {"ChangeSetId": "cs-v7", "ChangeSetName": _name("VALIDATE"), "Status": "SUCCEEDED"},
        )
        _describe(stub, "cs-v7", "SUCCEEDED")
        _list(stub, "APPLY")
        stub.add_client_error("start_change_set", "ResourceInUseException", "entity is in use", 409)
        _list(stub, "APPLY")
        with pytest.raises(
            BuildError, match=r"^product prod-abc123xyz has another change set in progress; wait"
        ):
            publish(MANIFEST, client=catalog, clock=FakeClock())


def test_the_default_wait_outlasts_a_long_scan(catalog: Any) -> None:
    clock = FakeClock()
    with Stubber(catalog) as stub:
        _start(stub, "VALIDATE", "cs-v8")
        _describe(stub, "cs-v8", "SUCCEEDED")
        _start(stub, "APPLY", "cs-a8")
        for _ in range(200):  # 60 s apart once backed off: over three hours of scanning
            _describe(stub, "cs-a8", "APPLYING")
        _describe(stub, "cs-a8", "SUCCEEDED")
        publish(MANIFEST, client=catalog, clock=clock)
    assert clock.now > 3 * 3600
